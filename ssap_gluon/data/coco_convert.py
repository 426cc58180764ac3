"""A Cityscapes-layout split (real Cityscapes or SynthCity) -> the COCO panoptic layout.

:func:`convert_to_coco_panoptic` writes, under ``out_root``, the standard COCO
2017 layout that :class:`~ssap_gluon.data.coco_panoptic.CocoPanoptic` and the
``DATASET.COCO_*`` patterns read::

    annotations/panoptic_<split>2017.json      images, annotations, categories
    annotations/panoptic_<split>2017/<stem>.png  segment ids as RGB (R + 256 G + 256^2 B)
    <split>2017/<stem>.<ext>                   the images (symlinks, or copies)

``<stem>`` is the Cityscapes frame name ``<city>_<seq>_<frame>`` (so both
datasets name a frame alike and predictions get the same file names); the
image keeps its source extension, and that file name is the JSON's
``file_name``. Image ids are 1..N in the sorted frame order (the order of
:class:`~ssap_gluon.data.cityscapes.CityscapesInstances`).

Categories: the 19 evaluated Cityscapes classes in train-id order, so a class
index of the COCO copy is the Cityscapes train id and a network trained on the
Cityscapes layout evaluates unchanged on it. ``id`` is the Cityscapes labelId
(what predictions carry, as on the Cityscapes path), ``isthing`` is
``hasInstances``, ``supercategory`` the label's category, ``color`` its colour,
all from cityscapesScripts' table (:mod:`~ssap_gluon.data.labels`).

Segments of a frame, from its ``labelIds`` + ``instanceIds`` (decoded and
cross-checked by :func:`~ssap_gluon.data.cityscapes.decode_cityscapes_labels`):

* one per thing instance (``instanceIds >= 1000``), its id that value;
* one crowd segment (``iscrowd: 1``) per thing class with pixels that have no
  instance id (``instanceIds < 1000``), its id the class's labelId;
* one per stuff class present, its id the labelId;
* void and unevaluated classes (caravan, trailer, ...) are 0 (unlabelled).

These are the segment ids and categories of cityscapesScripts'
``createPanopticImgs.convert2panoptic`` (the ground truth of the Cityscapes PQ
path): the panoptic PNGs are the same images; only the image ids (integers
here, frame names there) and file names differ. (One case differs: instance
ids >= 1000 on a stuff class, which Cityscapes does not have; the official
converter makes each its own stuff segment, here the class stays one segment as
the project's reader decodes it.) ``area`` is the pixel count and
``bbox`` ``[x, y, w, h]`` of the segment's pixels (inclusive extent: a one-pixel
segment has ``w = h = 1``), as COCO defines them.
"""
import datetime
import os
import shutil

import numpy as np

from ..utils.io import copy_atomic, read_image, write_json_atomic, write_png
from . import labels as L
from .base import DatasetError
from .cityscapes import INSTANCE_SUFFIX, decode_cityscapes_labels, list_cityscapes_frames
from .coco_panoptic import (DEFAULT_IMAGE_DIR, DEFAULT_JSON, DEFAULT_PANOPTIC_DIR,
                            panoptic_id_to_rgb)

__all__ = ["ConversionError", "convert_to_coco_panoptic", "coco_categories",
           "frame_segments", "segments_info"]


class ConversionError(DatasetError):
    """The conversion cannot go on as asked (missing input, occupied output)."""


def coco_categories():
    """The 19 evaluated Cityscapes classes as COCO panoptic categories, in train-id order."""
    from cityscapesscripts.helpers.labels import id2label

    out = []
    for label_id in L.TRAIN_ID_TO_LABEL_ID.tolist():
        lab = id2label[label_id]
        out.append({"id": int(lab.id), "name": lab.name, "supercategory": lab.category,
                    "isthing": 1 if int(lab.trainId) in L.THING_TRAIN_IDS else 0,
                    "color": [int(c) for c in lab.color]})
    return out


# train id (0..18, 255 = void) -> labelId of the segment of a non-instance pixel; 0 on void
_TRAIN_TO_SEGMENT = np.zeros(256, np.int32)
_TRAIN_TO_SEGMENT[:L.NUM_CLASSES] = L.TRAIN_ID_TO_LABEL_ID


def frame_segments(label_ids, instance_ids, label_path="labelIds", instance_path="instanceIds"):
    """A frame's ``labelIds`` + ``instanceIds`` -> ``(segment_map, kinds)``.

    ``kinds``: ``{segment id: (labelId, iscrowd)}`` of every segment in the map.

    ``segment_map`` (int32): the instance id on thing instances, the labelId on
    stuff and on crowd regions of thing classes, 0 on void / unevaluated classes.
    """
    semantic, instance = decode_cityscapes_labels(label_ids, instance_ids, label_path,
                                                  instance_path)
    # semantic is a train id or 255 (void): the labelId of every labelled pixel
    segment_map = _TRAIN_TO_SEGMENT[semantic]
    np.copyto(segment_map, instance, where=instance > 0)
    thing_label = set(L.THING_LABEL_IDS)
    kinds = {}
    for sid in np.unique(segment_map).tolist():
        if sid == 0:
            continue
        if sid >= L.INSTANCE_ID_OFFSET:
            kinds[sid] = (sid // L.INSTANCE_ID_OFFSET, 0)
        else:
            kinds[sid] = (sid, 1 if sid in thing_label else 0)
    return segment_map, kinds


def segments_info(segment_map, kinds):
    """``segments_info`` of a segment map: id, category_id, iscrowd, area, bbox [x, y, w, h]."""
    from scipy import ndimage

    ids, inverse, counts = np.unique(segment_map, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(segment_map.shape).astype(np.int32) + 1  # label k+1 = ids[k]
    boxes = ndimage.find_objects(inverse)
    out = []
    for k, sid in enumerate(ids.tolist()):
        if sid == 0:
            continue
        rows, cols = boxes[k]
        label_id, iscrowd = kinds[sid]
        out.append({"id": int(sid), "category_id": int(label_id), "iscrowd": int(iscrowd),
                    "area": int(counts[k]),
                    "bbox": [int(cols.start), int(rows.start), int(cols.stop - cols.start),
                             int(rows.stop - rows.start)]})
    return out


def _occupied(path):
    return os.path.lexists(path) and (not os.path.isdir(path) or os.path.islink(path)
                                      or bool(os.listdir(path)))


def _remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def convert_to_coco_panoptic(root, split, out_root, link_images=True, force=False,
                             progress=None):
    """Write ``split`` of the Cityscapes-layout dataset ``root`` as COCO panoptic
    under ``out_root``.

    ``link_images``: symlink the images (absolute targets), else copy them.
    ``out_root`` must be missing or empty; ``force=True`` writes into a
    non-empty one, replacing this split's three targets (the JSON, the PNG folder
    and the image folder) and nothing else. ``progress``: called with
    ``(done, total)`` after every frame. The JSON is written last (atomically,
    as every file), so a killed conversion leaves no JSON that lists missing
    files. Returns a summary dict (paths, frames, segments per kind).

    Raises :class:`ConversionError` for a missing root / split or an occupied
    ``out_root``; :class:`DatasetError` / ``ImageReadError`` (naming the file)
    for unreadable or inconsistent label files.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    out_root = os.path.abspath(os.path.expanduser(os.fspath(out_root)))
    if not os.path.isdir(root):
        raise ConversionError("dataset root %s does not exist (expected the folder holding "
                              "leftImg8bit/ and gtFine/)" % root)
    try:
        records = list_cityscapes_frames(root, split, with_labels=True)
    except DatasetError as e:
        raise ConversionError(str(e)) from None
    names = [r.name for r in records]
    if len(set(names)) != len(names):
        raise ConversionError("frame names under %s are not unique (several cities hold the "
                              "same <city>_<seq>_<frame>?)" % os.path.join(root, "leftImg8bit",
                                                                           split))
    if os.path.exists(out_root) and not os.path.isdir(out_root):
        raise ConversionError("output %s exists and is not a folder" % out_root)
    if _occupied(out_root) and not force:
        raise ConversionError(
            "output folder %s is not empty; choose an empty or new folder, or force it "
            "(--force: replaces this split's annotations/panoptic_%s2017{.json,/} and %s2017/ "
            "there, nothing else)" % (out_root, split, split))
    json_path = os.path.join(out_root, DEFAULT_JSON.format(split=split))
    panoptic_dir = os.path.join(out_root, DEFAULT_PANOPTIC_DIR.format(split=split))
    image_dir = os.path.join(out_root, DEFAULT_IMAGE_DIR.format(split=split))
    for path in (panoptic_dir, image_dir):
        real = os.path.realpath(path)
        if os.path.realpath(root) == real or os.path.realpath(root).startswith(real + os.sep):
            raise ConversionError("the output folder %s would replace the dataset root %s"
                                  % (path, root))
    # the JSON first: from here until the end no JSON lists files that are not there
    for path in (json_path, panoptic_dir, image_dir):
        _remove(path)
    os.makedirs(panoptic_dir)
    os.makedirs(image_dir)

    images, annotations = [], []
    counts = {"things": 0, "crowd": 0, "stuff": 0}
    for image_id, record in enumerate(records, start=1):
        label_ids = read_image(record.label_path, expect_channels=1, expect_dtype=np.uint8)
        instance_ids = read_image(record.instance_path, expect_channels=1)
        if instance_ids.dtype not in (np.uint8, np.uint16):
            raise DatasetError("%s: expected a 16-bit (or 8-bit) instanceIds PNG, found %s"
                               % (record.instance_path, instance_ids.dtype))
        segment_map, kinds = frame_segments(label_ids, instance_ids, record.label_path,
                                            record.instance_path)
        info = segments_info(segment_map, kinds)
        for seg in info:
            counts["things" if seg["id"] >= L.INSTANCE_ID_OFFSET else
                   "crowd" if seg["iscrowd"] else "stuff"] += 1
        png_name = record.name + ".png"
        write_png(os.path.join(panoptic_dir, png_name), panoptic_id_to_rgb(segment_map)[..., ::-1])

        ext = os.path.splitext(record.image_path)[1]
        image_name = record.name + ext
        target = os.path.join(image_dir, image_name)
        if link_images:
            os.symlink(os.path.abspath(record.image_path), target)
        else:
            copy_atomic(record.image_path, target)
        height, width = segment_map.shape
        images.append({"id": image_id, "file_name": image_name, "height": int(height),
                       "width": int(width)})
        annotations.append({"image_id": image_id, "file_name": png_name, "segments_info": info})
        if progress is not None:
            progress(image_id, len(records))

    data = {
        "info": {"description": "split %r of the Cityscapes-layout dataset %s in the COCO panoptic "
                                "format (ssap_gluon.data.coco_convert)" % (split, root),
                 "source_root": root, "source_split": split,
                 "source_instance_suffix": INSTANCE_SUFFIX,
                 "date_created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                     timespec="seconds")},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    write_json_atomic(json_path, data)
    return {"root": root, "split": split, "out_root": out_root, "json": json_path,
            "panoptic_dir": panoptic_dir, "image_dir": image_dir, "frames": len(records),
            "segments": counts, "linked_images": bool(link_images)}

