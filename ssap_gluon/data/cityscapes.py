"""Cityscapes (and SynthCity) fine annotations -> semantic train ids + instance ids.

Layout (the official one; SynthCity writes the same)::

    <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png

``labelIds`` is a uint8 map of raw label ids; ``instanceIds`` is a uint16 map
holding ``labelId * 1000 + k`` on each instance of a thing class and the plain
label id everywhere else (including crowd/group regions of thing classes).
"""
import collections
import glob
import os

import cv2
import numpy as np

from ..utils.io import read_image
from . import labels as L
from .base import DatasetError, SegmentationDataset, resolve_root

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
#: Splits whose labels are placeholders (the official test split ships
#: all-zero "dummy" labels): they load images only unless told otherwise.
UNLABELED_SPLITS = ("test",)

CityscapesRecord = collections.namedtuple(
    "CityscapesRecord", "name image_path label_path instance_path")


def decode_cityscapes_labels(label_ids, instance_ids, label_path="labelIds",
                             instance_path="instanceIds", ignore_label=L.IGNORE_LABEL):
    """Raw ``labelIds`` + ``instanceIds`` maps -> ``(semantic, instance)`` int32.

    * semantic: train id through the official table; 255 (``ignore_label``)
      for every label without a train id (void, caravan, trailer, ...).
    * instance: the ``instanceIds`` value on instances of the 8 evaluated
      thing classes; -1 on their crowd/group regions (value < 1000), on void
      pixels and on thing classes excluded from evaluation; 0 elsewhere.

    Raises :class:`DatasetError` naming the file for a label id that is not
    in cityscapesScripts' table, or for maps that disagree with each other.
    """
    if label_ids.shape != instance_ids.shape:
        raise DatasetError("%s has shape %s but %s has shape %s"
                           % (label_path, label_ids.shape, instance_path, instance_ids.shape))
    # cv2.calcHist / cv2.LUT on the uint8 map: several times faster than numpy at 1024x2048.
    counts = cv2.calcHist([label_ids], [0], None, [256], [0, 256]).ravel()
    unknown = np.flatnonzero((counts > 0) & ~L.KNOWN_LABEL_IDS)
    if unknown.size:
        raise DatasetError("%s: label id(s) %s are not in cityscapesScripts' label table"
                           % (label_path, ", ".join(map(str, unknown.tolist()))))

    if instance_ids.dtype not in (np.uint8, np.uint16) and instance_ids.size and (
            instance_ids.min() < 0 or instance_ids.max() > np.iinfo(np.uint16).max):
        raise DatasetError("%s: instanceIds outside 0..65535" % instance_path)
    # uint16 arithmetic throughout: integer division is several times faster than on int32.
    instance16 = instance_ids.astype(np.uint16, copy=False)
    labels16 = label_ids.astype(np.uint16)
    has_id = instance16 >= L.INSTANCE_ID_OFFSET
    # Both files come from the same polygons: an instance's label id is its
    # instanceId // 1000, elsewhere instanceId == labelId. A mismatch means
    # files of different frames or a damaged file.
    bad = (instance16 != labels16) & (
        ~has_id | (instance16 // np.uint16(L.INSTANCE_ID_OFFSET) != labels16))
    if bad.any():
        y, x = np.argwhere(bad)[0]
        raise DatasetError(
            "%s and %s disagree on %d pixel(s), e.g. at row %d, column %d: labelId %d "
            "but instanceId %d" % (label_path, instance_path, int(bad.sum()), y, x,
                                   label_ids[y, x], instance_ids[y, x]))

    train8 = cv2.LUT(label_ids, L.LABEL_ID_TO_TRAIN_ID)
    semantic = train8.astype(np.int32)
    if ignore_label != L.IGNORE_LABEL:
        semantic[train8 == L.IGNORE_LABEL] = ignore_label
    instance = cv2.LUT(label_ids, L.LABEL_ID_TO_PLAIN_INSTANCE).astype(np.int32)
    thing = cv2.LUT(label_ids, L._EVALUATED_THING_U8).view(bool)
    np.copyto(instance, instance16, where=thing & has_id)
    return semantic, instance


def list_cityscapes_frames(root, split, with_labels=True):
    """Sorted :class:`CityscapesRecord` of every frame of ``split`` under ``root``.

    Checks up front that each image has its two label files (when
    ``with_labels``), so a missing file fails at construction, not mid-epoch.
    """
    image_dir = os.path.join(root, "leftImg8bit", split)
    if not os.path.isdir(image_dir):
        raise DatasetError("Cityscapes split %r not found: expected the folder %s"
                           % (split, image_dir))
    images = sorted(glob.glob(os.path.join(image_dir, "*", "*" + IMAGE_SUFFIX)))
    if not images:
        raise DatasetError("no images *%s in %s/<city>/" % (IMAGE_SUFFIX, image_dir))
    records = []
    for image_path in images:
        city = os.path.basename(os.path.dirname(image_path))
        name = os.path.basename(image_path)[:-len(IMAGE_SUFFIX)]
        gt_dir = os.path.join(root, "gtFine", split, city)
        record = CityscapesRecord(name, image_path,
                                  os.path.join(gt_dir, name + LABEL_SUFFIX),
                                  os.path.join(gt_dir, name + INSTANCE_SUFFIX))
        if with_labels:
            for path in (record.label_path, record.instance_path):
                if not os.path.isfile(path):
                    raise DatasetError("missing label file %s (for image %s)"
                                       % (path, image_path))
        records.append(record)
    return records


class CityscapesInstances(SegmentationDataset):
    """The Cityscapes fine split ``split`` as samples of the sample contract.

    Args:
        root: dataset folder (holding ``leftImg8bit/`` and ``gtFine/``); empty:
            ``$CITYSCAPES_DATASET``.
        split: ``train``, ``val`` or ``test`` (any folder name under ``leftImg8bit``).
        transform: ``f(image, semantic, instance, rng=None) -> sample``; ``None``
            returns the raw ``load`` output (uint8 HWC image).
        with_labels: read the label files; default: ``True`` except for the
            ``test`` split, whose official labels are dummies (then semantic is
            all ignore and instance all -1).
        ignore_label: semantic value of void pixels.
    """

    num_classes = L.NUM_CLASSES
    class_names = L.CLASS_NAMES
    thing_train_ids = L.THING_TRAIN_IDS
    #: Cityscapes labelId of every class index (train id): what predictions
    #: for the official evaluators are written in.
    label_ids = L.TRAIN_ID_TO_LABEL_ID

    def __init__(self, root="", split="train", transform=None, with_labels=None,
                 ignore_label=L.IGNORE_LABEL):
        if with_labels is None:
            with_labels = split not in UNLABELED_SPLITS
        super().__init__(transform=transform, with_labels=with_labels)
        self.ignore_label = ignore_label
        self.root = resolve_root(root, "CITYSCAPES_DATASET")
        self.split = split
        self.records = list_cityscapes_frames(self.root, split, with_labels)

    def __len__(self):
        return len(self.records)

    def name(self, index):
        return self.records[index].name

    def load_image(self, index):
        """RGB uint8 (H, W, 3)."""
        path = self.records[index].image_path
        return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR, expect_channels=3),
                            cv2.COLOR_BGR2RGB)

    def load_labels(self, index):
        """``(semantic, instance)`` int32 at full resolution (no transform)."""
        record = self.records[index]
        label_ids = read_image(record.label_path, cv2.IMREAD_UNCHANGED,
                               expect_channels=1, expect_dtype=np.uint8)
        instance_ids = read_image(record.instance_path, cv2.IMREAD_UNCHANGED,
                                  expect_channels=1)
        if instance_ids.dtype not in (np.uint8, np.uint16):
            raise DatasetError("%s: expected a 16-bit (or 8-bit) instanceIds PNG, found %s"
                               % (record.instance_path, instance_ids.dtype))
        return decode_cityscapes_labels(label_ids, instance_ids, record.label_path,
                                        record.instance_path, self.ignore_label)

    def label_path(self, index):
        return self.records[index].label_path

    def image_path(self, index):
        return self.records[index].image_path
