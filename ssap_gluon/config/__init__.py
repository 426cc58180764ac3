"""Configuration: yacs defaults + YAML files (with ``_BASE_``) + ``--opts``.

>>> cfg = load_config("configs/r101.yaml", ["SOLVER.MAX_ITER", "100"])
>>> get_value(cfg, "SOLVER.BASE_LR")

Every key has a valid range or set (``RULES``, checked at load together with
the relations between keys); every error names the key, the file that set it
and what was expected. No mxnet here.
"""
from .defaults import BACKBONES, CHOICES, RULES, get_default_config
from .loader import (ConfigError, config_problems, config_to_dict, get_value, leaf_keys,
                     load_config, merge_opts, ranges_markdown)
from .rules import check_strides, parse_device_spec, stride_problem

__all__ = ["BACKBONES", "CHOICES", "ConfigError", "RULES", "check_strides", "config_problems",
           "config_to_dict", "get_default_config", "get_value", "leaf_keys", "load_config",
           "merge_opts", "parse_device_spec", "ranges_markdown", "stride_problem"]
