"""Load, merge and validate configs.

yacs already refuses unknown keys; this module adds what a user needs on top:
the file name in every message, ``_BASE_`` inheritance (so each ablation YAML
states only what differs from the paper setting), int -> float promotion
(``BASE_LR: 1`` is fine, ``STRIDES: [4.5]`` is not), number literals that
PyYAML reads as strings for float keys (``BASE_LR: 1e-3``), element types
inside lists, the valid range of every key (``defaults.RULES``) and the
relations between keys (``rules.RELATIONS``). Every problem of a config is
reported at once, each with its key, the file (or ``--opts``) that set it and
what was expected.
"""
import ast
import os
import re

import yaml
from yacs.config import CfgNode

from .defaults import RULES, get_default_config
from .rules import RELATIONS

BASE_KEY = "_BASE_"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names key and source.

    ``problems``: the individual problems (one line each) when several were found.
    """

    def __init__(self, message, problems=None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


def _type_name(value):
    return type(value).__name__


# A decimal number literal: PyYAML (YAML 1.1) reads "1e-3" (no dot) as a string.
# NaN and infinities are parsed too, to be refused with the range check's message.
_FLOAT_LITERAL = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|\.?(nan|inf|infinity))$",
                            re.IGNORECASE)


def _coerce(key, value, default, source):
    """Return ``value`` converted to the type of ``default`` or raise ConfigError."""
    where = " (in %s)" % source if source else ""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_LITERAL.match(value.strip()):
            # YAML's ".nan" / ".inf" are Python's "nan" / "inf"
            return float(re.sub(r"^([+-]?)\.(?=[a-zA-Z])", r"\1", value.strip()))
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


def _merge_dict(cfg, data, source, prefix="", origins=None):
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
            _merge_dict(cfg[k], v, source, key + ".", origins)
        else:
            cfg[k] = _coerce(key, v, cfg[k], source)
            if origins is not None:
                origins[key] = source


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


def merge_opts(cfg, opts, origins=None):
    """Merge ``[KEY, VALUE, KEY, VALUE, ...]`` (command-line ``--opts``) into cfg.

    ``origins`` (a dict), when given, records ``key -> "--opts"``."""
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
        if origins is not None:
            origins[key] = "--opts"
    return cfg


def get_value(cfg, dotted):
    """The value of the dotted key ``"SECTION.KEY"`` of a config (KeyError if absent)."""
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def leaf_keys(cfg, prefix=""):
    """Every dotted key of ``cfg`` that holds a value (not a section), in order."""
    out = []
    for k, v in cfg.items():
        if isinstance(v, CfgNode):
            out.extend(leaf_keys(v, prefix + k + "."))
        else:
            out.append(prefix + k)
    return out


def _origin(origins, key, source):
    if origins is None:
        return source or ""
    return origins.get(key, "default")


def config_problems(cfg, source="", origins=None):
    """Every range and relation problem of ``cfg``: a list of one-line messages,
    each naming the key, where it was set and what was expected."""
    problems = []
    bad = set()
    for key in leaf_keys(cfg):
        rule = RULES.get(key)
        if rule is None:
            continue  # tests/test_config.py makes sure every key has a rule
        value = get_value(cfg, key)
        why = rule.problem(value)
        if why:
            bad.add(key)
            problems.append("config key %s: %r %s (%s)" % (
                key, list(value) if isinstance(value, (list, tuple)) else value, why,
                _where(_origin(origins, key, source))))
    for keys, check in RELATIONS:
        if bad.intersection(keys):
            continue
        for why in check(cfg):
            wheres = ["%s %s" % (k, _where(_origin(origins, k, source))) for k in keys]
            problems.append("config key%s %s: %s (%s)" % (
                "s" if len(keys) > 1 else "", ", ".join(keys), why, "; ".join(wheres)))
    return problems


def _where(origin):
    if origin in ("", "default"):
        return "default"
    return "from --opts" if origin == "--opts" else "in %s" % origin


def validate(cfg, source="", origins=None):
    """Check the valid range of every key and the relations between keys;
    raise one ConfigError listing every problem."""
    problems = config_problems(cfg, source, origins)
    if len(problems) == 1:
        raise ConfigError(problems[0], problems)
    if problems:
        raise ConfigError("%d config problems:\n  - %s" % (len(problems),
                                                           "\n  - ".join(problems)), problems)
    return cfg


def load_config(path=None, opts=None, freeze=True, overlays=()):
    """Defaults <- YAML file (and its _BASE_ chain) <- overlays <- opts; validated.

    ``overlays``: YAML files merged after the config and its bases, each with
    its own ``_BASE_`` chain (e.g. ``configs/synthcity_tables.yaml``, which puts a
    table row of the paper on the embedded default); errors name the file
    that set a key. Returns a frozen CfgNode unless ``freeze=False``.
    """
    cfg = get_default_config()
    origins = {}
    for one in ([path] if path else []) + list(overlays or ()):
        for layer_path, data in _read_yaml(one):
            _merge_dict(cfg, data, layer_path, origins=origins)
    merge_opts(cfg, opts, origins)
    validate(cfg, origins=origins)
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


def ranges_markdown():
    """The table of every key, its default and its valid range (docs/TRAINING.md)."""
    from .defaults import get_default_config as defaults

    cfg = defaults()
    lines = ["| key | default | valid |", "|---|---|---|"]
    for key in leaf_keys(cfg):
        value = get_value(cfg, key)
        shown = list(value) if isinstance(value, (list, tuple)) else value
        rule = RULES.get(key)
        valid = rule.describe() if rule else "(no rule)"
        lines.append("| `%s` | `%r` | %s |" % (key, shown, valid.replace("|", "\\|")))
    return "\n".join(lines) + "\n"
