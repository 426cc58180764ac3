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

Parameters are matched by *structural name* (``backbone.layer1.0.bn1.gamma``,
what ``save_parameters`` writes), never by position: the manifest lists every
parameter with its shape in the order of the Trainer's optimizer-state
indices, and :func:`load_trainer_states` maps each saved state to the
parameter of the same name. gluon's Trainer orders parameters by their
*prefix* names (``batchnorm12_gamma`` < ``batchnorm2_gamma``; ``syncbatchnorm``
after ``dense``), which change with the layer classes and the number of blocks
built before, so positions alone can pair a state with the wrong parameter.
A checkpoint whose parameter names or shapes differ from the network's is
refused with every difference listed.

One run per directory: :class:`RunLock` holds an exclusive ``flock`` on
``OUTPUT_DIR/train.lock`` for the life of a run (released by the kernel when
the process ends, even by SIGKILL); a second run on the same directory is
refused with the holder's pid and host.
"""
import contextlib
import datetime
import fcntl
import glob
import hashlib
import json
import os
import pickle
import random
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings

import mxnet as mx
import numpy as np

from ..config import ConfigError, config_to_dict, get_value
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
    "MODEL.HEAD_CONV", "MODEL.NORM", "AFFINITY.WINDOW", "AFFINITY.STRIDES",
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
    """A valid checkpoint was made with a config (or a network) the current run
    cannot continue."""


class RunDirectoryError(CheckpointError):
    """TRAIN.OUTPUT_DIR cannot be used by this run (holds another run's
    checkpoints, or another run is using it)."""


class RunDirectoryLocked(RunDirectoryError):
    """Another live process holds the run directory's lock (``holder``: its
    pid, host, start time and command, as far as known)."""

    def __init__(self, message, holder=None):
        super().__init__(message)
        self.holder = holder or {}


# ---------------------------------------------------------------------------
# The run directory: one run at a time
# ---------------------------------------------------------------------------
LOCK_FILE = "train.lock"


def lock_path(output_dir, rank=0):
    """``OUTPUT_DIR/train.lock`` (rank 0) or ``train.rank<N>.lock``."""
    name = LOCK_FILE if rank == 0 else "train.rank%d.lock" % rank
    return os.path.join(os.fspath(output_dir), name)


def check_output_dir(output_dir):
    """ConfigError unless ``output_dir`` is a directory, or a path that can be
    created as one (its nearest existing parent is a writable directory)."""
    path = os.path.abspath(os.fspath(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError("config key TRAIN.OUTPUT_DIR: %s exists and is not a directory; "
                          "expected a directory for the run's checkpoints and logs (or a path "
                          "that does not exist yet)" % path)
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ConfigError("config key TRAIN.OUTPUT_DIR: %s cannot be created: %s is not a "
                          "directory" % (path, probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError("config key TRAIN.OUTPUT_DIR: %s is not writable (no write "
                          "permission on %s)" % (path, probe))
    return path


def _read_holder(path):
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _locked_message(output_dir, holder):
    who = "pid %s" % holder.get("pid", "unknown")
    if holder.get("host"):
        who += " on %s" % holder["host"]
    if holder.get("started"):
        who += ", started %s" % holder["started"]
    return ("TRAIN.OUTPUT_DIR %s is in use by another training run (%s). Two runs in one "
            "directory would interleave their metrics.jsonl and overwrite each other's "
            "checkpoints. Wait for that run to end (or stop it), or set TRAIN.OUTPUT_DIR to "
            "another directory." % (output_dir, who))


class RunLock:
    """An exclusive, non-blocking ``flock`` on the run directory's lock file.

    Held until :meth:`release` (or the process ends: the kernel drops the lock
    even after SIGKILL, so a killed run never leaves a stale lock). The file
    stays; it records the holder (pid, host, start, command) for the message a
    second run gets. ``flock`` locks belong to the open file, so a second
    RunLock on the same directory fails within one process too.
    """

    def __init__(self, output_dir, rank=0):
        self.output_dir = os.path.abspath(os.fspath(output_dir))
        self.path = lock_path(self.output_dir, rank)
        self._file = None

    @property
    def held(self):
        return self._file is not None

    def acquire(self):
        """Take the lock or raise :class:`RunDirectoryLocked` naming the holder."""
        if self._file is not None:
            return self
        os.makedirs(self.output_dir, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            holder = _read_holder(self.path)
            raise RunDirectoryLocked(_locked_message(self.output_dir, holder), holder) from None
        except BaseException:
            f.close()
            raise
        f.seek(0)
        f.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": datetime.datetime.now().isoformat(timespec="seconds"),
                   "command": " ".join(sys.argv)}, f)
        f.write("\n")
        f.flush()
        self._file = f
        return self

    def release(self):
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def lock_holder(output_dir, rank=0):
    """The holder (dict) if a live process holds the run directory's lock, else None.
    Does not take the lock (used by ``train.py --check``)."""
    path = lock_path(output_dir, rank)
    if not os.path.isfile(path):
        return None
    try:
        f = open(path, "r", encoding="utf-8")
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(path) or {"pid": "unknown"}
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return None


def check_lock_free(output_dir, rank=0):
    """RunDirectoryLocked if another live process holds the run directory."""
    holder = lock_holder(output_dir, rank)
    if holder is not None:
        raise RunDirectoryLocked(_locked_message(os.path.abspath(os.fspath(output_dir)),
                                                 holder), holder)


# ---------------------------------------------------------------------------
# Parameters by structural name
# ---------------------------------------------------------------------------
def parameter_table(net, trainer=None):
    """``[[structural name, shape], ...]`` of ``net``'s parameters, in the order
    of ``trainer``'s optimizer-state indices (gluon's Trainer sorts by prefix
    name); without a trainer (or one without that order), in ``net``'s order."""
    named = net._collect_params_with_prefix()
    structural = {id(p): name for name, p in named.items()}
    params = getattr(trainer, "_params", None)
    if params is None:
        params = list(named.values())
    return [[structural.get(id(p), p.name), [int(d) for d in p.shape]] for p in params]


def _same_shape(saved, current):
    # 0 = a dimension the network has not inferred yet (deferred initialisation)
    return len(saved) == len(current) and all(c in (0, s) for s, c in zip(saved, current))


def structure_differences(saved, current, limit=12):
    """Lines describing how two ``{name: shape}`` dicts differ ([] if equal)."""
    saved = {k: list(v) for k, v in saved.items()}
    current = {k: list(v) for k, v in current.items()}
    missing = [k for k in current if k not in saved]
    extra = [k for k in saved if k not in current]
    shapes = [k for k in current if k in saved and not _same_shape(saved[k], current[k])]

    def some(names):
        return ", ".join(names[:limit]) + (" ... (%d more)" % (len(names) - limit)
                                           if len(names) > limit else "")
    lines = []
    if missing:
        lines.append("%d in the network, not in the checkpoint: %s" % (len(missing),
                                                                        some(missing)))
    if extra:
        lines.append("%d in the checkpoint, not in the network: %s" % (len(extra), some(extra)))
    for k in shapes[:limit]:
        lines.append("%s: checkpoint shape %s, network shape %s"
                     % (k, tuple(saved[k]), tuple(current[k])))
    if len(shapes) > limit:
        lines.append("... and %d more with another shape" % (len(shapes) - limit))
    return lines


def _saved_parameters(path, manifest):
    """``[[name, shape], ...]`` as saved: from the manifest, or (checkpoints made
    before the manifest listed them) from model.params, in file order."""
    if manifest.get("parameters") is not None:
        return [[n, list(s)] for n, s in manifest["parameters"]]
    loaded = mx.nd.load(os.path.join(path, MODEL_FILE))
    if not isinstance(loaded, dict):
        raise CheckpointError("checkpoint %s: %s holds no parameter names" % (path, MODEL_FILE))
    return [[n, list(a.shape)] for n, a in loaded.items()]


def check_structure(path, manifest, net):
    """CheckpointMismatchError listing every parameter whose name or shape differs."""
    saved = _saved_parameters(path, manifest)
    current = parameter_table(net)
    lines = structure_differences(dict((n, s) for n, s in saved),
                                  dict((n, s) for n, s in current))
    if lines:
        raise CheckpointMismatchError(
            "checkpoint %s: its weights do not fit the network (the parameters differ):\n  "
            "%s\nResume with the config (and code) it was made with, or start a new run in "
            "another TRAIN.OUTPUT_DIR." % (path, "\n  ".join(lines)))
    return saved


def _remap_counts(counts, mapping):
    """Re-key an optimizer's ``{index: count}`` dict in place (kept shared)."""
    items = list(counts.items())
    counts.clear()
    counts.update({mapping.get(k, k): v for k, v in items})


def load_trainer_states(path, trainer, net=None, manifest=None):
    """Load ``trainer.states`` of checkpoint ``path``, each optimizer state going to
    the parameter of the same structural name.

    When the checkpoint lists its parameters and ``net`` is given, saved state
    index ``i`` (parameter ``name_i``) becomes the index of ``name_i`` in
    ``trainer``; names or shapes that differ are refused
    (CheckpointMismatchError). Checkpoints without the list are loaded by
    position, as they were saved.
    """
    path = _resolve(path)
    states_file = os.path.join(path, TRAINER_FILE)
    if manifest is None:
        manifest = verify_checkpoint(path)
    saved = manifest.get("parameters")
    if net is None or saved is None or getattr(trainer, "_params", None) is None:
        trainer.load_states(states_file)
        return
    current = parameter_table(net, trainer)
    lines = structure_differences(dict((n, s) for n, s in saved),
                                  dict((n, s) for n, s in current))
    if lines:
        raise CheckpointMismatchError(
            "checkpoint %s: its optimizer state does not fit the network (the parameters "
            "differ):\n  %s" % (path, "\n  ".join(lines)))
    if [n for n, _ in saved] == [n for n, _ in current]:
        trainer.load_states(states_file)
        return
    index_of = {name: i for i, (name, _) in enumerate(current)}
    mapping = {i: index_of[name] for i, (name, _) in enumerate(saved)}
    with open(states_file, "rb") as f:
        loaded = pickle.load(f)
    states, optimizer = loaded if isinstance(loaded, tuple) and len(loaded) == 2 \
        else (loaded, None)
    states = {mapping.get(k, k): v for k, v in states.items()}
    if optimizer is not None:
        seen = set()
        for counts in list(getattr(optimizer, "_all_index_update_counts", {}).values()) + [
                getattr(optimizer, "_index_update_count", {})]:
            if id(counts) not in seen:
                seen.add(id(counts))
                _remap_counts(counts, mapping)
        for attr in ("lr_mult", "wd_mult", "idx2name"):
            table = getattr(optimizer, attr, None)
            if isinstance(table, dict) and any(isinstance(k, int) for k in table):
                _remap_counts(table, mapping)
    data = pickle.dumps((states, optimizer) if optimizer is not None else states)
    fd, tmp = tempfile.mkstemp(prefix="ssap-trainer-", suffix=".states")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        trainer.load_states(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


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
        if getattr(trainer, "_params", None) is not None:
            # [structural name, shape] in the order of the optimizer-state indices
            manifest["parameters"] = parameter_table(net, trainer)
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


class _NotRecorded:
    def __repr__(self):
        return "(not recorded)"


_NOT_RECORDED = _NotRecorded()


def check_compatible(manifest, cfg, path=""):
    """Raise CheckpointMismatchError naming every differing :data:`COMPAT_KEYS` key.

    Returns the list of *other* keys whose values differ (harmless for
    loading; the caller reports them).
    """
    current = compat_values(cfg)
    saved_all = _flatten(manifest.get("config", {}))
    # a key added to COMPAT_KEYS later (MODEL.NORM) is read from the saved config
    saved = dict(saved_all)
    saved.update(manifest["compat"])
    differing = [k for k in COMPAT_KEYS if saved.get(k, _NOT_RECORDED) != current[k]]
    if differing:
        lines = ["  %s: checkpoint %r, current config %r" % (k, saved.get(k, _NOT_RECORDED),
                                                               current[k])
                 for k in differing]
        raise CheckpointMismatchError(
            "checkpoint %s was made with an incompatible config (%d key(s) differ):\n%s\n"
            "Resume with the config it was made with, or start a new run in another "
            "TRAIN.OUTPUT_DIR." % (path, len(differing), "\n".join(lines)))
    other = []
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
        check_structure(path, manifest, net)
        from ..inference.weights import WeightsError, load_weights

        try:
            load_weights(net, os.path.join(path, MODEL_FILE), ctx)
        except WeightsError as e:
            raise CheckpointMismatchError("checkpoint %s: its weights do not fit the network: %s"
                                          % (path, e)) from None
    if trainer is not None:
        load_trainer_states(path, trainer, net, manifest)
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
