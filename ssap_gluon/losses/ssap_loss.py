"""The total training loss of Eq. 10: L = sum_i (L_s^i + alpha * lambda_i * L_a^i)."""
from collections import OrderedDict

import mxnet as mx
import numpy as np
from mxnet.gluon import Block

from ..inference.pyramid import split_outputs
from .affinity import AffinityLoss
from .focal import FocalLoss


class SSAPLoss(Block):
    """Eq. 10 over the levels of the pyramid, from a config.

    ``loss(outputs, targets) -> (total, terms)``

    * ``outputs``: the flat tuple of :class:`~ssap_gluon.model.SSAPNet`
      (semantic logits per level, then affinity logits per level);
    * ``targets``: a :class:`~ssap_gluon.targets.PyramidTargets` of the same
      images (numpy arrays are copied to the outputs' device);
    * ``total``: NDArray (1,) = sum_i (mu_i L_s^i + alpha lambda_i L_a^i) with
      mu_i = LOSS.SEMANTIC_LEVEL_WEIGHTS (1 in the paper), lambda_i =
      LOSS.LEVEL_WEIGHTS, alpha = LOSS.AFFINITY_ALPHA;
    * ``terms``: OrderedDict of the unweighted per-level values,
      ``"semantic_s4"`` ... and ``"affinity_s4"`` ..., for logging;
      ``loss.term_weights[key]`` is each one's weight in ``total``.

    ``total`` is a batch mean (focal: mean over the non-ignored pixels of the
    batch; affinity: per-image sums averaged over the images), so with one
    loss per device slice, ``trainer.step(num_slices)`` averages the slices.
    """

    def __init__(self, cfg, **kwargs):
        super().__init__(**kwargs)
        self.strides = tuple(int(s) for s in cfg.AFFINITY.STRIDES)
        tasks = cfg.MODEL.TASKS
        self.has_semantic = tasks in ("joint", "semantic")
        self.has_affinity = tasks in ("joint", "affinity") and cfg.AFFINITY.WINDOW > 0
        if tasks in ("joint", "affinity") and cfg.AFFINITY.WINDOW <= 0:
            raise ValueError("AFFINITY.WINDOW 0 trains no affinities: MODEL.TASKS must be "
                             "semantic, got %s" % tasks)
        self.window = cfg.AFFINITY.WINDOW
        self.alpha = float(cfg.LOSS.AFFINITY_ALPHA)
        self.level_weights = [float(w) for w in cfg.LOSS.LEVEL_WEIGHTS]
        self.semantic_weights = [float(w) for w in cfg.LOSS.SEMANTIC_LEVEL_WEIGHTS]
        for key, w in (("LOSS.LEVEL_WEIGHTS", self.level_weights),
                       ("LOSS.SEMANTIC_LEVEL_WEIGHTS", self.semantic_weights)):
            if len(w) != len(self.strides):
                raise ValueError("%s: need one weight per level of AFFINITY.STRIDES %r, got %r"
                                 % (key, list(self.strides), w))
        # the weight of every logged term in the total (so the terms sum to it)
        self.term_weights = OrderedDict()
        if self.has_semantic:
            for s, w in zip(self.strides, self.semantic_weights):
                self.term_weights["semantic_s%d" % s] = w
        if self.has_affinity:
            for s, w in zip(self.strides, self.level_weights):
                self.term_weights["affinity_s%d" % s] = self.alpha * w
        with self.name_scope():
            self.focal = FocalLoss(cfg.LOSS.FOCAL_GAMMA, cfg.INPUT.IGNORE_LABEL)
            self.affinity = AffinityLoss(cfg.LOSS.AFFINITY_NORMALIZATION)

    def forward(self, outputs, targets):
        # the levels are read by stride through the network's own output layout
        pyramid = split_outputs(outputs, self.strides, self.has_semantic, self.has_affinity)
        if tuple(targets.strides) != self.strides:
            raise ValueError("SSAPLoss: targets have strides %r, the config %r"
                             % (list(targets.strides), list(self.strides)))
        maps = pyramid.semantic or pyramid.affinity
        ctx = maps[0].context
        terms = OrderedDict()
        total = mx.nd.zeros((1,), ctx=ctx)
        if self.has_semantic:
            if len(targets.semantic) != len(self.strides):
                raise ValueError("SSAPLoss: targets carry no semantic labels; build them "
                                 "with the same config (MODEL.TASKS)")
            for i, s in enumerate(self.strides):
                logits = _float32(pyramid.semantic_at(s))
                label = _to_nd(targets.semantic[i], ctx)
                _check_shape("semantic", s, logits, label.shape, 1)
                term = self.focal(logits, label)
                terms["semantic_s%d" % s] = term
                total = total + self.term_weights["semantic_s%d" % s] * term
        if self.has_affinity:
            if len(targets.affinity) != len(self.strides):
                raise ValueError("SSAPLoss: targets carry no affinities; build them with the "
                                 "same config (MODEL.TASKS, AFFINITY.WINDOW)")
            for i, s in enumerate(self.strides):
                logits = _float32(pyramid.affinity_at(s))
                target = _to_nd(targets.affinity[i], ctx)
                if logits.shape[1] != target.shape[1]:
                    raise ValueError("SSAPLoss: level 1/%d has %d affinity channels, targets %d "
                                     "(AFFINITY.WINDOW %d)" % (s, logits.shape[1],
                                                               target.shape[1], self.window))
                _check_shape("affinity", s, logits, target.shape, 0)
                term = self.affinity(logits, target, _to_nd(targets.affinity_valid[i], ctx),
                                     _to_nd(targets.affinity_weight[i], ctx))
                terms["affinity_s%d" % s] = term
                total = total + self.term_weights["affinity_s%d" % s] * term
        return total, terms


def upload_targets(targets, ctx):
    """The arrays of a :class:`~ssap_gluon.targets.PyramidTargets` as float32
    NDArrays on ``ctx`` (small dtypes copied as they are, cast on the device).

    Copying from numpy is host-synchronous; the trainer calls this in its main
    thread, never in a device thread (docs/TRAINING.md, devices.py)."""
    from dataclasses import replace

    def up(arrays):
        return [_to_nd(a, ctx) for a in arrays]

    return replace(targets, semantic=up(targets.semantic), affinity=up(targets.affinity),
                   affinity_valid=up(targets.affinity_valid),
                   affinity_weight=up(targets.affinity_weight))


def _float32(x):
    return x if x.dtype == np.float32 else x.astype("float32")


def _to_nd(x, ctx):
    """Host array -> float32 NDArray on ``ctx`` (small dtypes are copied as they
    are and cast on the device)."""
    if isinstance(x, mx.nd.NDArray):
        x = x.as_in_context(ctx)
        return x if x.dtype == np.float32 else x.astype("float32")
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.uint8):
        x = x.astype(np.float32)
    nd = mx.nd.array(x, ctx=ctx, dtype=x.dtype)
    return nd if x.dtype == np.float32 else nd.astype("float32")


def _check_shape(kind, stride, logits, target_shape, skip):
    """Logits (B, K, h, w) against targets (B, h, w) [skip=1] or (B, K, h, w) [skip=0]."""
    want = (logits.shape[0],) + tuple(logits.shape[2:])
    got = (target_shape[0],) + tuple(target_shape[2 - skip:])
    if want != got:
        raise ValueError("SSAPLoss: %s level 1/%d: network output %s does not match targets %s "
                         "(input H, W must be multiples of the coarsest stride)"
                         % (kind, stride, tuple(logits.shape), tuple(target_shape)))
