"""From the cascade's instance labels to what the evaluators take (Sec. 3.2, end).

For one frame, from the finest level's instance labels (``-1`` = none), its
semantic probabilities and the frame's scale-1 geometry:

* class of an instance: majority vote of the semantic argmax over its pixels
  at the finest level (ties: the lower class index);
* score (``TEST.SCORE``): ``"semantic"`` = mean probability of that class over
  the instance's pixels; ``"semantic_x_affinity"`` = that times the mean Eq. 2
  affinity of the pairs inside the instance (1 for an instance without one);
* full resolution (``TEST.MASK_UPSAMPLING``): ``"nearest"`` upsamples the
  label map with the network's sampling convention (level pixel ``i`` of
  stride ``s`` is input pixel ``s*i``; an input pixel takes the nearest level
  pixel, ties to the later one); ``"semantic"`` gives every thing pixel of
  the full-resolution semantic map the label of the nearest instance pixel
  within one level pixel (the thing/stuff border then follows the bilinearly
  upsampled semantic scores). Then the eval geometry's padding / resize is
  undone (``Geometry.restore``, nearest);
* instances with fewer than ``TEST.MIN_INSTANCE_AREA`` full-resolution pixels
  are dropped (their pixels are "no instance");
* semantic map: the finest semantic probabilities upsampled bilinearly (same
  convention), restored, argmax;
* panoptic map: stuff pixels from the semantic map, thing pixels from the
  instances (a thing pixel outside every kept instance is unlabelled, 0).
  Segment ids follow cityscapesScripts: ``label_id`` for stuff,
  ``label_id * 1000 + k`` for the k-th instance of a class.
"""
from dataclasses import dataclass

import numpy as np

from ..partition.graph import level_pairs

__all__ = ["FrameInstances", "assemble_instances", "upsample_labels", "SCORES", "MASK_MODES"]

SCORES = ("semantic", "semantic_x_affinity")
MASK_MODES = ("nearest", "semantic")
OFFSET = 1000  # segment id of instance k of a class: label_id * 1000 + k


@dataclass
class FrameInstances:
    """One frame's predictions at full resolution.

    instance_map : int32 (H, W), index into the arrays below or -1.
    classes : int (K,) class index of each instance; label_ids : dataset label
        id (Cityscapes labelId / COCO category id); scores : float (K,);
        areas : int (K,) full-resolution pixels.
    semantic : int32 (H, W) class index per pixel.
    panoptic : int32 (H, W) segment id per pixel (0 = unlabelled);
        segments : {segment id: label id}.
    """

    instance_map: np.ndarray
    classes: np.ndarray
    label_ids: np.ndarray
    scores: np.ndarray
    areas: np.ndarray
    semantic: np.ndarray
    panoptic: np.ndarray
    segments: dict

    def __len__(self):
        return int(self.classes.size)

    def instances(self):
        """``[(mask bool (H, W), label_id, score)]`` -- what
        ``write_instance_predictions`` takes."""
        return [(self.instance_map == k, int(self.label_ids[k]), float(self.scores[k]))
                for k in range(len(self))]


def upsample_labels(labels, stride, out_size):
    """Nearest upsampling of a level label map ``(h, w)`` to ``out_size``: input
    pixel ``y`` takes level pixel ``floor(y / stride + 1/2)`` (clipped)."""
    labels = np.asarray(labels)
    rows = np.minimum((2 * np.arange(out_size[0]) + stride) // (2 * stride), labels.shape[0] - 1)
    cols = np.minimum((2 * np.arange(out_size[1]) + stride) // (2 * stride), labels.shape[1] - 1)
    return labels[rows][:, cols]


def _internal_affinity(labels, affinity, window, num):
    """Mean Eq. 2 affinity of the window pairs inside each instance (1 if none)."""
    h, w = labels.shape
    pixels = np.flatnonzero(labels.ravel() >= 0)
    u, v, cu, j, cv, j_back = level_pairs(pixels, w, h, window)
    flat = labels.ravel()
    inside = flat[v] == flat[u]
    aff = affinity.reshape(affinity.shape[0], -1)
    alpha = (aff[j[inside], cu[inside]].astype(np.float64) + aff[j_back[inside], cv[inside]]) / 2
    lab = flat[u[inside]]
    sums = np.bincount(lab, weights=alpha, minlength=num)
    counts = np.bincount(lab, minlength=num)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)


def assemble_instances(labels, semantic_probs, stride, geometry, label_ids, thing_classes,
                       min_area=0, score="semantic", affinity=None, window=None,
                       semantic_full=None, mask_mode="nearest"):
    """Instances, semantic and panoptic maps of one frame (module docstring).

    Parameters
    ----------
    labels : int (h, w) instance id per finest-level pixel, -1 = none
        (``CascadeResult.labels``).
    semantic_probs : float (C, h, w) finest-level class probabilities.
    stride : the finest level's stride.
    geometry : the frame's scale-1 eval geometry (its ``out_size`` is the
        padded network input; ``restore`` maps onto the original frame).
    label_ids : int (C,) dataset label id of every class index.
    thing_classes : class indices that are things.
    min_area, score : ``TEST.MIN_INSTANCE_AREA``, ``TEST.SCORE``.
    affinity, window : finest-level affinities (r*r, h, w) and r, for
        ``score="semantic_x_affinity"``.
    semantic_full : optional int (H, W) class map at full resolution (else
        made from ``semantic_probs``; see :func:`semantic_at_full_resolution`).
    mask_mode : ``TEST.MASK_UPSAMPLING`` (module docstring).
    """
    if score not in SCORES:
        raise ValueError("TEST.SCORE must be one of %s, got %r" % (SCORES, score))
    if mask_mode not in MASK_MODES:
        raise ValueError("TEST.MASK_UPSAMPLING must be one of %s, got %r"
                         % (MASK_MODES, mask_mode))
    labels = np.asarray(labels)
    probs = np.asarray(semantic_probs)
    num_classes = probs.shape[0]
    label_ids = np.asarray(label_ids)
    if label_ids.shape != (num_classes,):
        raise ValueError("label_ids must give one label id per class (%d), got shape %s"
                         % (num_classes, label_ids.shape))
    if labels.shape != probs.shape[1:]:
        raise ValueError("instance labels %s and semantic probabilities %s differ in size"
                         % (labels.shape, probs.shape[1:]))
    num = int(labels.max()) + 1 if labels.size else 0
    argmax = probs.argmax(axis=0)
    inside = labels >= 0
    lab = labels[inside].astype(np.int64)
    # class vote (Sec. 3.2: "voting among all pixels based on semantic labels")
    votes = np.bincount(lab * num_classes + argmax[inside], minlength=num * num_classes)
    votes = votes.reshape(num, num_classes)
    cls = votes.argmax(axis=1) if num else np.zeros(0, np.int64)
    # score: mean probability of the voted class over the instance
    counts = np.bincount(lab, minlength=num)
    p = probs[cls[lab], np.nonzero(inside)[0], np.nonzero(inside)[1]] if num else np.zeros(0)
    scores = np.bincount(lab, weights=p, minlength=num) / np.maximum(counts, 1)
    if score == "semantic_x_affinity" and num:
        if affinity is None or window is None:
            raise ValueError("TEST.SCORE semantic_x_affinity needs the finest affinities")
        scores = scores * _internal_affinity(labels, np.asarray(affinity), int(window), num)

    out_h, out_w = geometry.out_size
    if semantic_full is None:
        semantic_full = semantic_at_full_resolution(probs, stride, geometry)
    semantic_full = np.asarray(semantic_full, dtype=np.int32)
    if mask_mode == "semantic":
        near = _nearest_instance(labels, reach=1)
        full = geometry.restore(upsample_labels(near, stride, (out_h, out_w)), "nearest")
        things = np.zeros(num_classes, bool)
        things[list(thing_classes)] = True
        full = np.where(things[semantic_full], full, -1)
    else:
        full = geometry.restore(upsample_labels(labels, stride, (out_h, out_w)), "nearest")
    areas = np.bincount(full[full >= 0].ravel(), minlength=num) if num else np.zeros(0, np.int64)
    keep = areas >= max(int(min_area), 1)
    new_index = np.full(num, -1, np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    instance_map = np.full(full.shape, -1, np.int32)
    inside = full >= 0
    instance_map[inside] = new_index[full[inside]]
    cls, scores, areas = cls[keep], scores[keep], areas[keep]
    panoptic, segments = _panoptic(instance_map, cls, semantic_full, label_ids, thing_classes)
    return FrameInstances(instance_map=instance_map, classes=cls.astype(np.int64),
                          label_ids=label_ids[cls].astype(np.int64),
                          scores=scores.astype(np.float64), areas=areas.astype(np.int64),
                          semantic=semantic_full, panoptic=panoptic, segments=segments)


def _nearest_instance(labels, reach):
    """Every pixel within ``reach`` (Chebyshev) of an instance pixel takes the
    label of the nearest one (Euclidean); instance pixels keep theirs."""
    from scipy import ndimage

    none = labels < 0
    if not none.any() or none.all():
        return labels
    dist, (iy, ix) = ndimage.distance_transform_edt(none, return_indices=True)
    near = labels[iy, ix]
    return np.where(dist <= reach * np.sqrt(2) + 1e-9, near, -1).astype(labels.dtype)


def semantic_at_full_resolution(semantic_probs, stride, geometry):
    """Class map (H, W) of the original frame: the finest level's probabilities
    upsampled bilinearly with the offset-0 convention, restored, argmax."""
    import mxnet as mx

    from .network import upsample_level

    probs = mx.nd.array(np.asarray(semantic_probs, np.float32)[None])
    up = upsample_level(probs, stride, geometry.out_size)[0]
    if geometry.scaled_size == tuple(geometry.source_size) and not geometry.flip \
            and geometry.offset == (0, 0):
        # padding only (the usual scale-1 case): crop on the device, argmax there
        h, w = geometry.source_size
        return up[:, :h, :w].argmax(axis=0).asnumpy().astype(np.int32)
    return geometry.restore(up.asnumpy(), "bilinear").argmax(axis=0).astype(np.int32)


def _panoptic(instance_map, classes, semantic, label_ids, thing_classes):
    things = np.zeros(label_ids.shape[0], bool)
    things[list(thing_classes)] = True
    panoptic = np.zeros(semantic.shape, np.int32)
    segments = {}
    stuff = ~things[semantic]
    for c in np.unique(semantic[stuff]):
        lid = int(label_ids[c])
        panoptic[(semantic == c) & stuff] = lid
        segments[lid] = lid
    per_class = {}
    if classes.size:
        ids = np.zeros(classes.size, np.int64)
        for k, c in enumerate(classes):
            lid = int(label_ids[c])
            n = per_class.get(lid, 0)
            per_class[lid] = n + 1
            ids[k] = lid * OFFSET + n
            segments[int(ids[k])] = lid
        where = instance_map >= 0
        panoptic[where] = ids[instance_map[where]]
    return panoptic, segments
