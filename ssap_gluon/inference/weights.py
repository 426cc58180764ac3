"""Network weights from a file: the one loader every script uses.

Accepted sources:

* a ``.params`` file written by gluon's ``save_parameters`` (a trained
  network's ``model_final.params``), in float32 or float16 -- a float16 file
  (the shipped SynthCity checkpoint) is cast to the network's float32;
* a checkpoint directory (``.../checkpoints/iter_00010000``): its manifest is
  verified (sizes and SHA-256 of every file) and its ``model.params`` loaded.

Every problem is a :class:`WeightsError` naming the file and what differs:
the parameter names the network expects but the file lacks (and the reverse),
or the first parameter whose shape disagrees.
"""
import hashlib
import os

import mxnet as mx

__all__ = ["WeightsError", "load_weights", "resolve_weights", "file_sha256",
           "save_weights_fp16"]


class WeightsError(ValueError):
    """Weights are missing, unreadable or do not fit the network (names the file)."""


def resolve_weights(path):
    """The ``.params`` file behind ``path`` (a file or a checkpoint directory)."""
    from ..training.checkpoint import MODEL_FILE, CheckpointError, verify_checkpoint

    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isdir(path):
        try:
            verify_checkpoint(path)
        except CheckpointError as e:
            raise WeightsError(str(e)) from None
        return os.path.join(path, MODEL_FILE)
    if not os.path.isfile(path):
        raise WeightsError("weights not found: %s (expected a .params file or a checkpoint "
                           "directory)" % path)
    return path


def file_sha256(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _read(path):
    try:
        arrays = mx.nd.load(path)
    except mx.MXNetError as e:
        cause = [l for l in str(e).strip().splitlines() if l.strip()][-1]
        raise WeightsError("%s is not an mxnet parameter file (%s)"
                           % (path, cause.strip()[:200])) from None
    if not isinstance(arrays, dict) or not arrays:
        raise WeightsError("%s holds no named parameters (expected a file written by "
                           "save_parameters)" % path)
    return arrays


def load_weights(net, path, ctx=None):
    """Load ``path`` (file or checkpoint directory) into ``net``; return the file used.

    Names and shapes must match the network exactly; float16 arrays are cast
    to the parameter's dtype.
    """
    path = resolve_weights(path)
    arrays = _read(path)
    params = net._collect_params_with_prefix()
    missing = sorted(set(params) - set(arrays))
    extra = sorted(set(arrays) - set(params))
    if missing or extra:
        raise WeightsError(
            "%s does not fit the network: %d parameter(s) missing from the file%s, %d in the "
            "file but not in the network%s (a different MODEL.* config?)"
            % (path, len(missing), " (e.g. %s)" % ", ".join(missing[:3]) if missing else "",
               len(extra), " (e.g. %s)" % ", ".join(extra[:3]) if extra else ""))
    for name, param in params.items():
        shape = param.shape
        if shape is not None and all(shape) and tuple(arrays[name].shape) != tuple(shape):
            raise WeightsError("%s does not fit the network: parameter %s has shape %s in the "
                               "file, %s in the network (a different MODEL.* config?)"
                               % (path, name, tuple(arrays[name].shape), tuple(shape)))
    if ctx is None:
        ctx = [mx.cpu()]
    # what Block.load_parameters does per parameter (mxnet 1.9 has no load_dict)
    for name, param in params.items():
        param._load_init(arrays[name], ctx, cast_dtype=True, dtype_source="current")
    return path


def save_weights_fp16(net_or_path, out_path):
    """Write weights as float16 (half the size; what the repo ships): from a
    network or from a float32 ``.params`` file. Written atomically."""
    from ..utils.io import atomic_write

    if isinstance(net_or_path, (str, os.PathLike)):
        arrays = _read(resolve_weights(net_or_path))
    else:
        mx.nd.waitall()
        arrays = {k: p._reduce() for k, p in net_or_path._collect_params_with_prefix().items()}
    half = {k: v.astype("float16") for k, v in arrays.items()}
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, ".%s.tmp-%d" % (os.path.basename(out_path), os.getpid()))
    try:
        mx.nd.save(tmp, half)
        with open(tmp, "rb") as src, atomic_write(out_path, "wb") as dst:
            dst.write(src.read())
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_path
