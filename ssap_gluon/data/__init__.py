"""Datasets on disk -> augmented samples (see docs/DESIGN.md for the sample contract).

* :class:`CityscapesInstances` — Cityscapes / SynthCity (official layout);
* :class:`CocoPanoptic` — COCO panoptic PNG + JSON;
* :mod:`~ssap_gluon.data.transforms` — train / eval transforms;
* :func:`build_dataset`, :func:`build_dataloader` — from a config.

docs/DATA.md describes layouts, encodings, augmentation and seeding.
"""
from .base import DatasetError, SegmentationDataset
from .cityscapes import CityscapesInstances, decode_cityscapes_labels
from .coco_panoptic import CocoPanoptic
from .loader import EpochSeededSampler, build_dataloader, build_dataset
from .transforms import Geometry, build_transform, eval_transform, train_transform

__all__ = ["CityscapesInstances", "CocoPanoptic", "DatasetError", "EpochSeededSampler",
           "Geometry", "SegmentationDataset", "build_dataloader", "build_dataset",
           "build_transform", "decode_cityscapes_labels", "eval_transform", "train_transform"]
