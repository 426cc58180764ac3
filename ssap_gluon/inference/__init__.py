"""Inference, the network side: an image in, instances out (paper Sec. 3.2).

* :class:`Pyramid` -- the network's semantic and affinity maps per level,
  indexed by stride (logits or probabilities);
* :func:`load_weights` -- weights from a ``.params`` file (float32 / float16)
  or a checkpoint directory, with errors that name the file;
* :mod:`~ssap_gluon.inference.test_time` -- one pass, horizontal flip and
  multi-scale averaging of the pyramid;
* :mod:`~ssap_gluon.inference.instances` -- the cascade's 1/4 labels ->
  instances (class vote, score, size filter), panoptic and semantic maps;
* :class:`Predictor` -- the chain, with per-frame network and graph times.

The graph side (Eq. 2-8 and the cascade) is :mod:`ssap_gluon.partition`, on
plain numpy arrays. See docs/INFERENCE.md.
"""
import importlib

# Lazy (PEP 562): ssap_gluon.model imports the Pyramid from here, and the
# predictor imports the model.
_EXPORTS = {
    "Pyramid": "pyramid", "split_outputs": "pyramid",
    "WeightsError": "weights", "load_weights": "weights", "resolve_weights": "weights",
    "forward_probabilities": "network", "upsample_level": "network",
    "predict_semantic": "network",
    "predict_pyramid": "test_time",
    "FrameInstances": "instances", "assemble_instances": "instances",
    "Predictor": "predictor", "FramePrediction": "predictor",
    "oracle_pyramid": "oracle", "noisy_pyramid": "oracle",
    "fig6_panel": "panels", "fig7_panel": "panels",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module("." + _EXPORTS[name], __name__), name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(list(globals()) + __all__)
