"""Datasets on disk -> augmented samples (see docs/DESIGN.md for the sample contract).

* :class:`CityscapesInstances` — Cityscapes / SynthCity (official layout);
* :class:`CocoPanoptic` — COCO panoptic PNG + JSON;
* :mod:`~ssap_gluon.data.transforms` — train / eval transforms;
* :func:`build_dataset`, :func:`build_dataloader` — from a config.

docs/DATA.md describes layouts, encodings, augmentation and seeding.
"""
import importlib

# Lazy re-exports (PEP 562): the SynthCity generator's spawned workers import
# ssap_gluon.data.synthcity, and must not pay for importing mxnet (~2.6 s each)
# through the loader modules they never use.
_EXPORTS = {
    "DatasetError": "base", "SegmentationDataset": "base",
    "CityscapesInstances": "cityscapes", "decode_cityscapes_labels": "cityscapes",
    "CocoPanoptic": "coco_panoptic",
    "EpochSeededSampler": "loader", "build_dataloader": "loader", "build_dataset": "loader",
    "DatasetClasses": "loader", "dataset_classes": "loader",
    "Geometry": "transforms", "build_transform": "transforms", "eval_transform": "transforms",
    "train_transform": "transforms",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module("." + _EXPORTS[name], __name__), name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(list(globals()) + __all__)
