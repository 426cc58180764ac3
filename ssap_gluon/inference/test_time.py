"""One image -> the averaged semantic + affinity pyramid (Table 7 "HF", "MS").

Every pass (a scale, flipped or not) runs the network on the image resampled
by its own eval geometry (``INPUT`` settings, padding to ``SIZE_DIVISOR``);
each level's probability maps are then resampled onto the grid of that level
*at scale 1, unflipped* and averaged over the passes.

* **What is averaged: probabilities**, not logits. The cascade consumes
  probabilities (Eq. 2 averages two directed affinities in probability space),
  and a mean of probabilities is a proper probability; a mean of logits would
  let one over-confident pass dominate.
* **Where a pass's map is read.** Level pixel ``i`` of stride ``s`` stands for
  input pixel ``s*i`` (docs/MODEL.md §3). A scale-1 level pixel is traced to
  the source image through the scale-1 geometry, then into the pass's input
  through that pass's geometry (the same pixel-centre maps the data transforms
  use), and divided by ``s``: bilinear sampling there (edge pixels repeat past
  the border). At scale 1 unflipped this is the identity and is skipped.
* **Flip.** The flipped pass's affinity at window offset ``(dy, dx)`` is the
  unflipped image's affinity at ``(dy, -dx)``: channels are remapped
  (:func:`flip_affinity_channels`) after the spatial resampling.
* **Multi-scale.** An affinity of the window offset d at level s of a pass at
  scale ``f`` relates pixels ``s*|d|/f`` source pixels apart, not ``s*|d|``:
  averaging it with scale 1 treats the two as the same pair. The paper's MS
  test is silent on this; it is the natural reading and is documented as a
  choice (docs/REPRODUCTION.md).
"""
import mxnet as mx
import numpy as np

from .network import forward_probabilities
from .pyramid import Pyramid

__all__ = ["flip_affinity_channels", "level_coordinates", "resample_level", "passes_of",
           "pass_pyramids", "average_pyramids", "predict_pyramid"]


def flip_affinity_channels(affinity, window):
    """Remap ``(r*r, h, w)`` affinity channels ``(dy, dx) -> (dy, -dx)`` (the
    channel of an offset in the mirrored image is the mirrored offset's)."""
    r = int(window)
    if affinity.shape[0] != r * r:
        raise ValueError("flip_affinity_channels: %d channels, expected r*r = %d"
                         % (affinity.shape[0], r * r))
    order = np.arange(r * r).reshape(r, r)[:, ::-1].ravel()
    return affinity[order]


def _axis_map(geometry, axis):
    """(scale a, offset b) of the output -> source map along ``axis`` (u = a x + b)."""
    m = geometry.affine()
    return (m[0, 0], m[0, 2]) if axis == 1 else (m[1, 1], m[1, 2])


def level_coordinates(reference, geometry, stride, size, axis):
    """Coordinates, in the level grid of the pass made with ``geometry``, of the
    ``size`` level pixels of the ``reference`` (scale-1) pass along ``axis``."""
    a1, b1 = _axis_map(reference, axis)
    a2, b2 = _axis_map(geometry, axis)
    source = a1 * (stride * np.arange(size)) + b1
    return (source - b2) / a2 / stride


def resample_level(maps, rows, cols):
    """Bilinear samples of ``maps`` (K, h, w) at row coordinates ``rows`` and
    column coordinates ``cols`` (clamped to the map: edge pixels repeat)."""
    k, h, w = maps.shape

    def weights(coords, n):
        c = np.clip(np.asarray(coords, np.float64), 0, n - 1)
        lo = np.floor(c).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, (c - lo).astype(np.float32)

    y0, y1, wy = weights(rows, h)
    x0, x1, wx = weights(cols, w)
    top, bottom = maps[:, y0, :], maps[:, y1, :]
    wy = wy[None, :, None]
    rows_mixed = top * (1 - wy) + bottom * wy
    wx = wx[None, None, :]
    return rows_mixed[:, :, x0] * (1 - wx) + rows_mixed[:, :, x1] * wx


def passes_of(cfg, flip=None, scales=None):
    """``[(scale, flipped)]`` of ``TEST.SCALES`` x ``TEST.FLIP``, in averaging order."""
    flip = cfg.TEST.FLIP if flip is None else flip
    scales = list(cfg.TEST.SCALES if scales is None else scales)
    if not scales or any(not (s > 0) for s in scales):
        raise ValueError("TEST.SCALES must be positive factors, got %r" % (scales,))
    return [(float(s), f) for s in scales for f in ((False, True) if flip else (False,))]


def pass_pyramids(net, image, cfg, ctx, passes):
    """One network pass per ``(scale, flipped)`` of ``passes`` on a uint8 RGB
    image, each resampled onto the scale-1 level grids (module docstring).
    Returns ``({pass: Pyramid of float32 numpy probabilities}, reference
    geometry)``."""
    from ..data.transforms import build_transform

    reference = build_transform(cfg, False, scale=1.0).geometry(image.shape[0], image.shape[1])
    out_h, out_w = reference.out_size
    window = int(cfg.AFFINITY.WINDOW)
    out = {}
    for scale, flipped in passes:
        transform = build_transform(cfg, False, scale=scale, flip=flipped)
        geometry = transform.geometry(image.shape[0], image.shape[1])
        x = mx.nd.array(transform.apply_image(image, geometry)[None], ctx=ctx)
        probs = forward_probabilities(net, x).map(lambda m: m[0].asnumpy(),
                                                  lambda m: m[0].asnumpy())
        identity = geometry == reference
        sem, aff = [], []
        for i, s in enumerate(probs.strides):
            size = (-(-out_h // s), -(-out_w // s))
            if identity:
                warp = lambda m: m  # noqa: E731
            else:
                rows = level_coordinates(reference, geometry, s, size[0], 0)
                cols = level_coordinates(reference, geometry, s, size[1], 1)
                warp = lambda m, r=rows, c=cols: resample_level(m, r, c)  # noqa: E731
            if probs.semantic:
                sem.append(warp(probs.semantic[i]))
            if probs.affinity:
                a = warp(probs.affinity[i])
                aff.append(flip_affinity_channels(a, window) if flipped else a)
        out[(scale, flipped)] = Pyramid(probs.strides, sem, aff)
    return out, reference


def average_pyramids(pyramids):
    """The mean of probability pyramids (summed in the given order)."""
    pyramids = list(pyramids)
    if len(pyramids) == 1:
        return pyramids[0]
    n = float(len(pyramids))
    first = pyramids[0]
    sem = [sum(p.semantic[i] for p in pyramids) / n for i in range(len(first.semantic))]
    aff = [sum(p.affinity[i] for p in pyramids) / n for i in range(len(first.affinity))]
    return Pyramid(first.strides, sem, aff)


def predict_pyramid(net, image, cfg, ctx, flip=None, scales=None):
    """The pyramid of one uint8 RGB image ``(H, W, 3)``, averaged over the passes.

    ``flip``/``scales`` default to ``TEST.FLIP``/``TEST.SCALES``. Returns
    ``(pyramid, reference_geometry)``: a :class:`Pyramid` of float32 numpy
    probabilities ``(C or r*r, h_s, w_s)`` on the scale-1 level grids, and the
    scale-1 eval geometry (``reference_geometry.restore`` maps full-resolution
    maps back onto the image).
    """
    passes = passes_of(cfg, flip, scales)
    per_pass, reference = pass_pyramids(net, image, cfg, ctx, passes)
    return average_pyramids(per_pass[p] for p in passes), reference
