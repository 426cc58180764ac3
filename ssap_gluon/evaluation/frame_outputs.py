"""One frame's predictions on disk, in the formats the official evaluators read.

Layout under an output directory ``DIR`` (``scripts/test.py`` and
``scripts/infer.py`` write the same)::

    DIR/instance/<stem>.txt            cityscapesScripts results format, one line per
    DIR/instance/masks/<stem>_NNNN.png instance: "<mask png> <labelId> <score>"
                                       (Cityscapes layout datasets only)
    DIR/panoptic/<stem>.png            segment ids as RGB (id = R + 256 G + 256^2 B)
    DIR/panoptic/<stem>.json           that frame's panoptic annotation (segments_info)
    DIR/semantic/<stem>.png            label ids (uint8): Cityscapes labelIds / COCO
                                       category ids
    DIR/frames/<stem>.json             written last: the frame is complete (times,
                                       counts, the list of its files)

``<stem>`` is the dataset's frame name (Cityscapes ``<city>_<seq>_<frame>``,
COCO the image file name without extension). Every file is written atomically
and the frame record last (a frame being redone loses its record first), so a
frame whose record exists -- and every file it lists -- is complete, and a
killed run never leaves a half frame that would be scored; :func:`frame_done`
is the test a resumed run uses.
"""
import contextlib
import glob
import json
import os
from dataclasses import dataclass

import numpy as np

from ..utils.io import write_json_atomic
from ._official import check_name
from .cityscapes_instance import MASK_DIR, write_instance_predictions
from .cityscapes_panoptic import PANOPTIC_LABEL_IDS, write_panoptic_prediction
from .cityscapes_semantic import MAX_LABEL_ID, write_semantic_prediction

__all__ = ["INSTANCE_DIR", "PANOPTIC_DIR", "SEMANTIC_DIR", "FRAMES_DIR", "OutputFormat",
           "CITYSCAPES_FORMAT", "write_frame_outputs", "frame_done", "read_frame_record",
           "panoptic_annotations", "remove_temporaries"]

INSTANCE_DIR, PANOPTIC_DIR, SEMANTIC_DIR, FRAMES_DIR = "instance", "panoptic", "semantic", "frames"


@dataclass(frozen=True)
class OutputFormat:
    """How one dataset's frames are written.

    instances : write ``DIR/instance/`` (cityscapesScripts results format;
        Cityscapes label ids 24..33 only).
    category_ids : the label ids the panoptic ground truth has.
    max_label_id : largest id of the semantic PNG (uint8).
    """

    dataset: str
    instances: bool
    category_ids: tuple
    max_label_id: int

    @classmethod
    def for_dataset(cls, dataset):
        """The format of a :mod:`ssap_gluon.data` dataset (Cityscapes layout or COCO)."""
        if hasattr(dataset, "category_ids"):  # CocoPanoptic
            ids = tuple(int(i) for i in dataset.label_ids)
            if max(ids) > 255:
                raise ValueError("category ids up to %d do not fit the uint8 semantic PNG"
                                 % max(ids))
            return cls("coco_panoptic", False, ids, max(ids))
        return CITYSCAPES_FORMAT


CITYSCAPES_FORMAT = OutputFormat("cityscapes", True, PANOPTIC_LABEL_IDS, MAX_LABEL_ID)


def _record_path(out_dir, stem):
    return os.path.join(os.fspath(out_dir), FRAMES_DIR, stem + ".json")


def read_frame_record(out_dir, stem):
    with open(_record_path(out_dir, stem), encoding="utf-8") as f:
        return json.load(f)


def frame_done(out_dir, stem):
    """True when every output of frame ``stem`` was written: its record exists
    and every file the record lists is there."""
    try:
        record = read_frame_record(out_dir, stem)
    except (OSError, ValueError):
        return False
    files = record.get("files")
    if not isinstance(files, list):
        return False
    return all(os.path.isfile(os.path.join(os.fspath(out_dir), f)) for f in files)


def _stale_masks(out_dir, stem):
    return glob.glob(os.path.join(glob.escape(os.path.join(out_dir, INSTANCE_DIR, MASK_DIR)),
                                  glob.escape(stem) + "_[0-9][0-9][0-9][0-9].png"))


def write_frame_outputs(out_dir, stem, frame, label_ids_of_classes, record=None,
                        fmt=CITYSCAPES_FORMAT, image_id=None):
    """Write a :class:`~ssap_gluon.inference.FrameInstances` of frame ``stem``.

    ``label_ids_of_classes``: (C,) dataset label id of every class index (for
    the semantic PNG). ``record``: extra JSON fields of the frame record
    (network / GP seconds, ...). ``fmt``: :class:`OutputFormat` of the dataset;
    ``image_id``: the panoptic annotation's image id (default ``stem``; COCO:
    the integer id). Returns the record.
    """
    check_name(stem)
    out_dir = os.fspath(out_dir)
    # a frame being (re)done is not done until its new record is written
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_record_path(out_dir, stem))
    files = []
    if fmt.instances:
        for old in _stale_masks(out_dir, stem):
            os.unlink(old)
        txt = write_instance_predictions(os.path.join(out_dir, INSTANCE_DIR), stem,
                                         frame.instances())
        with open(txt, encoding="utf-8") as f:
            masks = [line.split(" ")[0] for line in f if line.strip()]
        files += [os.path.join(INSTANCE_DIR, stem + ".txt")] + \
                 [os.path.join(INSTANCE_DIR, m) for m in masks]
    annotation = write_panoptic_prediction(os.path.join(out_dir, PANOPTIC_DIR), stem,
                                           frame.panoptic, frame.segments, image_id=image_id,
                                           category_ids=fmt.category_ids)
    write_json_atomic(os.path.join(out_dir, PANOPTIC_DIR, stem + ".json"), annotation)
    label_ids = np.asarray(label_ids_of_classes)
    write_semantic_prediction(os.path.join(out_dir, SEMANTIC_DIR), stem,
                              label_ids[frame.semantic], max_label_id=fmt.max_label_id)
    files += [os.path.join(PANOPTIC_DIR, stem + ".png"), os.path.join(PANOPTIC_DIR, stem + ".json"),
              os.path.join(SEMANTIC_DIR, stem + ".png")]
    full = {"stem": stem, "image_id": stem if image_id is None else image_id,
            "num_instances": len(frame),
            "instances": [{"label_id": int(l), "score": float(s), "area": int(a)}
                          for l, s, a in zip(frame.label_ids, frame.scores, frame.areas)]}
    full.update(record or {})
    full["files"] = files
    write_json_atomic(_record_path(out_dir, stem), full)
    return full


def panoptic_annotations(out_dir, stems):
    """The per-frame panoptic annotations of ``stems`` (for the prediction JSON)."""
    out = []
    for stem in stems:
        with open(os.path.join(os.fspath(out_dir), PANOPTIC_DIR, stem + ".json"),
                  encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def remove_temporaries(out_dir):
    """Delete the temporary files a killed writer may leave (``.<name>.*.tmp``
    next to their targets) under the output folders of ``out_dir``."""
    removed = 0
    for sub in (INSTANCE_DIR, os.path.join(INSTANCE_DIR, MASK_DIR), PANOPTIC_DIR, SEMANTIC_DIR,
                FRAMES_DIR, ""):
        for path in glob.glob(os.path.join(glob.escape(os.path.join(os.fspath(out_dir), sub)),
                                           ".*.tmp")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed += 1
    return removed
