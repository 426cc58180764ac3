"""The whole inference chain of one frame: network -> cascade -> instances.

>>> predictor = Predictor.from_config(cfg, weights="model_final.params", dataset=val)
>>> frame = predictor(image)          # uint8 (H, W, 3) RGB
>>> frame.instances.instances()       # [(mask, label_id, score)]
>>> frame.network_seconds, frame.gp_seconds

``gp_seconds`` is the paper's "GP time" (Table 4): the cascaded graph
partition of one frame, from the probability pyramid to the finest level's
instance labels (graph building, multicuts, contraction, proposals,
refinement), wall time.
"""
import os
import time
from dataclasses import dataclass

import numpy as np

from ..partition.cascade import CascadeResult, cascaded_partition
from ..partition.multicut import multicut_options
from .instances import FrameInstances, assemble_instances
from .test_time import predict_pyramid

__all__ = ["Predictor", "FramePrediction", "cascade_options"]


@dataclass
class FramePrediction:
    """One frame: its instances (full resolution), the cascade's result, the
    probability pyramid, the scale-1 eval geometry, and the times of the
    network, the graph partition (the paper's GP time) and the assembly."""

    instances: FrameInstances
    cascade: CascadeResult
    pyramid: object
    geometry: object
    network_seconds: float
    gp_seconds: float
    assemble_seconds: float


def cascade_options(cfg):
    """Keyword arguments of :func:`~ssap_gluon.partition.cascaded_partition`
    from a config's ``TEST.*`` keys."""
    t = cfg.TEST
    threads = int(t.NUM_THREADS) or (os.cpu_count() or 1)
    return {
        "init_stride": int(t.CASCADE_INIT_STRIDE),
        "affinity_strides": [int(s) for s in t.AFFINITY_STRIDES],
        "long_range_edges": bool(t.LONG_RANGE_EDGES),
        "erosion": int(t.PROPOSAL_EROSION),
        "proposal_check": bool(t.PROPOSAL_CHECK),
        "refinement": bool(t.SEGMENTATION_REFINEMENT),
        "refinement_seed": t.REFINEMENT_SEED,
        "eps": float(t.AFFINITY_EPS),
        "multicut_options": multicut_options(cfg),
        "num_threads": threads,
    }


class Predictor:
    """Chains :func:`predict_pyramid`, :func:`cascaded_partition` and
    :func:`assemble_instances` with one config.

    ``net`` may be ``None`` to run the graph side only (:meth:`from_pyramid`,
    e.g. on oracle pyramids or another network's outputs).
    """

    def __init__(self, cfg, net, ctx, thing_classes, label_ids):
        self.cfg = cfg
        self.net = net
        self.ctx = ctx
        self.thing_classes = [int(c) for c in thing_classes]
        self.label_ids = np.asarray(label_ids)
        self.window = int(cfg.AFFINITY.WINDOW)
        self.strides = [int(s) for s in cfg.AFFINITY.STRIDES]
        self.options = cascade_options(cfg)

    @classmethod
    def from_config(cls, cfg, weights=None, dataset=None, ctx=None, net=None):
        """Build the network of ``cfg`` (and load ``weights``) on ``ctx``
        (default: the first of ``TRAIN.DEVICES``); classes from ``dataset``
        (default: :func:`~ssap_gluon.data.dataset_classes` of ``cfg``)."""
        import mxnet as mx

        from ..model import build_model
        from ..training.devices import parse_devices
        from .weights import load_weights

        if ctx is None:
            ctx = parse_devices(cfg.TRAIN.DEVICES)[0]
        if net is None:
            net = build_model(cfg, num_devices=1, ctx=ctx)
            if weights is not None:
                load_weights(net, weights, ctx)
            if cfg.TRAIN.HYBRIDIZE:
                net.hybridize(static_alloc=True)
        if dataset is None:
            from ..data import dataset_classes

            dataset = dataset_classes(cfg)
        mx.nd.waitall()
        return cls(cfg, net, ctx, dataset.thing_train_ids, dataset.label_ids)

    # ---------------------------------------------------------------- stages
    def network(self, image):
        """``(pyramid, geometry, seconds)`` of one uint8 RGB image."""
        start = time.perf_counter()
        pyramid, geometry = predict_pyramid(self.net, image, self.cfg, self.ctx)
        return pyramid, geometry, time.perf_counter() - start

    def partition(self, pyramid):
        """The cascade on a probability :class:`Pyramid` (numpy)."""
        affinities = list(pyramid.affinity) if pyramid.affinity else [None] * len(
            pyramid.strides)
        return cascaded_partition(pyramid.semantic, affinities, pyramid.strides, self.window,
                                  self.thing_classes, **self.options)

    def assemble(self, result, pyramid, geometry):
        s = pyramid.finest
        return assemble_instances(
            result.labels, pyramid.semantic_at(s), s, geometry, self.label_ids,
            self.thing_classes, min_area=self.cfg.TEST.MIN_INSTANCE_AREA,
            score=self.cfg.TEST.SCORE,
            affinity=pyramid.affinity_at(s) if pyramid.affinity else None,
            window=self.window, mask_mode=self.cfg.TEST.MASK_UPSAMPLING)

    # ------------------------------------------------------------------ chain
    def from_pyramid(self, pyramid, geometry, network_seconds=0.0):
        start = time.perf_counter()
        result = self.partition(pyramid)
        gp = time.perf_counter() - start
        start = time.perf_counter()
        frame = self.assemble(result, pyramid, geometry)
        return FramePrediction(frame, result, pyramid, geometry, network_seconds, gp,
                               time.perf_counter() - start)

    def __call__(self, image):
        if self.net is None:
            raise ValueError("this Predictor has no network; use from_pyramid()")
        pyramid, geometry, seconds = self.network(image)
        return self.from_pyramid(pyramid, geometry, seconds)
