"""Losses: focal loss (L_s), the average L2 affinity loss of Eq. 1 (L_a), Eq. 10.

>>> loss = SSAPLoss(cfg)
>>> total, terms = loss(net(images), build_targets(cfg, semantic, instance, things, rng))
"""
from .affinity import AffinityLoss
from .focal import FocalLoss
from .ssap_loss import SSAPLoss

__all__ = ["AffinityLoss", "FocalLoss", "SSAPLoss"]
