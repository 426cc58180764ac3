"""Configuration: yacs defaults + YAML files (with ``_BASE_``) + ``--opts``.

>>> cfg = load_config("configs/r101.yaml", ["SOLVER.MAX_ITER", "100"])

Every error names the key (and the file) and says what was expected.
"""
from .defaults import CHOICES, get_default_config
from .loader import ConfigError, config_to_dict, load_config, merge_opts

__all__ = ["CHOICES", "ConfigError", "config_to_dict", "get_default_config",
           "load_config", "merge_opts"]
