"""Ground-truth affinity pyramid (Sec. 3.1, Fig. 2) and its BD/OL weights.

Conventions shared with the network and the graph code (docs/DESIGN.md):

* Level of stride s: labels are subsampled by taking every s-th pixel starting
  at 0 (``label[..., ::s, ::s]``): level pixel (i, j) is input pixel (s*i, s*j),
  the pixel a stride-s conv with padding K//2 centres its output on. Never
  interpolated (interpolation would invent ids).
* Channel j of an r x r window is the offset (dy, dx) = (j // r - r // 2,
  j % r - r // 2), row-major.
* Regions: every thing instance (instance id > 0) is its own region; all
  stuff and background pixels (id 0) form one region. A pair is *valid*
  unless one of its pixels is void or crowd: instance id < 0, semantic ==
  ignore label, or a thing-class pixel without an instance id. Target 1 =
  same region, 0 = different region (and 0 for invalid pairs, which carry no
  loss).
* Pairs whose neighbour lies outside the level map (``outside``,
  ``AFFINITY.OUTSIDE_PAIRS``): ``"ignore"`` (default) masks them -- a training
  crop cuts objects, and "different instance" at the crop border would teach
  the net that objects end there (at 1/64 of a 512x1024 crop 21 % of all pairs
  reach outside); ``"background"`` treats the outside as background (target 0
  from an instance, 1 from stuff).
"""
import numpy as np


def window_offsets(window):
    """[(dy, dx)] of the r*r channels, row-major (channel j = index j)."""
    half = window // 2
    return [(j // window - half, j % window - half) for j in range(window * window)]


def downsample_labels(label, stride):
    """Nearest subsampling of (..., H, W) labels to stride ``stride`` (offset 0)."""
    return label[..., ::stride, ::stride]


def region_map(semantic, instance, thing_train_ids, ignore_label=255):
    """Region id per pixel: -1 masked (void/crowd), 0 stuff+background, >0 instance.

    ``semantic`` and ``instance`` are integer arrays of the same shape.
    """
    semantic = np.asarray(semantic)
    instance = np.asarray(instance)
    if semantic.shape != instance.shape:
        raise ValueError("affinity targets: semantic %s and instance %s maps differ in shape"
                         % (semantic.shape, instance.shape))
    region = np.maximum(instance, 0).astype(np.int32)
    masked = (instance < 0) | (semantic == ignore_label)
    if len(thing_train_ids):
        # A thing-class pixel without an instance id is a crowd/group region.
        masked |= (instance == 0) & np.isin(semantic, np.asarray(thing_train_ids))
    region[masked] = -1
    return region


OUTSIDE_PAIRS = ("ignore", "background")


def affinity_targets(region, window, outside="ignore"):
    """Targets and validity of one level from its region map.

    Parameters
    ----------
    region : int array (H, W) or (B, H, W), from :func:`region_map`
    window : odd int r
    outside : "ignore" | "background"
        Pairs whose neighbour lies outside the map: masked, or the neighbour
        is background (module docstring).

    Returns
    -------
    target, valid : uint8 arrays (r*r, H, W) or (B, r*r, H, W), values 0/1
        (uint8, not float32: a quarter of the memory to fill and to copy to
        the devices; the loss casts on the device).
    """
    if window < 1 or window % 2 == 0:
        raise ValueError("affinity targets: window r must be odd and >= 1, got %r" % (window,))
    if outside not in OUTSIDE_PAIRS:
        raise ValueError("affinity targets: outside must be one of %s, got %r"
                         % (OUTSIDE_PAIRS, outside))
    region = np.asarray(region, dtype=np.int32)
    single = region.ndim == 2
    if single:
        region = region[None]
    if region.ndim != 3:
        raise ValueError("affinity targets: expected a (H, W) or (B, H, W) map, got shape %s"
                         % (region.shape,))
    b, h, w = region.shape
    half = window // 2
    # The border is region -1 (masked) or 0 (background, valid).
    padded = np.full((b, h + 2 * half, w + 2 * half), -1 if outside == "ignore" else 0,
                     np.int32)
    padded[:, half:half + h, half:half + w] = region
    center_valid = (region >= 0)[:, None]
    same = np.empty((b, window * window, h, w), bool)
    valid = np.empty((b, window * window, h, w), bool)
    for j, (dy, dx) in enumerate(window_offsets(window)):
        other = padded[:, half + dy:half + dy + h, half + dx:half + dx + w]
        # Equal ids with a valid centre imply a valid neighbour (ids >= 0).
        np.equal(other, region, out=same[:, j])
        np.greater_equal(other, 0, out=valid[:, j])
    same &= center_valid
    valid &= center_valid
    target, valid = same.view(np.uint8), valid.view(np.uint8)
    if single:
        return target[0], valid[0]
    return target, valid


def affinity_pyramid_targets(semantic, instance, window, strides, thing_train_ids,
                             ignore_label=255, outside="ignore"):
    """Affinity targets at every level of the pyramid.

    ``semantic``/``instance``: (H, W) or (B, H, W) integer maps following the
    sample contract (docs/DESIGN.md). Returns one ``(target, valid)`` pair of
    uint8 0/1 arrays ``(r*r, h, w)`` (or ``(B, r*r, h, w)``) per stride, where
    ``h = ceil(H / s)``.
    """
    strides = [int(s) for s in strides]
    finest = min(strides)
    if any(s % finest for s in strides):
        raise ValueError("affinity targets: strides %r must be multiples of the finest" % strides)
    # Region ids are per pixel, so subsampling first gives the same maps at a
    # fraction of the cost.
    region = region_map(downsample_labels(np.asarray(semantic), finest),
                        downsample_labels(np.asarray(instance), finest),
                        thing_train_ids, ignore_label)
    return [affinity_targets(downsample_labels(region, s // finest), window, outside)
            for s in strides]


def all_one_pixels(target, valid):
    """Pixels whose valid targets are all 1 (and whose centre is valid).

    ``target``/``valid``: (..., r*r, H, W). A pair marked invalid does not stop a
    pixel from being all-one: BD balances what the loss sees.
    """
    r2 = target.shape[-3]
    # target <= valid everywhere, so "every valid pair is 1" is "no pair differs".
    return ~np.any(target != valid, axis=-3) & (valid[..., r2 // 2, :, :] > 0)


def affinity_loss_weights(target, valid, semantic, drop_prob, thing_weight, rng,
                          thing_train_ids):
    """Per-pixel affinity-loss weights of one level: BD and OL (Sec. 3.1).

    * BD: each pixel whose valid targets are all 1 is dropped (weight 0) with
      probability ``drop_prob``, drawn from ``rng`` -- call once per iteration
      so the drop is resampled;
    * OL: pixels whose ground-truth class (``semantic``, this level's
      subsampled train ids) is a thing class get ``thing_weight``, others 1.

    The weight of pair j at a pixel is ``valid[j] * weight`` (masked pairs
    carry no loss); the loss forms that product on the device.

    ``target``, ``valid``: (r*r, H, W) or (B, r*r, H, W); ``semantic``: (H, W) or
    (B, H, W); ``rng``: ``np.random.Generator``. Returns float32 (H, W) or
    (B, H, W).
    """
    semantic = np.asarray(semantic)
    if semantic.shape != target.shape[:-3] + target.shape[-2:]:
        raise ValueError("affinity loss weights: semantic map %s does not match targets %s"
                         % (semantic.shape, target.shape))
    if not 0.0 <= drop_prob <= 1.0:
        raise ValueError("affinity loss weights: drop_prob must be in [0, 1], got %r"
                         % (drop_prob,))
    weight = np.ones(semantic.shape, np.float32)
    if thing_weight != 1.0 and len(thing_train_ids):
        weight[np.isin(semantic, np.asarray(thing_train_ids))] = thing_weight
    if drop_prob > 0:
        dropped = all_one_pixels(target, valid) & (rng.random(semantic.shape) < drop_prob)
        weight[dropped] = 0.0
    return weight
