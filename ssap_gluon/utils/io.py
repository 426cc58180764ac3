"""File I/O that never leaves half-written files and names the file on error.

Every writer goes through :func:`atomic_write`: the data goes to a temporary
file in the same directory, is flushed and fsync'ed, then ``os.replace``'d over
the target, so a reader (or a crash) sees either the old or the new file.
"""
import contextlib
import json
import os
import shutil
import tempfile

import cv2
import numpy as np


# mkstemp creates 0600 files; written files get what open() would give them.
_UMASK = os.umask(0)
os.umask(_UMASK)


class ImageReadError(IOError):
    """An image or label file is missing, unreadable or of the wrong kind."""


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary sibling of ``path`` for writing; move it into place on success."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data):
    with atomic_write(path, "wb") as f:
        f.write(data)


def copy_atomic(src, dst):
    """Copy the file ``src`` to ``dst`` atomically (streamed, never half-written)."""
    with open(src, "rb") as f_in, atomic_write(dst, "wb") as f_out:
        shutil.copyfileobj(f_in, f_out)


def write_json_atomic(path, obj, **kwargs):
    kwargs.setdefault("indent", 2)
    with atomic_write(path, "w") as f:
        json.dump(obj, f, **kwargs)


def write_png(path, array):
    """Write a uint8/uint16 array (H,W) or BGR (H,W,3) as PNG, atomically."""
    array = np.ascontiguousarray(array)
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise IOError("could not encode %s as PNG (dtype %s, shape %s)"
                      % (path, array.dtype, array.shape))
    write_bytes_atomic(path, buf.tobytes())


def read_image(path, flags=cv2.IMREAD_UNCHANGED, expect_channels=None, expect_dtype=None):
    """Read an image with OpenCV; raise :class:`ImageReadError` naming ``path``.

    ``expect_channels``: 1 for label maps (H,W), 3 for colour images (H,W,3).
    ``expect_dtype``: e.g. ``np.uint8`` for labelIds, ``np.uint16`` (or int) for instanceIds.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError("file not found: %s" % path)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ImageReadError("not a readable image (corrupt or truncated?): %s" % path)
    if expect_channels is not None:
        channels = 1 if image.ndim == 2 else image.shape[2]
        if channels != expect_channels:
            raise ImageReadError("%s: expected %d channel(s), found %d"
                                 % (path, expect_channels, channels))
    if expect_dtype is not None and image.dtype != np.dtype(expect_dtype):
        raise ImageReadError("%s: expected pixel type %s, found %s"
                             % (path, np.dtype(expect_dtype), image.dtype))
    return image
