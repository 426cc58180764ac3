"""Training engine: optimizer/schedule, devices, checkpoints, logging, validation.

>>> from ssap_gluon.training import SSAPTrainer
>>> SSAPTrainer(cfg, resume="auto").train()

See docs/TRAINING.md.
"""
from .trainer import SSAPTrainer

__all__ = ["SSAPTrainer"]
