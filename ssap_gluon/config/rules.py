"""Valid values of config keys: the rule kinds, the device syntax, the stride rules.

Every key of ``defaults.py`` has one rule in ``defaults.RULES``; rules that
relate several keys are in :data:`RELATIONS`. :func:`ssap_gluon.config.load_config`
checks all of them and lists every problem with the key, the file that set it
and the expected range. Nothing here imports mxnet: the config package is
loaded by processes that never train (the SynthCity generator's workers, the
evaluation scripts).
"""
import math
import re

__all__ = ["Backbone", "Bool", "Devices", "Float", "Int", "ListOf", "OneOf", "Template", "Text",
           "RELATIONS", "Strides", "check_strides", "parse_device_spec", "stride_problem"]


def _num(x):
    if isinstance(x, float):
        return "%g" % x
    return str(x)


class Rule:
    """``problem(value)``: ``None`` when ``value`` is valid, else a phrase that
    follows the value in an error message ("is out of range: expected ...").
    ``describe()``: the valid range in words (docs/TRAINING.md, error messages)."""

    def problem(self, value):
        raise NotImplementedError

    def describe(self):
        raise NotImplementedError

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, self.describe())


class _Interval(Rule):
    kind = "number"

    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False, note=""):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.note = note

    def range_text(self):
        lo, hi = self.lo, self.hi
        if lo is None and hi is None:
            return ""
        if hi is None:
            return "%s %s" % (">" if self.lo_open else ">=", _num(lo))
        if lo is None:
            return "%s %s" % ("<" if self.hi_open else "<=", _num(hi))
        return "in %s%s, %s%s" % ("(" if self.lo_open else "[", _num(lo), _num(hi),
                                  ")" if self.hi_open else "]")

    def describe(self):
        text = "%s %s" % (self.article, self.range_text()) if self.range_text() else \
            self.article
        return text + (" (%s)" % self.note if self.note else "")

    def contains(self, value):
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return False
        return True

    def problem(self, value):
        if isinstance(value, float) and not math.isfinite(value):
            return "is not a finite number: expected %s" % self.describe()
        if not self.contains(value):
            return "is out of range: expected %s" % self.describe()
        return None


class Float(_Interval):
    """A finite float in an interval (NaN and infinities are always refused)."""
    article = "a number"


class Int(_Interval):
    """An integer in an interval."""
    article = "an integer"


class OneOf(Rule):
    """One of a fixed set of values."""

    def __init__(self, values, note=""):
        self.values = tuple(values)
        self.note = note

    def describe(self):
        return "one of %s%s" % (", ".join(repr(v) for v in self.values),
                                " (%s)" % self.note if self.note else "")

    def problem(self, value):
        return None if value in self.values else "is not %s" % self.describe()


class Backbone(OneOf):
    """A gluoncv model-zoo name of a ResNetV1b that ResNetBackbone can build."""

    def problem(self, value):
        if value in self.values:
            return None
        return ("is not a gluoncv model SSAP can build: SSAP needs a ResNetV1b family "
                "backbone, one of %s" % ", ".join(self.values))


class Bool(Rule):
    def describe(self):
        return "True or False"

    def problem(self, value):
        return None


class Text(Rule):
    """A string; ``empty_ok=False`` refuses "" (and blanks)."""

    def __init__(self, doc="any string", empty_ok=True):
        self.doc, self.empty_ok = doc, empty_ok

    def describe(self):
        return self.doc

    def problem(self, value):
        if not self.empty_ok and not value.strip():
            return "is empty: expected %s" % self.doc
        return None


class Template(Text):
    """A non-empty path pattern whose only ``{...}`` fields are ``fields``."""

    def __init__(self, fields, doc):
        super().__init__(doc, empty_ok=False)
        self.fields = tuple(fields)

    def problem(self, value):
        why = super().problem(value)
        if why:
            return why
        try:
            value.format(**{f: "x" for f in self.fields})
        except (KeyError, IndexError, ValueError) as e:
            return "is not a valid pattern (%s: %s): expected %s; the only field allowed " \
                "is %s" % (type(e).__name__, e, self.doc,
                           ", ".join("{%s}" % f for f in self.fields))
        return None


class ListOf(Rule):
    """A list whose items follow ``item``; optional exact ``length``, minimum
    length and strictly increasing order."""

    def __init__(self, item, length=None, min_length=0, increasing=False, note=""):
        self.item, self.length, self.min_length = item, length, min_length
        self.increasing, self.note = increasing, note

    def describe(self):
        if self.length is not None:
            head = "%d values" % self.length
        elif self.min_length:
            head = "a list of at least %d value%s" % (self.min_length,
                                                     "" if self.min_length == 1 else "s")
        else:
            head = "a list (may be empty)"
        text = "%s, each %s" % (head, self.item.describe())
        if self.increasing:
            text += ", strictly increasing"
        return text + (" (%s)" % self.note if self.note else "")

    def problem(self, value):
        value = list(value)
        if (self.length is not None and len(value) != self.length) or \
                len(value) < self.min_length:
            return "has %d value(s): expected %s" % (len(value), self.describe())
        for i, item in enumerate(value):
            why = self.item.problem(item)
            if why:
                return "is invalid: item [%d] = %r %s" % (i, item, why)
        if self.increasing and any(b <= a for a, b in zip(value, value[1:])):
            return "is not strictly increasing: expected %s" % self.describe()
        return None


# ---------------------------------------------------------------------------
# TRAIN.DEVICES
# ---------------------------------------------------------------------------
_DEVICE_RE = re.compile(r"^(cpu|gpu)(?::(.*))?$")


def parse_device_spec(spec):
    """``"cpu"`` -> ``("cpu", [0])``; ``"cpu:N"`` -> ``("cpu", [0..N-1])`` (N CPU
    contexts); ``"gpu"`` -> ``("gpu", [0])``; ``"gpu:0,1"`` -> ``("gpu", [0, 1])``.

    The syntax only (no mxnet): whether the GPUs exist is checked by
    ``ssap_gluon.training.devices.parse_devices``. Raises ConfigError.
    """
    from .loader import ConfigError

    text = str(spec).strip().lower().replace(" ", "")
    match = _DEVICE_RE.match(text)
    if not match:
        raise ConfigError("config key TRAIN.DEVICES: %r is not 'cpu', 'cpu:N' or "
                          "'gpu:I,J,...'" % (spec,))
    kind, rest = match.group(1), match.group(2)
    if kind == "cpu":
        if rest in (None, ""):
            return "cpu", [0]
        if not rest.isdigit() or int(rest) < 1:
            raise ConfigError("config key TRAIN.DEVICES: %r: 'cpu:N' needs a positive number "
                              "of CPU contexts" % (spec,))
        return "cpu", list(range(int(rest)))
    if rest in (None, ""):
        return "gpu", [0]
    ids = []
    for part in rest.split(","):
        if not part.isdigit():
            raise ConfigError("config key TRAIN.DEVICES: %r: GPU ids must be integers" % (spec,))
        ids.append(int(part))
    if len(set(ids)) != len(ids):
        raise ConfigError("config key TRAIN.DEVICES: %r lists a GPU twice" % (spec,))
    return "gpu", ids


class Devices(Rule):
    def describe(self):
        return ("'cpu', 'cpu:N' (N CPU contexts sharing the host's cores), 'gpu' or "
                "'gpu:I,J,...' (GPU ids; they must exist when the run starts)")

    def problem(self, value):
        from .loader import ConfigError

        try:
            parse_device_spec(value)
        except ConfigError as e:
            return "is not a device list (%s): expected %s" % (
                str(e).split(": ", 2)[-1], self.describe())
        return None


# ---------------------------------------------------------------------------
# Strides: the one place that says what a pyramid's strides may be
# ---------------------------------------------------------------------------
#: The finest level the network can produce (res2, stride 4).
MIN_STRIDE = 4


def stride_problem(strides):
    """``None`` if ``strides`` are valid pyramid levels -- a non-empty, strictly
    increasing list of powers of two >= 4 (res2 is the finest backbone stage;
    levels coarser than res5 are extra stride-2 blocks) -- else what is wrong."""
    strides = list(strides)
    if not strides:
        return "expected at least one level"
    bad = [s for s in strides if s < MIN_STRIDE or s & (s - 1)]
    if bad:
        return "expected powers of two >= %d, got %r" % (MIN_STRIDE, bad)
    if any(b <= a for a, b in zip(strides, strides[1:])):
        return "expected strictly increasing strides, got %r" % strides
    return None


class Strides(Rule):
    """Pyramid levels: see :func:`stride_problem`."""

    def __init__(self, note=""):
        self.note = note

    def describe(self):
        return ("a non-empty list of strictly increasing powers of two >= %d%s"
                % (MIN_STRIDE, " (%s)" % self.note if self.note else ""))

    def problem(self, value):
        why = stride_problem(value)
        return "is invalid (%s): expected %s" % (why, self.describe()) if why else None


def check_strides(strides, key="AFFINITY.STRIDES"):
    """Raise ConfigError unless :func:`stride_problem` accepts ``strides``."""
    from .loader import ConfigError

    why = stride_problem(strides)
    if why:
        raise ConfigError("config key %s: %r: %s (increasing powers of two >= %d)"
                          % (key, list(strides), why, MIN_STRIDE))
    return [int(s) for s in strides]


# ---------------------------------------------------------------------------
# Relations between keys: (keys, function(cfg) -> list of problems)
# ---------------------------------------------------------------------------
def _level_weights(cfg):
    n = len(cfg.AFFINITY.STRIDES)
    out = []
    for key in ("LOSS.LEVEL_WEIGHTS", "LOSS.SEMANTIC_LEVEL_WEIGHTS"):
        section, name = key.split(".")
        got = len(cfg[section][name])
        if got != n:
            out.append("%s needs one weight per level of AFFINITY.STRIDES (%d), got %d"
                       % (key, n, got))
    return out


def _test_strides(cfg):
    strides = list(cfg.AFFINITY.STRIDES)
    used = list(cfg.TEST.AFFINITY_STRIDES)
    out = []
    bad = [s for s in used if s not in strides]
    if bad:
        out.append("TEST.AFFINITY_STRIDES: strides %r are not levels of AFFINITY.STRIDES %r"
                   % (bad, strides))
    elif strides and strides[0] not in used:
        out.append("TEST.AFFINITY_STRIDES %r must include the finest level %d of "
                   "AFFINITY.STRIDES: instances are made there" % (used, strides[0]))
    return out


def _cascade_init(cfg):
    if cfg.TEST.CASCADE_INIT_STRIDE not in cfg.AFFINITY.STRIDES:
        return ["TEST.CASCADE_INIT_STRIDE: %r is not a level of AFFINITY.STRIDES %r"
                % (cfg.TEST.CASCADE_INIT_STRIDE, list(cfg.AFFINITY.STRIDES))]
    return []


def _crop_size(cfg):
    coarsest = max(cfg.AFFINITY.STRIDES)
    if any(s % coarsest for s in cfg.INPUT.CROP_SIZE):
        return ["INPUT.CROP_SIZE %r must be multiples of %d (the coarsest level of "
                "AFFINITY.STRIDES)" % (list(cfg.INPUT.CROP_SIZE), coarsest)]
    return []


def _size_divisor(cfg):
    coarsest = max(cfg.AFFINITY.STRIDES)
    d = cfg.INPUT.SIZE_DIVISOR
    if d > 1 and d % coarsest:
        return ["INPUT.SIZE_DIVISOR %d must be a multiple of %d (the coarsest level of "
                "AFFINITY.STRIDES: every level of the pyramid must exist for the padded "
                "image), or 0 for no padding" % (d, coarsest)]
    return []


def _scale_range(cfg):
    lo, hi = cfg.INPUT.SCALE_RANGE
    return [] if lo <= hi else ["INPUT.SCALE_RANGE: expected [min, max] with min <= max, "
                                "got %r" % [lo, hi]]


def _tasks_window(cfg):
    tasks, window = cfg.MODEL.TASKS, cfg.AFFINITY.WINDOW
    if tasks == "semantic" and window:
        return ["MODEL.TASKS semantic trains no affinities: set AFFINITY.WINDOW 0 "
                "(Table 2 r = 0), got %d" % window]
    if tasks != "semantic" and not window:
        return ["AFFINITY.WINDOW 0 trains no affinities: MODEL.TASKS %s needs an odd window "
                "r >= 3 (0 means semantic-only: set MODEL.TASKS semantic)" % tasks]
    return []


def _dilated(cfg):
    if cfg.MODEL.DILATED and cfg.MODEL.AFFINITY_FEATURE != "single":
        return ["MODEL.DILATED needs MODEL.AFFINITY_FEATURE single: a dilated backbone has "
                "no 1/16 and 1/32 levels for the hierarchical pyramid (Table 3 uses dilation "
                "only with the single feature)"]
    return []


def _ignore_label(cfg):
    ignore, n = cfg.INPUT.IGNORE_LABEL, cfg.MODEL.NUM_CLASSES
    if ignore < n:
        return ["INPUT.IGNORE_LABEL %d is a class index (MODEL.NUM_CLASSES %d); use a value "
                "in %d..255, e.g. 255" % (ignore, n, n)]
    return []


#: (keys involved, check). A check runs only when each of its keys passed its own rule.
RELATIONS = (
    (("AFFINITY.STRIDES", "LOSS.LEVEL_WEIGHTS", "LOSS.SEMANTIC_LEVEL_WEIGHTS"),
     _level_weights),
    (("AFFINITY.STRIDES", "TEST.AFFINITY_STRIDES"), _test_strides),
    (("AFFINITY.STRIDES", "TEST.CASCADE_INIT_STRIDE"), _cascade_init),
    (("AFFINITY.STRIDES", "INPUT.CROP_SIZE"), _crop_size),
    (("AFFINITY.STRIDES", "INPUT.SIZE_DIVISOR"), _size_divisor),
    (("INPUT.SCALE_RANGE",), _scale_range),
    (("MODEL.TASKS", "AFFINITY.WINDOW"), _tasks_window),
    (("MODEL.DILATED", "MODEL.AFFINITY_FEATURE"), _dilated),
    (("INPUT.IGNORE_LABEL", "MODEL.NUM_CLASSES"), _ignore_label),
)
