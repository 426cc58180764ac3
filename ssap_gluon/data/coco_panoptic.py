"""COCO panoptic: panoptic PNG + JSON -> semantic class index + instance ids.

Standard COCO 2017 layout under the root (file patterns are config keys,
``{split}`` is the split name)::

    annotations/panoptic_{split}2017.json   # images, annotations, categories
    annotations/panoptic_{split}2017/*.png  # one RGB PNG per image
    {split}2017/*.jpg                       # the images

A panoptic PNG stores a segment id per pixel as ``id = R + 256 G + 256^2 B``
(0 = unlabeled). The JSON's ``segments_info`` of that image gives each
segment's ``category_id`` and ``iscrowd``.

Decoding:

* semantic = position of the segment's category in the JSON ``categories``
  list (0..132 for COCO 2017: the 80 things, then the 53 stuff classes, in
  the file's order); unlabeled pixels -> ``ignore_label``.
* instance = the segment id itself for non-crowd segments of thing classes
  (``isthing = 1``; unique per image, > 0); -1 for crowd segments
  (``iscrowd = 1``, their semantic keeps the class) and unlabeled pixels;
  0 for stuff.
"""
import collections
import json
import os

import cv2
import numpy as np

from ..utils.io import read_image
from .base import DatasetError, SegmentationDataset, resolve_root
from .labels import IGNORE_LABEL, INSTANCE_IGNORE

CocoRecord = collections.namedtuple(
    "CocoRecord", "name image_id image_path panoptic_path segments")

DEFAULT_JSON = "annotations/panoptic_{split}2017.json"
DEFAULT_PANOPTIC_DIR = "annotations/panoptic_{split}2017"
DEFAULT_IMAGE_DIR = "{split}2017"


def rgb_to_panoptic_id(rgb):
    """(H, W, 3) uint8 **RGB** -> int32 segment ids ``R + 256 G + 256^2 B``."""
    rgb = rgb.astype(np.int32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def panoptic_id_to_rgb(ids):
    """Inverse of :func:`rgb_to_panoptic_id` (for writing panoptic PNGs)."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def decode_panoptic(ids, segments, category_index, thing_mask, path="panoptic PNG",
                    ignore_label=IGNORE_LABEL):
    """Segment-id map + its ``segments_info`` -> ``(semantic, instance)`` int32.

    ``category_index`` maps category_id -> contiguous class index,
    ``thing_mask[c]`` says whether class index ``c`` is a thing class.
    """
    present, inverse = np.unique(ids, return_inverse=True)
    by_id = {}
    for seg in segments:
        if seg["category_id"] not in category_index:
            raise DatasetError("%s: segment %d has category_id %d, not in the JSON's categories"
                               % (path, seg["id"], seg["category_id"]))
        by_id[seg["id"]] = seg
    unknown = [int(i) for i in present if i != 0 and int(i) not in by_id]
    if unknown:
        raise DatasetError("%s: segment id(s) %s appear in the PNG but not in the JSON's "
                           "segments_info for this image" % (path, unknown[:10]))
    sem_of = np.full(len(present), ignore_label, dtype=np.int32)
    ins_of = np.full(len(present), INSTANCE_IGNORE, dtype=np.int32)
    for k, seg_id in enumerate(present.tolist()):
        if seg_id == 0:
            continue
        seg = by_id[seg_id]
        cls = category_index[seg["category_id"]]
        sem_of[k] = cls
        if not thing_mask[cls]:
            ins_of[k] = 0
        elif not seg.get("iscrowd", 0):
            ins_of[k] = seg_id
    inverse = inverse.reshape(ids.shape)
    return sem_of[inverse], ins_of[inverse]


class CocoPanoptic(SegmentationDataset):
    """COCO panoptic ``split`` (``train`` / ``val``) as samples of the sample contract.

    Class attributes are per instance here: they come from the JSON's
    ``categories`` (``num_classes``, ``class_names``, ``thing_train_ids``,
    ``category_ids`` = the COCO id of every class index).

    Args:
        root: dataset folder; empty: ``$COCO_DATASET``.
        split: substituted for ``{split}`` in the three path patterns.
        transform: as for :class:`~ssap_gluon.data.cityscapes.CityscapesInstances`.
        with_labels: read the panoptic PNGs (default True).
        json_pattern, panoptic_dir_pattern, image_dir_pattern: layout under root.
    """

    def __init__(self, root="", split="train", transform=None, with_labels=True,
                 ignore_label=IGNORE_LABEL, json_pattern=DEFAULT_JSON,
                 panoptic_dir_pattern=DEFAULT_PANOPTIC_DIR,
                 image_dir_pattern=DEFAULT_IMAGE_DIR):
        super().__init__(transform=transform, with_labels=with_labels)
        self.ignore_label = ignore_label
        self.root = resolve_root(root, "COCO_DATASET")
        self.split = split
        self.json_path = os.path.join(self.root, json_pattern.format(split=split))
        self.panoptic_dir = os.path.join(self.root, panoptic_dir_pattern.format(split=split))
        self.image_dir = os.path.join(self.root, image_dir_pattern.format(split=split))
        data = self._read_json(self.json_path)
        # ssap_gluon.data.coco_convert records the dataset it converted here
        info = data.get("info")
        self.source_root = info.get("source_root") if isinstance(info, dict) else None
        self._set_categories(data["categories"])
        self.records = self._make_records(data)

    # -- construction -----------------------------------------------------
    @staticmethod
    def _read_json(path):
        if not os.path.isfile(path):
            raise DatasetError("COCO panoptic annotation file not found: %s" % path)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise DatasetError("%s: not valid JSON: %s" % (path, e)) from None
        for key in ("images", "annotations", "categories"):
            if not isinstance(data, dict) or key not in data:
                raise DatasetError("%s: expected a COCO panoptic JSON with the key %r"
                                   % (path, key))
        return data

    def _set_categories(self, categories):
        if not categories:
            raise DatasetError("%s: the 'categories' list is empty" % self.json_path)
        self.category_ids = tuple(int(c["id"]) for c in categories)
        self.class_names = tuple(c["name"] for c in categories)
        # COCO category id of every class index (what panoptic predictions carry)
        self.label_ids = np.array([int(c["id"]) for c in categories], np.int64)
        self.num_classes = len(categories)
        if self.num_classes > self.ignore_label >= 0:
            raise DatasetError("%s has %d categories; the ignore label %d collides with a "
                               "class index" % (self.json_path, self.num_classes,
                                                self.ignore_label))
        self.thing_mask = np.array([bool(c.get("isthing", 0)) for c in categories])
        self.thing_train_ids = tuple(int(i) for i in np.flatnonzero(self.thing_mask))
        self.category_index = {cid: i for i, cid in enumerate(self.category_ids)}

    def _make_records(self, data):
        images = {img["id"]: img for img in data["images"]}
        records = []
        for ann in data["annotations"]:
            image = images.get(ann["image_id"])
            if image is None:
                raise DatasetError("%s: annotation %s refers to image_id %r, not in 'images'"
                                   % (self.json_path, ann.get("file_name"), ann["image_id"]))
            record = CocoRecord(
                name=os.path.splitext(image["file_name"])[0], image_id=image["id"],
                image_path=os.path.join(self.image_dir, image["file_name"]),
                panoptic_path=os.path.join(self.panoptic_dir, ann["file_name"]),
                segments=ann["segments_info"])
            for path in (record.image_path,) + ((record.panoptic_path,) if self.with_labels
                                                  else ()):
                if not os.path.isfile(path):
                    raise DatasetError("missing file %s (listed in %s)" % (path, self.json_path))
            records.append(record)
        if not records:
            raise DatasetError("%s lists no annotated images" % self.json_path)
        records.sort(key=lambda r: r.image_id)
        return records

    # -- access -----------------------------------------------------------
    def __len__(self):
        return len(self.records)

    def name(self, index):
        return self.records[index].name

    def load_image(self, index):
        # IMREAD_COLOR: some COCO images are greyscale; always give 3 channels.
        bgr = read_image(self.records[index].image_path, cv2.IMREAD_COLOR, expect_channels=3)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def load_segment_ids(self, index):
        """The raw segment-id map of the panoptic PNG (int32)."""
        path = self.records[index].panoptic_path
        bgr = read_image(path, cv2.IMREAD_UNCHANGED, expect_channels=3, expect_dtype=np.uint8)
        return rgb_to_panoptic_id(bgr[..., ::-1])

    def load_labels(self, index):
        record = self.records[index]
        return decode_panoptic(self.load_segment_ids(index), record.segments,
                               self.category_index, self.thing_mask, record.panoptic_path,
                               self.ignore_label)

    def label_path(self, index):
        return self.records[index].panoptic_path

    def image_path(self, index):
        return self.records[index].image_path
