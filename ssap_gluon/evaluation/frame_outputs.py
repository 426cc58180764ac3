"""One frame's predictions on disk, in the formats the official evaluators read.

Layout under an output directory ``DIR`` (``scripts/test.py`` and
``scripts/infer.py`` write the same)::

    DIR/instance/<stem>.txt            cityscapesScripts results format, one line per
    DIR/instance/masks/<stem>_NNNN.png instance: "<mask png> <labelId> <score>"
    DIR/panoptic/<stem>.png            segment ids as RGB (id = R + 256 G + 256^2 B)
    DIR/panoptic/<stem>.json           that frame's panoptic annotation (segments_info)
    DIR/semantic/<stem>.png            label ids (uint8)
    DIR/frames/<stem>.json             written last: the frame is complete (times, counts)

Every file is written atomically and the frame record last, so a frame whose
record exists is complete and a killed run never leaves a half frame that
would be scored; :func:`frame_done` is the test a resumed run uses.
"""
import json
import os

import numpy as np

from ..utils.io import write_json_atomic
from .cityscapes_instance import write_instance_predictions
from .cityscapes_panoptic import write_panoptic_prediction
from .cityscapes_semantic import write_semantic_prediction

__all__ = ["INSTANCE_DIR", "PANOPTIC_DIR", "SEMANTIC_DIR", "FRAMES_DIR", "write_frame_outputs",
           "frame_done", "read_frame_record", "panoptic_annotations"]

INSTANCE_DIR, PANOPTIC_DIR, SEMANTIC_DIR, FRAMES_DIR = "instance", "panoptic", "semantic", "frames"


def _record_path(out_dir, stem):
    return os.path.join(os.fspath(out_dir), FRAMES_DIR, stem + ".json")


def frame_done(out_dir, stem):
    """True when every output of frame ``stem`` was written (its record exists)."""
    return os.path.isfile(_record_path(out_dir, stem))


def read_frame_record(out_dir, stem):
    with open(_record_path(out_dir, stem), encoding="utf-8") as f:
        return json.load(f)


def write_frame_outputs(out_dir, stem, frame, label_ids_of_classes, record=None):
    """Write a :class:`~ssap_gluon.inference.FrameInstances` of frame ``stem``.

    ``label_ids_of_classes``: (C,) dataset label id of every class index (for
    the semantic PNG). ``record``: extra JSON fields of the frame record
    (network / GP seconds, ...). Returns the record.
    """
    out_dir = os.fspath(out_dir)
    write_instance_predictions(os.path.join(out_dir, INSTANCE_DIR), stem, frame.instances())
    annotation = write_panoptic_prediction(os.path.join(out_dir, PANOPTIC_DIR), stem,
                                           frame.panoptic, frame.segments)
    write_json_atomic(os.path.join(out_dir, PANOPTIC_DIR, stem + ".json"), annotation)
    label_ids = np.asarray(label_ids_of_classes)
    write_semantic_prediction(os.path.join(out_dir, SEMANTIC_DIR), stem,
                              label_ids[frame.semantic])
    full = {"stem": stem, "num_instances": len(frame),
            "instances": [{"label_id": int(l), "score": float(s), "area": int(a)}
                          for l, s, a in zip(frame.label_ids, frame.scores, frame.areas)]}
    full.update(record or {})
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
