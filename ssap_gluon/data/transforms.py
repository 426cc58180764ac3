"""Augmentation: composable geometric steps, applied in one resampling pass.

A transform is a list of steps (resize to a long edge, random scale,
horizontal flip, pad-if-needed + random crop, pad to a multiple of 64). Each
step only edits a :class:`Geometry` — the map from output pixels back to
source pixels — and :class:`Compose` resamples image and labels **once** with
the composed map. One pass means one interpolation of the image (no blur from
resize-then-crop), no full-size intermediate at scale 2.0, and labels that
follow exactly the same map as the image.

Conventions (the same for image and labels, which keeps them aligned):

* pixel centres: output pixel ``x`` of a scaled image of width ``Ws`` samples
  the source at ``u = (x + 0.5) * W / Ws - 0.5`` (as ``cv2.resize``);
* image: bilinear (``cv2.warpAffine``, edge pixels replicated inside the image);
* labels: nearest, i.e. source pixel ``floor(u + 0.5)`` — the pixel whose
  centre is closest to ``u``; never interpolated, so no invented ids;
* pixels of the output window outside the scaled image (padding): image =
  ``MEAN`` (0 after normalisation), semantic = ``ignore_label``, instance = -1.

Padding goes to the bottom/right of the (possibly flipped) scaled image, so
for evaluation the valid part is always ``[:h, :w]`` and
:meth:`Geometry.restore` undoes resize and padding exactly.
"""
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .labels import IGNORE_LABEL, INSTANCE_IGNORE


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """Output pixel ``(y, x)`` shows pixel ``(y + oy, x + ox)`` of the scaled,
    optionally flipped source; positions outside ``[0, Hs) x [0, Ws)`` are padding.

    ``scale`` multiplies the source size: ``Hs = round(H * scale)``.
    ``window`` is ``(oy, ox, out_h, out_w)``; ``None`` = the whole scaled image.
    """

    source_size: tuple
    scale: float = 1.0
    flip: bool = False
    window: tuple = None

    @property
    def scaled_size(self):
        h, w = self.source_size
        return max(1, int(round(h * self.scale))), max(1, int(round(w * self.scale)))

    @property
    def offset(self):
        return (0, 0) if self.window is None else tuple(self.window[:2])

    @property
    def out_size(self):
        return self.scaled_size if self.window is None else tuple(self.window[2:])

    def rescaled(self, factor):
        if self.window is not None:
            raise ValueError("geometry steps must scale before they crop or pad "
                             "(a scale step follows a crop/pad step)")
        return replace(self, scale=self.scale * factor)

    def flipped(self):
        if self.window is None:
            return replace(self, flip=not self.flip)
        # Mirror the window too, so it keeps showing the same content, mirrored.
        oy, ox, oh, ow = self.window
        return replace(self, flip=not self.flip,
                       window=(oy, self.scaled_size[1] - ox - ow, oh, ow))

    def windowed(self, oy, ox, out_h, out_w):
        """A window relative to the current one."""
        cy, cx = self.offset
        return replace(self, window=(cy + oy, cx + ox, out_h, out_w))

    # -- index maps -------------------------------------------------------
    def _axis(self, axis):
        """Per output position along ``axis``: scaled position, valid mask, ratio."""
        src = self.source_size[axis]
        scaled = self.scaled_size[axis]
        pos = np.arange(self.out_size[axis]) + self.offset[axis]
        valid = (pos >= 0) & (pos < scaled)
        if axis == 1 and self.flip:
            pos = scaled - 1 - pos
        return pos, valid, src / scaled

    def nearest_indices(self, axis):
        """Source index (clipped) and validity of each output row (0) / column (1)."""
        pos, valid, ratio = self._axis(axis)
        src = np.floor((pos + 0.5) * ratio).astype(np.int64)
        return np.clip(src, 0, self.source_size[axis] - 1), valid

    def affine(self):
        """2x3 matrix mapping output (x, y) to continuous source (u, v)."""
        (oy, ox), (hs, ws) = self.offset, self.scaled_size
        ry, rx = self.source_size[0] / hs, self.source_size[1] / ws
        if self.flip:
            ax, bx = -rx, (ws - 0.5 - ox) * rx - 0.5
        else:
            ax, bx = rx, (ox + 0.5) * rx - 0.5
        return np.array([[ax, 0.0, bx], [0.0, ry, (oy + 0.5) * ry - 0.5]])

    @property
    def is_identity(self):
        return (self.scaled_size == tuple(self.source_size) and not self.flip
                and self.offset == (0, 0) and self.out_size == tuple(self.source_size))

    # -- undo (evaluation) ------------------------------------------------
    def restore(self, array, interpolation="bilinear"):
        """Map an output-space array ``(..., out_h, out_w)`` back to the source size.

        Needs a window that covers the whole scaled image (resize + padding, as
        the eval transform makes); drops the padding, un-flips and resizes to
        ``source_size`` (``"bilinear"`` for scores, ``"nearest"`` for labels).
        """
        array = np.asarray(array)
        (oy, ox), (oh, ow), (hs, ws) = self.offset, self.out_size, self.scaled_size
        if array.shape[-2:] != (oh, ow):
            raise ValueError("restore: expected an array of spatial size %s, got %s"
                             % ((oh, ow), array.shape[-2:]))
        if oy > 0 or ox > 0 or oy + oh < hs or ox + ow < ws:
            raise ValueError("restore: this geometry crops the image (window %s of %s), "
                             "the cropped-away part cannot be restored"
                             % (self.window, (hs, ws)))
        scaled = array[..., -oy:-oy + hs, -ox:-ox + ws]
        if self.flip:
            scaled = scaled[..., ::-1]
        return resize_array(scaled, self.source_size, interpolation)


def resize_array(array, size, interpolation="bilinear"):
    """Resize the last two axes of ``array`` to ``size`` = (h, w), pixel-centre aligned."""
    array = np.asarray(array)
    h, w = array.shape[-2:]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        return np.ascontiguousarray(array)
    if interpolation == "nearest":
        rows = np.clip(np.floor((np.arange(out_h) + 0.5) * h / out_h).astype(np.int64), 0, h - 1)
        cols = np.clip(np.floor((np.arange(out_w) + 0.5) * w / out_w).astype(np.int64), 0, w - 1)
        return np.ascontiguousarray(array.take(rows, axis=-2).take(cols, axis=-1))
    if interpolation != "bilinear":
        raise ValueError("interpolation must be 'bilinear' or 'nearest', got %r" % interpolation)
    lead = array.shape[:-2]
    flat = array.reshape((-1, h, w)).astype(np.float32, copy=False)
    out = np.empty((flat.shape[0], out_h, out_w), dtype=np.float32)
    for start in range(0, flat.shape[0], 256):  # cv2 handles <= 512 channels at once
        chunk = np.ascontiguousarray(flat[start:start + 256].transpose(1, 2, 0))
        res = cv2.resize(chunk, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        out[start:start + 256] = res.reshape(out_h, out_w, -1).transpose(2, 0, 1)
    return out.reshape(lead + (out_h, out_w))


# ---------------------------------------------------------------------------
# Steps: Geometry -> Geometry
# ---------------------------------------------------------------------------
class ResizeLongEdge:
    """Scale so the longer edge becomes ``long_edge`` pixels (COCO: 640)."""

    def __init__(self, long_edge):
        if long_edge <= 0:
            raise ValueError("long_edge must be positive, got %r" % long_edge)
        self.long_edge = long_edge

    def __call__(self, geometry, rng):
        h, w = geometry.scaled_size
        return geometry.rescaled(self.long_edge / max(h, w))


class Rescale:
    """A fixed scale factor (multi-scale testing)."""

    def __init__(self, factor):
        if factor <= 0:
            raise ValueError("scale factor must be positive, got %r" % factor)
        self.factor = factor

    def __call__(self, geometry, rng):
        return geometry if self.factor == 1 else geometry.rescaled(self.factor)


class RandomScale:
    """Scale by a factor drawn uniformly from ``[low, high]``; with ``step > 0``
    uniformly from the grid ``low, low + step, ..., high``."""

    def __init__(self, low, high, step=0.0):
        if not 0 < low <= high:
            raise ValueError("scale range must satisfy 0 < low <= high, got [%r, %r]"
                             % (low, high))
        self.low, self.high, self.step = low, high, step

    def __call__(self, geometry, rng):
        if self.step > 0:
            n = int(math.floor((self.high - self.low) / self.step + 1e-6)) + 1
            factor = self.low + self.step * int(rng.integers(n))
        else:
            factor = rng.uniform(self.low, self.high)
        return geometry.rescaled(factor)


class RandomHorizontalFlip:
    def __init__(self, prob=0.5):
        self.prob = prob

    def __call__(self, geometry, rng):
        return geometry.flipped() if rng.random() < self.prob else geometry


class HorizontalFlip:
    """Always flip (the flipped pass of the flip test)."""

    def __call__(self, geometry, rng):
        return geometry.flipped()


class RandomCrop:
    """Pad-if-needed, then a uniformly placed ``(h, w)`` crop of the current window.

    A side shorter than the crop is padded at the bottom/right (offset 0).
    """

    def __init__(self, size):
        self.size = tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError("crop size must be two positive ints (h, w), got %r" % (size,))

    def __call__(self, geometry, rng):
        (h, w), (ch, cw) = geometry.out_size, self.size
        oy = int(rng.integers(h - ch + 1)) if h > ch else 0
        ox = int(rng.integers(w - cw + 1)) if w > cw else 0
        return geometry.windowed(oy, ox, ch, cw)


class PadToMultiple:
    """Pad bottom/right so both sides are multiples of ``divisor`` (64: the 1/64 level exists)."""

    def __init__(self, divisor):
        self.divisor = int(divisor)

    def __call__(self, geometry, rng):
        if self.divisor <= 1:
            return geometry
        h, w = geometry.out_size
        d = self.divisor
        return geometry.windowed(0, 0, -(-h // d) * d, -(-w // d) * d)


# ---------------------------------------------------------------------------
# Resampling + normalisation
# ---------------------------------------------------------------------------
def normalize_image(image, mean, std):
    """uint8 (H, W, 3) RGB -> float32 (3, H, W), ``(x / 255 - mean) / std``."""
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    shift = np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    out = np.empty((3,) + image.shape[:2], dtype=np.float32)
    # Channel planes first, then in-place float ops: much faster than
    # normalising HWC and transposing the float result (cache-friendly).
    for c, plane in enumerate(cv2.split(image)):
        out[c] = plane
        out[c] *= scale[c]
        out[c] -= shift[c]
    return out


def warp_labels(label, geometry, fill):
    """Nearest-neighbour resampling of a (H, W) map through ``geometry``; padding = ``fill``."""
    rows, valid_rows = geometry.nearest_indices(0)
    cols, valid_cols = geometry.nearest_indices(1)
    out = label.take(rows, axis=0).take(cols, axis=1)
    if not valid_rows.all():
        out[~valid_rows, :] = fill
    if not valid_cols.all():
        out[:, ~valid_cols] = fill
    return out


def warp_image(image, geometry):
    """Bilinear resampling of a uint8 (H, W, C) image; padding left unset (see caller)."""
    if geometry.is_identity:
        return image
    out_h, out_w = geometry.out_size
    return cv2.warpAffine(image, geometry.affine(), (out_w, out_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


class Compose:
    """Apply ``steps`` to a sample: ``(image uint8 HWC RGB, semantic, instance) ->``
    ``(image float32 3xHxW normalised, semantic int32, instance int32)``.

    ``rng`` (a ``numpy.random.Generator``) drives the random steps; without
    one the transform's own generator (seeded by ``seed``) is used.
    """

    def __init__(self, steps, mean, std, ignore_label=IGNORE_LABEL, seed=None):
        self.steps = list(steps)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.ignore_label = ignore_label
        self._rng = np.random.default_rng(seed)

    def geometry(self, height, width, rng=None):
        rng = self._rng if rng is None else rng
        geometry = Geometry((int(height), int(width)))
        for step in self.steps:
            geometry = step(geometry, rng)
        return geometry

    def __call__(self, image, semantic, instance, rng=None):
        geometry = self.geometry(image.shape[0], image.shape[1], rng)
        return self.apply(image, semantic, instance, geometry)

    def apply(self, image, semantic, instance, geometry):
        """Resample with a given geometry (e.g. the same one for several inputs)."""
        if semantic.shape != image.shape[:2] or instance.shape != image.shape[:2]:
            raise ValueError("image %s and label maps %s / %s differ in size"
                             % (image.shape[:2], semantic.shape, instance.shape))
        out = self.apply_image(image, geometry)
        sem = warp_labels(semantic.astype(np.int32, copy=False), geometry, self.ignore_label)
        ins = warp_labels(instance.astype(np.int32, copy=False), geometry, INSTANCE_IGNORE)
        return out, sem, ins

    def apply_image(self, image, geometry):
        """The image alone through ``geometry``: float32 (3, h, w), normalised,
        padding = MEAN (0 after normalisation)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("transform expects a uint8 (H, W, 3) RGB image, got %s %s"
                             % (image.dtype, image.shape))
        out = normalize_image(warp_image(image, geometry), self.mean, self.std)
        _, valid_rows = geometry.nearest_indices(0)
        _, valid_cols = geometry.nearest_indices(1)
        out[:, ~valid_rows, :] = 0.0  # == MEAN before normalisation
        out[:, :, ~valid_cols] = 0.0
        return out

    def __repr__(self):
        return "Compose(%s)" % ", ".join(type(s).__name__ for s in self.steps)


def train_transform(crop_size, scale_range=(0.5, 2.0), scale_step=0.0, flip=True,
                    long_edge=0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                    ignore_label=IGNORE_LABEL, seed=None):
    """Long-edge resize (if ``long_edge``), random scale, flip, pad-if-needed + random crop."""
    steps = [ResizeLongEdge(long_edge)] if long_edge else []
    steps.append(RandomScale(scale_range[0], scale_range[1], scale_step))
    if flip:
        steps.append(RandomHorizontalFlip(0.5))
    steps.append(RandomCrop(crop_size))
    return Compose(steps, mean, std, ignore_label, seed)


def eval_transform(size_divisor=64, scale=1.0, long_edge=0, mean=(0.485, 0.456, 0.406),
                   std=(0.229, 0.224, 0.225), ignore_label=IGNORE_LABEL, flip=False):
    """Long-edge resize (if ``long_edge``), fixed ``scale``, horizontal flip (if
    ``flip``), pad to a multiple of ``size_divisor`` (bottom/right, after the flip).

    Deterministic; ``transform.geometry(h, w).restore(pred)`` maps a prediction
    back onto the original frame.
    """
    steps = [ResizeLongEdge(long_edge)] if long_edge else []
    steps.append(Rescale(scale))
    if flip:
        steps.append(HorizontalFlip())
    steps.append(PadToMultiple(size_divisor))
    return Compose(steps, mean, std, ignore_label)


def build_transform(cfg, is_train, scale=1.0, seed=None, flip=False):
    """The train or eval transform from the ``INPUT`` config section (``scale``
    and ``flip``: the eval transform of one pass of the multi-scale / flip test)."""
    inp = cfg.INPUT
    common = dict(long_edge=inp.LONG_EDGE, mean=inp.MEAN, std=inp.STD,
                  ignore_label=inp.IGNORE_LABEL)
    if is_train:
        return train_transform(inp.CROP_SIZE, inp.SCALE_RANGE, inp.SCALE_STEP, inp.FLIP,
                               seed=seed, **common)
    return eval_transform(inp.SIZE_DIVISOR, scale, flip=flip, **common)
