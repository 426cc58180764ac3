"""Everything the loss needs for one batch, from the labels and the config.

``build_targets(cfg, semantic, instance, thing_train_ids, rng)`` is what the
trainer calls once per iteration (numpy, on the host): the semantic labels of
every level, the affinity targets and validity of every level and the BD/OL
pixel weights (BD resampled from ``rng`` on every call).
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from .affinity import affinity_loss_weights, affinity_pyramid_targets, downsample_labels


@dataclass
class PyramidTargets:
    """Per-level targets of a batch, fine to coarse (one entry per stride).

    semantic : list of int32 (B, h, w) train ids, ``ignore_label`` = no loss;
        empty for an affinity-only model.
    affinity, affinity_valid : lists of uint8 (B, r*r, h, w), values 0/1;
        empty for a semantic-only model.
    affinity_weight : list of float32 (B, h, w) BD/OL pixel weights
        (pair weight = valid * pixel weight).
    """

    strides: Tuple[int, ...]
    semantic: List[np.ndarray] = field(default_factory=list)
    affinity: List[np.ndarray] = field(default_factory=list)
    affinity_valid: List[np.ndarray] = field(default_factory=list)
    affinity_weight: List[np.ndarray] = field(default_factory=list)
    ignore_label: int = 255

    @property
    def batch_size(self):
        first = (self.semantic or self.affinity)[0]
        return first.shape[0]

    def split(self, num_slices):
        """Split along the batch into ``num_slices`` parts (one per device),
        the way ``gluon.utils.split_data(even_split=False)`` of mxnet 1.9 splits
        the images (the first ``B % num_slices`` parts get one image more)."""
        b = self.batch_size
        if not 1 <= num_slices <= b:
            raise ValueError("cannot split a batch of %d into %d slices" % (b, num_slices))
        each, extra = divmod(b, num_slices)
        sizes = [each + 1] * extra + [each] * (num_slices - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            out.append(PyramidTargets(
                self.strides,
                [x[lo:hi] for x in self.semantic],
                [x[lo:hi] for x in self.affinity],
                [x[lo:hi] for x in self.affinity_valid],
                [x[lo:hi] for x in self.affinity_weight],
                self.ignore_label))
        return out


def _as_numpy(x, name):
    if hasattr(x, "asnumpy"):
        x = x.asnumpy()
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError("build_targets: %s must be a (B, H, W) batch, got shape %s"
                         % (name, x.shape))
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.mod(x, 1) == 0):
            raise ValueError("build_targets: %s holds non-integer values (dtype %s)"
                             % (name, x.dtype))
        x = x.astype(np.int32)
    return x


def build_targets(cfg, semantic, instance, thing_train_ids, rng, ignore_label=None):
    """Targets of every pyramid level for a batch.

    Parameters
    ----------
    cfg : CfgNode
        Reads MODEL.TASKS, MODEL.NUM_CLASSES, AFFINITY.WINDOW / STRIDES /
        DROP_ALL_ONE_PROB / THING_WEIGHT / OUTSIDE_PAIRS, INPUT.IGNORE_LABEL.
    semantic, instance : (B, H, W) integer arrays (numpy or NDArray) as in the
        sample contract (docs/DESIGN.md).
    thing_train_ids : train ids of the thing classes (dataset.thing_train_ids).
    rng : np.random.Generator, drawn from for BD (call once per iteration).

    Returns a :class:`PyramidTargets`.
    """
    ignore = cfg.INPUT.IGNORE_LABEL if ignore_label is None else ignore_label
    semantic = _as_numpy(semantic, "semantic")
    instance = _as_numpy(instance, "instance")
    if semantic.shape != instance.shape:
        raise ValueError("build_targets: semantic %s and instance %s batches differ in shape"
                         % (semantic.shape, instance.shape))
    strides = tuple(int(s) for s in cfg.AFFINITY.STRIDES)
    num_classes = cfg.MODEL.NUM_CLASSES
    # Only the subsampled pixels reach the loss, so only they are checked.
    finest = downsample_labels(semantic, min(strides))
    bad = (finest != ignore) & ((finest < 0) | (finest >= num_classes))
    if bad.any():
        raise ValueError("build_targets: semantic labels %s are neither train ids 0..%d "
                         "(MODEL.NUM_CLASSES %d) nor the ignore label %d"
                         % (np.unique(finest[bad])[:10].tolist(), num_classes - 1,
                            num_classes, ignore))
    tasks = cfg.MODEL.TASKS
    window = cfg.AFFINITY.WINDOW
    out = PyramidTargets(strides, ignore_label=ignore)
    if tasks in ("joint", "semantic"):
        out.semantic = [np.ascontiguousarray(downsample_labels(semantic, s), np.int32)
                        for s in strides]
    if tasks in ("joint", "affinity") and window > 0:
        levels = affinity_pyramid_targets(semantic, instance, window, strides,
                                          thing_train_ids, ignore, cfg.AFFINITY.OUTSIDE_PAIRS)
        for s, (target, valid) in zip(strides, levels):
            sem_s = out.semantic[strides.index(s)] if out.semantic else \
                downsample_labels(semantic, s)
            out.affinity.append(target)
            out.affinity_valid.append(valid)
            out.affinity_weight.append(affinity_loss_weights(
                target, valid, sem_s, cfg.AFFINITY.DROP_ALL_ONE_PROB,
                cfg.AFFINITY.THING_WEIGHT, rng, thing_train_ids))
    return out
