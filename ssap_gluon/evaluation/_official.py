"""Plumbing shared by the wrappers around cityscapesScripts' evaluators.

The official scripts are command-line programs: they configure themselves
through a module-level ``args`` object, print progress, write caches and
results next to the package or into the current directory, and end the
process with ``sys.exit`` on any problem. The wrappers call them as functions:

* every input is checked *before* the official code runs (the check names the
  file), so the official ``printError`` -> ``sys.exit`` is never reached on a
  bad prediction; should it be reached anyway, :func:`official_call` turns
  the ``SystemExit`` into :class:`CityscapesEvalError` with the official message;
* the process's working directory is never changed (other threads run while
  an evaluation does): where ``evaluateImgLists`` insists on writing into the
  cwd (``matches.json``), the wrappers call the official functions underneath
  it themselves; every path handed to the official code is absolute;
* the official progress output is captured for the calling thread only
  (:func:`official_call`); other threads keep printing to the real streams.
"""
import contextlib
import copy
import glob
import hashlib
import io
import os
import re
import sys
import threading

# Cityscapes file stems: <city>_<sequence:6 digits>_<frame:6 digits>; the
# official matchers split names on "_" and glob "<city>_<seq>_<frame>*".
STEM_RE = re.compile(r"^[A-Za-z0-9-]+_\d{6}_\d{6}$")
# A frame name the writers accept (Cityscapes stems, COCO "000000000139", ...):
# one plain file name without whitespace (the instance .txt format splits on
# spaces), path separators or a leading dot (temporary files start with one).
NAME_RE = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")


class EvaluationError(RuntimeError):
    """A prediction or ground truth cannot be evaluated; the message names the file."""


class CityscapesEvalError(EvaluationError):
    """An input of an official cityscapesScripts evaluator is missing or malformed."""


def check_name(name):
    """A frame name usable as a file name by every writer (see ``NAME_RE``)."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name in (".", ".."):
        raise ValueError("a frame name must be a plain file name of letters, digits and "
                         "'._+-' without spaces, path separators or a leading dot (e.g. "
                         "'frankfurt_000000_000294' or '000000000139'), got %r" % (name,))
    return name


def check_stem(image_stem):
    """A Cityscapes stem ``<city>_<seq:06d>_<frame:06d>`` (what the official matchers parse)."""
    if not isinstance(image_stem, str) or not STEM_RE.match(image_stem):
        raise ValueError("image_stem must look like '<city>_<seq:06d>_<frame:06d>' "
                         "(e.g. 'frankfurt_000000_000294'), got %r" % (image_stem,))
    return image_stem


def fresh_args(module):
    """A private copy of an evaluator module's global ``args`` (never mutate the original)."""
    args = copy.copy(module.args)
    args.predictionPath = None
    args.predictionWalk = None
    args.quiet = True
    args.colorized = False
    args.JSONOutput = False
    return args


# ---------------------------------------------------------------- output capture
class _Router:
    """Stands in for sys.stdout / sys.stderr while an official call runs: writes
    of a thread inside :func:`official_call` go to that call's buffer, every
    other thread's go to the real stream (every other attribute is the real
    stream's: fileno, encoding, ...)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        buffer = getattr(_local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self.stream.write(text)

    def flush(self):
        if getattr(_local, "buffer", None) is None:
            self.stream.flush()

    def isatty(self):
        return getattr(_local, "buffer", None) is None and self.stream.isatty()

    def __getattr__(self, name):
        return getattr(self.stream, name)


_local = threading.local()
_lock = threading.Lock()
_installed = {"count": 0, "stdout": None, "stderr": None}


def _install():
    with _lock:
        if _installed["count"] == 0:
            _installed["stdout"], _installed["stderr"] = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)
        _installed["count"] += 1


def _uninstall():
    with _lock:
        _installed["count"] -= 1
        if _installed["count"] == 0:
            # leave a stream someone else installed meanwhile alone
            if isinstance(sys.stdout, _Router):
                sys.stdout = _installed["stdout"]
            if isinstance(sys.stderr, _Router):
                sys.stderr = _installed["stderr"]


@contextlib.contextmanager
def official_call(what):
    """Capture the calling thread's output of an official script; turn its
    ``sys.exit`` (``printError``) into :class:`CityscapesEvalError` naming ``what``."""
    previous = getattr(_local, "buffer", None)
    buffer = io.StringIO()
    _install()
    _local.buffer = buffer
    try:
        yield buffer
    except SystemExit:
        lines = [l for l in buffer.getvalue().splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")]
        message = (errors or lines or ["(no message)"])[-1]
        raise CityscapesEvalError("%s: cityscapesScripts stopped: %s" % (what, message)) from None
    finally:
        _local.buffer = previous
        _uninstall()


# ---------------------------------------------------------------- ground truth
def gt_files(gt_root, split, kind, names=None):
    """Absolute, sorted ``gtFine/<split>/*/*_gtFine_<kind>.png`` under ``gt_root``.

    ``names``: only the frames with these stems (every one must exist). Raises
    FileNotFoundError naming the pattern (or the missing file).
    """
    root = os.path.abspath(os.fspath(gt_root))
    suffix = "_gtFine_%s.png" % kind
    pattern = os.path.join(root, "gtFine", split, "*", "*" + suffix)
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError("no ground truth found: nothing matches %s (is gt_root the folder "
                                "that contains gtFine/, and split one of its sub-folders?)"
                                % pattern)
    if names is None:
        return files
    by_stem = {os.path.basename(f)[:-len(suffix)]: f for f in files}
    missing = [n for n in names if n not in by_stem]
    if missing:
        raise FileNotFoundError("no ground truth for frame(s) %s: expected %s"
                                % (", ".join(missing[:3]), os.path.join(
                                    root, "gtFine", split, "<city>", missing[0] + suffix)))
    return sorted(by_stem[n] for n in set(names))


def gt_stem(path, kind):
    return os.path.basename(path)[:-len("_gtFine_%s.png" % kind)]


def file_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def png_size(path, what="prediction"):
    """``(height, width, mode)`` of a PNG from its header, after checking the
    whole file's chunks (PIL ``verify``); errors name the file."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise CityscapesEvalError("%s file not found: %s" % (what, path))
    if os.path.getsize(path) == 0:
        raise CityscapesEvalError("%s file is empty (0 bytes): %s" % (what, path))
    try:
        with Image.open(path) as image:
            size, mode = image.size, image.mode
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise CityscapesEvalError("%s file is not a readable PNG (corrupt or truncated?): %s (%s)"
                                  % (what, path, e)) from None
    return size[1], size[0], mode


def read_png(path, what="prediction"):
    """The pixels of a PNG as PIL reads them (what the official code sees)."""
    import numpy as np
    from PIL import Image

    png_size(path, what)
    try:
        with Image.open(path) as image:
            return np.array(image)
    except OSError as e:
        raise CityscapesEvalError("%s file is not a readable PNG (corrupt or truncated?): %s (%s)"
                                  % (what, path, e)) from None


def clean_number(value):
    """float, with NaN (a class without ground truth) as None so results are JSON-safe."""
    value = float(value)
    return None if value != value else value


def json_safe(obj):
    """numpy scalars / arrays -> Python numbers / lists; NaN -> None (for result files)."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return clean_number(obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return json_safe(vars(obj))
    return obj
