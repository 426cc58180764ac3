"""Checkpoints: one directory per saved iteration, written atomically, self-checking.

Layout (``TRAIN.OUTPUT_DIR/checkpoints/iter_00005000/``)::

    model.params     network weights incl. BN running statistics (mean over the devices'
                     copies, as gluon's save_parameters writes them)
    trainer.states   mxnet Trainer states: per-parameter optimizer state *and* the
                     pickled optimizer (update counts, Nadam's m_schedule, the
                     lr scheduler's position)
    state.json       iteration, data position, RNG states (numpy Generator of BD,
                     python ``random``, numpy's global RNG)
    config.yaml      the full config of the run (for people; not read back)
    manifest.json    written last: format, iteration, the compatibility keys and
                     their hash, size and SHA-256 of every other file

Atomicity: everything is written into a hidden sibling ``.iter_*.tmp-<pid>``,
fsync'ed, and the directory is renamed into place; a reader (or a run killed
at any moment) sees a complete checkpoint or none. A checkpoint is *valid*
when its manifest parses and every file matches its size and checksum;
*compatible* when the keys of :data:`COMPAT_KEYS` equal the current config's
(weights, optimizer state and the pickled lr scheduler could not be reused
otherwise). Other config differences are reported, not refused.
"""
import contextlib
import glob
import hashlib
import json
import os
import random
import re
import shutil
import time
import warnings

import mxnet as mx
import numpy as np

from ..config import config_to_dict, get_value
from ..utils.io import atomic_write, write_json_atomic
from .devices import wait_for_parameter_writes

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILE = "model.params"
TRAINER_FILE = "trainer.states"
STATE_FILE = "state.json"
CONFIG_FILE = "config.yaml"
CHECKPOINT_SUBDIR = "checkpoints"
_NAME_RE = re.compile(r"^iter_(\d{8})$")
_TEMP_RE = re.compile(r"^\.iter_\d{8}\.(tmp|old)-\d+$")

#: Keys that must be equal to resume: they define the network's parameters
#: (shapes, names) and the optimizer whose pickled state (including its lr
#: scheduler) a resumed run continues. SOLVER.MAX_ITER may change (extend a run).
COMPAT_KEYS = (
    "MODEL.BACKBONE", "MODEL.DILATED", "MODEL.TASKS", "MODEL.AFFINITY_FEATURE",
    "MODEL.NUM_CLASSES", "MODEL.DECODER_CHANNELS", "MODEL.HEAD_CHANNELS", "MODEL.HEAD_KERNEL",
    "MODEL.HEAD_CONV", "AFFINITY.WINDOW", "AFFINITY.STRIDES",
    "SOLVER.OPTIMIZER", "SOLVER.NADAM_SCHEDULE", "SOLVER.NADAM_SCHEDULE_DECAY",
    "SOLVER.NADAM_BETA1", "SOLVER.NADAM_BETA2", "SOLVER.NADAM_EPSILON",
    "SOLVER.BASE_LR", "SOLVER.STEPS", "SOLVER.GAMMA", "SOLVER.WEIGHT_DECAY",
    "SOLVER.NO_WD_BIAS_NORM", "SOLVER.CLIP_GRADIENT", "SOLVER.MOMENTUM",
    "SOLVER.IMS_PER_BATCH",
)
#: Differences in these never matter for resuming (paths, logging, test settings).
IGNORED_PREFIXES = ("TRAIN.OUTPUT_DIR", "TRAIN.LOG_PERIOD", "TRAIN.CHECKPOINT_PERIOD",
                    "TRAIN.KEEP_CHECKPOINTS", "TRAIN.EVAL_PERIOD", "TRAIN.VALIDATE_AT_END",
                    "SOLVER.MAX_ITER", "TEST.", "DATALOADER.", "DATASET.ROOT")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or corrupt (the message names the path)."""


class CheckpointMismatchError(CheckpointError):
    """A valid checkpoint was made with a config the current run cannot continue."""


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def compat_values(cfg):
    """``{key: value}`` of :data:`COMPAT_KEYS` (JSON-comparable)."""
    # the JSON round trip turns tuples into lists
    return {k: json.loads(json.dumps(get_value(cfg, k))) for k in COMPAT_KEYS}


def config_hash(cfg):
    """SHA-256 of the compatibility keys (hex)."""
    text = json.dumps(compat_values(cfg), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkpoint_dir(output_dir):
    return os.path.join(os.fspath(output_dir), CHECKPOINT_SUBDIR)


def checkpoint_name(iteration):
    return "iter_%08d" % int(iteration)


def _sha256(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path):
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsync'ed
        _fsync_file(path)


# ---------------------------------------------------------------------------
# RNG state (JSON-safe)
# ---------------------------------------------------------------------------
def capture_rng_state(generator=None):
    """The host RNG states a resumed run must continue: ``generator`` (a
    ``numpy.random.Generator``, e.g. BD's), python ``random``, numpy's global RNG.

    mxnet's RNG cannot be read back; the trainer reseeds it from (seed,
    iteration) at every checkpoint boundary instead (see trainer.py).
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python_random": [version, list(internal), gauss],
        "numpy_global": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    if generator is not None:
        state["generator"] = generator.bit_generator.state
    return state


def restore_rng_state(state, generator=None):
    version, internal, gauss = state["python_random"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy_global"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if generator is not None:
        if "generator" not in state:
            raise CheckpointError("checkpoint holds no state for the numpy Generator")
        generator.bit_generator.state = state["generator"]


# ---------------------------------------------------------------------------
# Save
# ---------------------------------------------------------------------------
def save_checkpoint(output_dir, iteration, net, trainer, cfg, state):
    """Write checkpoint ``iteration`` under ``output_dir/checkpoints``; return its path.

    ``state``: JSON-serialisable dict (RNG states, data position, ...); the
    iteration is added. Replaces an existing checkpoint of the same iteration
    (e.g. a corrupt one a resumed run skipped).
    """
    # The weights must be the trained ones: wait for every pending write,
    # including BatchNorm statistics the engine does not track (devices.py).
    wait_for_parameter_writes()
    root = checkpoint_dir(output_dir)
    os.makedirs(root, exist_ok=True)
    name = checkpoint_name(iteration)
    final = os.path.join(root, name)
    tmp = os.path.join(root, ".%s.tmp-%d" % (name, os.getpid()))
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        net.save_parameters(os.path.join(tmp, MODEL_FILE))
        trainer.save_states(os.path.join(tmp, TRAINER_FILE))
        state = dict(state, iteration=int(iteration))
        write_json_atomic(os.path.join(tmp, STATE_FILE), state)
        with atomic_write(os.path.join(tmp, CONFIG_FILE), "w") as f:
            f.write(cfg.dump())
        files = {}
        for fname in (MODEL_FILE, TRAINER_FILE, STATE_FILE, CONFIG_FILE):
            path = os.path.join(tmp, fname)
            _fsync_file(path)
            files[fname] = {"bytes": os.path.getsize(path), "sha256": _sha256(path)}
        manifest = {
            "format": FORMAT_VERSION,
            "iteration": int(iteration),
            "config_hash": config_hash(cfg),
            "compat": compat_values(cfg),
            "config": config_to_dict(cfg),
            "files": files,
            "mxnet_version": mx.__version__,
            "created_unix": time.time(),
        }
        write_json_atomic(os.path.join(tmp, MANIFEST), manifest)
        _fsync_dir(tmp)
        old = None
        if os.path.exists(final):
            old = os.path.join(root, ".%s.old-%d" % (name, os.getpid()))
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(root)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def list_checkpoints(output_dir):
    """``[(iteration, path)]`` of the checkpoint directories, oldest first (unverified)."""
    root = checkpoint_dir(output_dir)
    found = []
    if os.path.isdir(root):
        for entry in os.listdir(root):
            m = _NAME_RE.match(entry)
            if m and os.path.isdir(os.path.join(root, entry)):
                found.append((int(m.group(1)), os.path.join(root, entry)))
    return sorted(found)


def remove_stale_temporaries(output_dir):
    """Delete ``.iter_*.tmp-*`` / ``.old-*`` leftovers of killed runs; return them."""
    root = checkpoint_dir(output_dir)
    removed = []
    for path in glob.glob(os.path.join(root, ".iter_*")):
        if _TEMP_RE.match(os.path.basename(path)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def prune_checkpoints(output_dir, keep):
    """Keep the newest ``keep`` *valid* checkpoints; delete older valid ones.

    Invalid (corrupt) directories are never deleted here, so a person can
    inspect them; they are not counted either. ``keep <= 0`` keeps all.
    """
    if keep <= 0:
        return []
    valid = []
    for iteration, path in list_checkpoints(output_dir):
        try:
            verify_checkpoint(path)
        except CheckpointError:
            continue
        valid.append(path)
    doomed = valid[:-keep] if len(valid) > keep else []
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


# ---------------------------------------------------------------------------
# Verify, match, load
# ---------------------------------------------------------------------------
def _resolve(path):
    path = os.fspath(path)
    if os.path.basename(path) == MANIFEST:
        path = os.path.dirname(path)
    return path


def verify_checkpoint(path):
    """Return the manifest of a complete, uncorrupted checkpoint; else CheckpointError."""
    path = _resolve(path)
    if not os.path.isdir(path):
        raise CheckpointError("checkpoint not found: %s (expected a directory holding %s)"
                              % (path, MANIFEST))
    manifest_path = os.path.join(path, MANIFEST)
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise CheckpointError("checkpoint %s is incomplete: no %s" % (path, MANIFEST)) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError("checkpoint %s: %s is not valid JSON (%s)"
                              % (path, MANIFEST, e)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError("checkpoint %s: unknown manifest format %r (expected %d)"
                              % (path, manifest.get("format") if isinstance(manifest, dict)
                                 else manifest, FORMAT_VERSION))
    for key in ("iteration", "config_hash", "compat", "files"):
        if key not in manifest:
            raise CheckpointError("checkpoint %s: manifest lacks %r" % (path, key))
    for fname in (MODEL_FILE, TRAINER_FILE, STATE_FILE):
        if fname not in manifest["files"]:
            raise CheckpointError("checkpoint %s: manifest lists no %s" % (path, fname))
    for fname, info in manifest["files"].items():
        fpath = os.path.join(path, fname)
        if not os.path.isfile(fpath):
            raise CheckpointError("checkpoint %s is corrupt: %s is missing" % (path, fname))
        size = os.path.getsize(fpath)
        if size != info["bytes"]:
            raise CheckpointError("checkpoint %s is corrupt: %s has %d bytes, the manifest "
                                  "says %d" % (path, fname, size, info["bytes"]))
        if _sha256(fpath) != info["sha256"]:
            raise CheckpointError("checkpoint %s is corrupt: the SHA-256 of %s does not match "
                                  "its manifest" % (path, fname))
    return manifest


def check_compatible(manifest, cfg, path=""):
    """Raise CheckpointMismatchError naming every differing :data:`COMPAT_KEYS` key.

    Returns the list of *other* keys whose values differ (harmless for
    loading; the caller reports them).
    """
    current = compat_values(cfg)
    saved = manifest["compat"]
    differing = [k for k in COMPAT_KEYS if saved.get(k) != current[k]]
    if differing:
        lines = ["  %s: checkpoint %r, current config %r" % (k, saved.get(k), current[k])
                 for k in differing]
        raise CheckpointMismatchError(
            "checkpoint %s was made with an incompatible config (%d key(s) differ):\n%s\n"
            "Resume with the config it was made with, or start a new run in another "
            "TRAIN.OUTPUT_DIR." % (path, len(differing), "\n".join(lines)))
    other = []
    saved_all = _flatten(manifest.get("config", {}))
    now_all = _flatten(config_to_dict(cfg))
    for key in sorted(set(saved_all) | set(now_all)):
        if key in current or key.startswith(IGNORED_PREFIXES):
            continue
        if json.dumps(saved_all.get(key)) != json.dumps(now_all.get(key)):
            other.append(key)
    return other


def load_checkpoint(path, cfg, net=None, trainer=None, ctx=None):
    """Verify, check compatibility and load a checkpoint into ``net`` / ``trainer``.

    Returns ``(state, manifest, other_differences)``. Nothing is loaded unless
    the checkpoint is valid and compatible.
    """
    path = _resolve(path)
    manifest = verify_checkpoint(path)
    other = check_compatible(manifest, cfg, path)
    with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
        state = json.load(f)
    if net is not None:
        try:
            net.load_parameters(os.path.join(path, MODEL_FILE), ctx=ctx)
        except (AssertionError, RuntimeError, ValueError, mx.MXNetError) as e:
            raise CheckpointMismatchError("checkpoint %s: its weights do not fit the network: %s"
                                          % (path, str(e).splitlines()[0])) from None
    if trainer is not None:
        trainer.load_states(os.path.join(path, TRAINER_FILE))
    return state, manifest, other


def find_resume_checkpoint(output_dir, cfg, warn=warnings.warn):
    """The checkpoint ``--resume auto`` continues from, or ``None`` for a fresh start.

    Newest first: a corrupt or incomplete checkpoint is skipped with a warning
    (and left on disk); the first valid one must be compatible, else
    CheckpointMismatchError (falling back past a *valid* checkpoint to an older
    one would silently rewind the run). If checkpoints exist but none is
    valid, CheckpointError lists why.
    """
    found = list_checkpoints(output_dir)
    problems = []
    for iteration, path in reversed(found):
        try:
            manifest = verify_checkpoint(path)
        except CheckpointError as e:
            warn("skipping checkpoint: %s" % e)
            problems.append(str(e))
            continue
        check_compatible(manifest, cfg, path)
        return path
    if found:
        raise CheckpointError("--resume auto: no valid checkpoint in %s:\n  %s"
                              % (checkpoint_dir(output_dir), "\n  ".join(problems)))
    return None
