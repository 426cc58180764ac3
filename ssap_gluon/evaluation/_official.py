"""Plumbing shared by the wrappers around cityscapesScripts' evaluators.

The official scripts are command-line programs: they configure themselves
through a module-level ``args`` object, print progress, write caches and
results next to the package or into the current directory, and end the
process with ``sys.exit`` on any problem. The helpers here let the wrappers
call them as functions: output is captured, ``sys.exit`` becomes
:class:`CityscapesEvalError` with the official message, and files the
scripts insist on writing go to a private temporary directory.
"""
import contextlib
import copy
import glob
import io
import os
import re


# Cityscapes file stems: <city>_<sequence:6 digits>_<frame:6 digits>; the
# official matchers split names on "_" and glob "<city>_<seq>_<frame>*".
STEM_RE = re.compile(r"^[A-Za-z0-9-]+_\d{6}_\d{6}$")


class CityscapesEvalError(RuntimeError):
    """An official cityscapesScripts evaluator refused the input."""


def check_stem(image_stem):
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
    return args


@contextlib.contextmanager
def official_call(what):
    """Silence an official script; turn its ``sys.exit`` into CityscapesEvalError."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            yield
    except SystemExit:
        lines = [l for l in out.getvalue().splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")]
        message = (errors or lines or ["(no message)"])[-1]
        raise CityscapesEvalError("%s: cityscapesScripts stopped: %s" % (what, message)) from None


@contextlib.contextmanager
def working_directory(path):
    """Run code that writes files into the cwd (e.g. ``matches.json``) inside ``path``."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def gt_files(gt_root, split, kind):
    """Sorted ``gtFine/<split>/*/*_gtFine_<kind>.png`` under ``gt_root``; error if none."""
    pattern = os.path.join(os.fspath(gt_root), "gtFine", split, "*", "*_gtFine_%s.png" % kind)
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError("no ground truth found: nothing matches %s (is gt_root the folder "
                                "that contains gtFine/, and split one of its sub-folders?)" % pattern)
    return files


def clean_number(value):
    """float, with NaN (a class without ground truth) as None so results are JSON-safe."""
    value = float(value)
    return None if value != value else value
