"""Load, merge and validate configs.

yacs already refuses unknown keys; this module adds what a user needs on top:
the file name in every message, ``_BASE_`` inheritance (so each ablation YAML
states only what differs from the paper setting), int -> float promotion
(``BASE_LR: 1`` is fine, ``STRIDES: [4.5]`` is not), element types inside
lists, allowed values of enumerated keys, and cross-key checks.
"""
import ast
import os

import yaml
from yacs.config import CfgNode

from .defaults import CHOICES, get_default_config

BASE_KEY = "_BASE_"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names key and source."""


def _type_name(value):
    return type(value).__name__


def _coerce(key, value, default, source):
    """Return ``value`` converted to the type of ``default`` or raise ConfigError."""
    where = " (in %s)" % source if source else ""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            if not default:  # an empty default list accepts any element type
                return list(value)
            proto = default[0]
            out = []
            for i, item in enumerate(value):
                out.append(_coerce("%s[%d]" % (key, i), item, proto, source))
            return out
    elif default is None:
        return value
    raise ConfigError(
        "config key %s%s: expected %s (like the default %r), got %s %r"
        % (key, where, _type_name(default), default, _type_name(value), value))


def _merge_dict(cfg, data, source, prefix=""):
    if not isinstance(data, dict):
        raise ConfigError("%s: expected a mapping of config keys, got %s"
                          % (source or "config", _type_name(data)))
    for k, v in data.items():
        key = prefix + str(k)
        if k not in cfg:
            raise ConfigError("unknown config key %s%s" % (
                key, " (in %s)" % source if source else ""))
        if isinstance(cfg[k], CfgNode):
            if not isinstance(v, dict):
                raise ConfigError("config key %s%s is a section; expected a mapping, got %r"
                                  % (key, " (in %s)" % source if source else "", v))
            _merge_dict(cfg[k], v, source, key + ".")
        else:
            cfg[k] = _coerce(key, v, cfg[k], source)


def _read_yaml(path, chain=()):
    path = os.path.abspath(path)
    if path in chain:
        raise ConfigError("%s: _BASE_ cycle: %s" % (path, " -> ".join(chain + (path,))))
    if not os.path.isfile(path):
        raise ConfigError("config file not found: %s" % path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConfigError("%s: not valid YAML: %s" % (path, e)) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError("%s: expected a mapping of config keys at the top level, got %s"
                          % (path, _type_name(data)))
    layers = []
    base = data.pop(BASE_KEY, None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError("%s: _BASE_ must be a path string, got %r" % (path, base))
        base_path = base if os.path.isabs(base) else os.path.join(os.path.dirname(path), base)
        layers.extend(_read_yaml(base_path, chain + (path,)))
    layers.append((path, data))
    return layers


def _parse_opt_value(text):
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word is a string


def merge_opts(cfg, opts):
    """Merge ``[KEY, VALUE, KEY, VALUE, ...]`` (command-line ``--opts``) into cfg."""
    opts = list(opts or [])
    if len(opts) % 2:
        raise ConfigError("--opts needs KEY VALUE pairs; got an odd number of items: %r" % opts)
    for key, text in zip(opts[0::2], opts[1::2]):
        node = cfg
        parts = key.split(".")
        for i, part in enumerate(parts):
            if part not in node:
                raise ConfigError("unknown config key %s (from --opts)" % key)
            if i < len(parts) - 1:
                node = node[part]
                if not isinstance(node, CfgNode):
                    raise ConfigError("unknown config key %s (from --opts)" % key)
        if isinstance(node[parts[-1]], CfgNode):
            raise ConfigError("config key %s (from --opts) is a section, not a value" % key)
        node[parts[-1]] = _coerce(key, _parse_opt_value(text), node[parts[-1]], "--opts")
    return cfg


def _get(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(cfg, source=""):
    """Check allowed values and relations between keys."""
    where = " (in %s)" % source if source else ""
    for key, allowed in CHOICES.items():
        value = _get(cfg, key)
        if value not in allowed:
            raise ConfigError("config key %s%s: %r is not one of %s"
                              % (key, where, value, ", ".join(map(repr, allowed))))
    n_levels = len(cfg.AFFINITY.STRIDES)
    for key in ("LOSS.LEVEL_WEIGHTS", "LOSS.SEMANTIC_LEVEL_WEIGHTS"):
        if len(_get(cfg, key)) != n_levels:
            raise ConfigError("config key %s%s: needs one weight per level of "
                              "AFFINITY.STRIDES (%d), got %d"
                              % (key, where, n_levels, len(_get(cfg, key))))
    strides = cfg.AFFINITY.STRIDES
    if any(s <= 0 or s & (s - 1) for s in strides) or sorted(strides) != list(strides):
        raise ConfigError("config key AFFINITY.STRIDES%s: expected increasing powers of "
                          "two, got %r" % (where, strides))
    for key in ("TEST.AFFINITY_STRIDES",):
        bad = [s for s in _get(cfg, key) if s not in strides]
        if bad:
            raise ConfigError("config key %s%s: strides %r are not levels of "
                              "AFFINITY.STRIDES %r" % (key, where, bad, strides))
    if cfg.TEST.CASCADE_INIT_STRIDE not in strides:
        raise ConfigError("config key TEST.CASCADE_INIT_STRIDE%s: %r is not a level of "
                          "AFFINITY.STRIDES %r" % (where, cfg.TEST.CASCADE_INIT_STRIDE, strides))
    for key, n in (("INPUT.CROP_SIZE", 2), ("INPUT.SCALE_RANGE", 2),
                   ("INPUT.MEAN", 3), ("INPUT.STD", 3)):
        if len(_get(cfg, key)) != n:
            raise ConfigError("config key %s%s: expected %d values, got %r"
                              % (key, where, n, list(_get(cfg, key))))
    lo, hi = cfg.INPUT.SCALE_RANGE
    if not 0 < lo <= hi:
        raise ConfigError("config key INPUT.SCALE_RANGE%s: expected 0 < min <= max, got %r"
                          % (where, [lo, hi]))
    if not 0.0 <= cfg.AFFINITY.DROP_ALL_ONE_PROB < 1.0:
        raise ConfigError("config key AFFINITY.DROP_ALL_ONE_PROB%s: expected a probability "
                          "in [0, 1), got %r" % (where, cfg.AFFINITY.DROP_ALL_ONE_PROB))
    if cfg.SOLVER.IMS_PER_BATCH <= 0 or cfg.SOLVER.MAX_ITER <= 0:
        raise ConfigError("config keys SOLVER.IMS_PER_BATCH and SOLVER.MAX_ITER%s must be "
                          "positive" % where)
    if list(cfg.SOLVER.STEPS) != sorted(cfg.SOLVER.STEPS):
        raise ConfigError("config key SOLVER.STEPS%s: expected increasing iterations, got %r"
                          % (where, list(cfg.SOLVER.STEPS)))
    return cfg


def load_config(path=None, opts=None, freeze=True):
    """Defaults <- YAML file (and its _BASE_ chain) <- opts; validated.

    Returns a frozen CfgNode unless ``freeze=False``.
    """
    cfg = get_default_config()
    source = ""
    if path:
        for layer_path, data in _read_yaml(path):
            _merge_dict(cfg, data, layer_path)
        source = os.path.abspath(path)
    merge_opts(cfg, opts)
    validate(cfg, source + (" + --opts" if opts else ""))
    if freeze:
        cfg.freeze()
    return cfg


def config_to_dict(cfg):
    """Plain nested dict (for checkpoints and JSON logs)."""
    out = {}
    for k, v in cfg.items():
        out[k] = config_to_dict(v) if isinstance(v, CfgNode) else (
            list(v) if isinstance(v, tuple) else v)
    return out
