"""Panoptic quality (PQ) with the official cityscapesScripts evaluator.

Ground truth in COCO panoptic format comes from cityscapesScripts' own
``createPanopticImgs.convert2panoptic`` (run on the gtFine instanceIds, into a
temporary directory unless ``gtFine/cityscapes_panoptic_<split>.json`` exists
already). Predictions: one RGB PNG per image encoding segment ids
(``id = R + 256 G + 256^2 B``) plus one JSON listing every segment's category
(Cityscapes label id). PQ/SQ/RQ come from ``evalPanopticSemanticLabeling``'s
``pq_compute_single_core`` and ``average_pq`` (its multi-core driver would fork
the calling process, which may hold mxnet state; one core is exact, just slower).
"""
import json
import os
import tempfile

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import copy_atomic, write_json_atomic, write_png
from ._official import CityscapesEvalError, check_stem, clean_number, official_call

__all__ = ["panoptic_from_instance_ids", "write_panoptic_prediction", "write_panoptic_json",
           "prepare_panoptic_gt", "evaluate_panoptic", "PANOPTIC_LABEL_IDS", "CityscapesEvalError"]

# Categories the official panoptic ground truth has: the 19 evaluated classes.
PANOPTIC_LABEL_IDS = tuple(sorted(l.id for l in id2label.values()
                                  if l.id >= 0 and not l.ignoreInEval))
MAX_SEGMENT_ID = 256 ** 3 - 1


def panoptic_from_instance_ids(instance_ids):
    """Cityscapes instanceIds-style map -> ``(segment_map, {segment_id: label_id})``.

    Every value of an evaluated class becomes one segment with the value as its
    id (thing instances ``labelId*1000+k``, stuff and crowd regions ``labelId``,
    as cityscapesScripts encodes its panoptic ground truth); void and ignored
    classes become 0 (unlabelled).
    """
    instance_ids = np.asarray(instance_ids)
    if instance_ids.ndim != 2:
        raise ValueError("instance_ids must be 2-D (H, W), got shape %s" % (instance_ids.shape,))
    values = np.unique(instance_ids)
    labels = {int(v): int(v) // 1000 if v >= 1000 else int(v) for v in values}
    keep = {v: l for v, l in labels.items() if l in PANOPTIC_LABEL_IDS}
    lut_values = np.array(sorted(labels), np.int64)
    mapped = np.array([v if v in keep else 0 for v in lut_values], np.int64)
    segment_map = mapped[np.searchsorted(lut_values, instance_ids)].astype(np.int32)
    return segment_map, keep


def write_panoptic_prediction(out_folder, image_id, segment_map, segment_label_ids):
    """Write one image's panoptic prediction PNG; return its JSON annotation.

    ``segment_map``: (H, W) ints, 0 = unlabelled, else a segment id < 256**3;
    ``segment_label_ids``: ``{segment id: Cityscapes label id}`` for every id in
    the map (evaluated classes only). The PNG is ``out_folder/<image_id>.png``.
    """
    check_stem(image_id)
    segment_map = np.asarray(segment_map)
    if segment_map.ndim != 2:
        raise ValueError("%s: segment_map must be 2-D (H, W), got shape %s"
                         % (image_id, segment_map.shape))
    ids = [int(v) for v in np.unique(segment_map) if v != 0]
    if ids and (min(ids) < 0 or max(ids) > MAX_SEGMENT_ID):
        raise ValueError("%s: segment ids must be in 1..%d" % (image_id, MAX_SEGMENT_ID))
    missing = [i for i in ids if i not in segment_label_ids]
    if missing:
        raise ValueError("%s: segment ids %s are in segment_map but have no label id"
                         % (image_id, missing[:10]))
    segments = []
    for sid in ids:
        label_id = int(segment_label_ids[sid])
        if label_id not in PANOPTIC_LABEL_IDS:
            raise ValueError("%s: segment %d has label id %d, not one of the evaluated classes %s"
                             % (image_id, sid, label_id, PANOPTIC_LABEL_IDS))
        segments.append({"id": sid, "category_id": label_id})
    code = segment_map.astype(np.int64)
    rgb = np.stack([code % 256, code // 256 % 256, code // 65536], axis=-1).astype(np.uint8)
    file_name = image_id + ".png"
    write_png(os.path.join(os.fspath(out_folder), file_name), rgb[:, :, ::-1])
    return {"image_id": image_id, "file_name": file_name, "segments_info": segments}


def write_panoptic_json(path, annotations):
    """The prediction JSON for :func:`evaluate_panoptic` (a list of annotations)."""
    write_json_atomic(path, {"annotations": list(annotations)})


def prepare_panoptic_gt(gt_root, split, out_dir):
    """Run cityscapesScripts' ``convert2panoptic`` on ``gt_root/gtFine/<split>``.

    Writes ``out_dir/cityscapes_panoptic_<split>.json`` and the PNG folder of the
    same name; returns ``(json_path, png_folder)``.
    """
    from cityscapesscripts.preparation import createPanopticImgs

    gt_fine = os.path.join(os.fspath(gt_root), "gtFine")
    if not os.path.isdir(os.path.join(gt_fine, split)):
        raise FileNotFoundError("no ground truth folder %s" % os.path.join(gt_fine, split))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, "cityscapes_panoptic_%s" % split)
    with tempfile.TemporaryDirectory(prefix=".panoptic_gt_", dir=out_dir) as tmp:
        with official_call("panoptic ground truth for %s" % gt_fine):
            createPanopticImgs.convert2panoptic(cityscapesPath=gt_fine, outputFolder=tmp,
                                                setNames=[split])
        if os.path.isdir(base):
            raise FileExistsError("%s exists; remove it or evaluate from it (gt_json=...)" % base)
        os.replace(os.path.join(tmp, os.path.basename(base)), base)
        copy_atomic(os.path.join(tmp, os.path.basename(base) + ".json"), base + ".json")
    return base + ".json", base


def evaluate_panoptic(gt_root, split, pred_json, pred_folder, gt_json=None, gt_folder=None):
    """PQ, SQ, RQ (all / things / stuff and per class) of a panoptic prediction.

    ``gt_json``/``gt_folder``: existing panoptic ground truth; by default
    ``gtFine/cityscapes_panoptic_<split>.json`` if present, else made afresh with
    the official converter in a temporary directory. Every ground-truth image
    needs a prediction (matched by ``image_id`` = file stem).
    Returns ``{"PQ", "SQ", "RQ", "PQ_things", "SQ_things", "RQ_things", "PQ_stuff", ...,
    "per_class": {name: {"PQ", "SQ", "RQ"}}, "num_images"}``.
    """
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as official

    with tempfile.TemporaryDirectory(prefix="ssap_eval_pan_") as tmp:
        if gt_json is None:
            default = os.path.join(os.fspath(gt_root), "gtFine", "cityscapes_panoptic_%s.json" % split)
            if os.path.isfile(default):
                gt_json = default
            else:
                gt_json, gt_folder = prepare_panoptic_gt(gt_root, split, tmp)
        if gt_folder is None:
            gt_folder = os.path.splitext(gt_json)[0]
        for path in (gt_json, pred_json):
            if not os.path.isfile(path):
                raise FileNotFoundError("panoptic JSON not found: %s" % path)
        with open(gt_json) as f:
            gt = json.load(f)
        with open(pred_json) as f:
            pred = json.load(f)
        if not isinstance(pred, dict) or "annotations" not in pred:
            raise ValueError("%s: expected a JSON object with an 'annotations' list" % pred_json)
        categories = {c["id"]: c for c in gt["categories"]}
        by_image = {a["image_id"]: a for a in pred["annotations"]}
        missing = [a["image_id"] for a in gt["annotations"] if a["image_id"] not in by_image]
        if missing:
            raise CityscapesEvalError("%s has no prediction for %d ground-truth image(s), e.g. %s"
                                      % (pred_json, len(missing), missing[:3]))
        matched = [(a, by_image[a["image_id"]]) for a in gt["annotations"]]
        try:
            with official_call("panoptic evaluation of %s" % pred_json):
                stat = official.pq_compute_single_core(0, matched, gt_folder, pred_folder, categories)
        except KeyError as e:
            raise CityscapesEvalError("panoptic evaluation of %s: %s" % (pred_json, e.args[0])) from None
        results = official.average_pq(stat, categories)
    out = {"num_images": len(matched)}
    for key, name in (("All", ""), ("Things", "_things"), ("Stuff", "_stuff")):
        for metric in ("pq", "sq", "rq"):
            out[metric.upper() + name] = clean_number(results[key][metric])
    # The official code lists a class seen in neither ground truth nor prediction
    # as 0.0 but leaves it out of the means; report it as None instead.
    out["per_class"] = {
        categories[c]["name"]: ({m.upper(): clean_number(v[m]) for m in ("pq", "sq", "rq")}
                                if stat[c].tp + stat[c].fp + stat[c].fn else
                                {"PQ": None, "SQ": None, "RQ": None})
        for c, v in results["per_class"].items()}
    return out
