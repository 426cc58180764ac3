"""Semantic segmentation IoU with the official cityscapesScripts evaluator.

Predictions are labelId PNGs (Cityscapes label ids, not train ids), one per
image, named ``<stem>.png`` (the official matcher takes the single file under
the prediction directory matching ``<stem>*.png``; keep other PNGs out of it).
:func:`evaluate_semantic` runs ``evalPixelLevelSemanticLabeling.evaluateImgLists``
on them (with ``JSONOutput`` off it writes nothing; the optional export is
written here, atomically).
"""
import fnmatch
import os

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import write_json_atomic, write_png
from ._official import (CityscapesEvalError, check_name, clean_number, fresh_args, gt_files,
                        gt_stem, json_safe, official_call, png_size, read_png)

__all__ = ["write_semantic_prediction", "evaluate_semantic", "check_semantic_predictions",
           "CityscapesEvalError", "MAX_LABEL_ID"]

# Largest label id the official confusion matrix has a row/column for.
MAX_LABEL_ID = max(l.id for l in id2label.values())


def write_semantic_prediction(out_dir, image_stem, label_ids, max_label_id=MAX_LABEL_ID):
    """Write an (H, W) map of label ids as ``out_dir/<stem>.png`` (uint8).

    ``max_label_id``: the largest id allowed (Cityscapes: 33; a COCO panoptic
    set: its largest category id).
    """
    check_name(image_stem)
    label_ids = np.asarray(label_ids)
    if label_ids.ndim != 2:
        raise ValueError("%s: label_ids must be 2-D (H, W), got shape %s"
                         % (image_stem, label_ids.shape))
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() > max_label_id):
        raise ValueError("%s: label_ids must be label ids 0..%d (labelId, not trainId; "
                         "255 is not an id), found %d..%d"
                         % (image_stem, max_label_id, label_ids.min(), label_ids.max()))
    path = os.path.join(os.fspath(out_dir), image_stem + ".png")
    write_png(path, label_ids.astype(np.uint8))
    return path


def check_semantic_predictions(gt_list, pred_dir):
    """The prediction PNG of every ground-truth labelIds file, after checking
    what the official code would stop on (``sys.exit``) or crash at: exactly one
    ``<stem>*.png`` per image, a readable single-channel PNG of the ground
    truth's size holding only label ids 0..33. Errors name the file."""
    walk = [(root, files) for root, _, files in os.walk(pred_dir)]
    found = []
    for gt in gt_list:
        stem = gt_stem(gt, "labelIds")
        pattern = stem + "*.png"
        matches = [os.path.join(root, f) for root, files in walk
                   for f in fnmatch.filter(files, pattern)]
        if not matches:
            raise CityscapesEvalError("no semantic prediction for ground truth %s: expected %s"
                                      % (gt, os.path.join(pred_dir, stem + ".png")))
        if len(matches) > 1:
            raise CityscapesEvalError(
                "several semantic predictions for ground truth %s (the official matcher takes "
                "every file matching %s): %s" % (gt, pattern, ", ".join(sorted(matches)[:4])))
        pred = matches[0]
        gt_h, gt_w, _ = png_size(gt, "ground-truth")
        h, w, _ = png_size(pred, "semantic prediction")
        if (h, w) != (gt_h, gt_w):
            raise CityscapesEvalError(
                "semantic prediction %s is %dx%d but the ground truth %s is %dx%d (predictions "
                "must be at full resolution)" % (pred, h, w, gt, gt_h, gt_w))
        values = read_png(pred, "semantic prediction")
        if values.ndim != 2:
            raise CityscapesEvalError("semantic prediction %s has %d channels; expected one "
                                      "channel of label ids" % (pred, values.shape[2]))
        if values.size and (values.min() < 0 or values.max() > MAX_LABEL_ID):
            raise CityscapesEvalError(
                "semantic prediction %s holds values %d..%d; expected Cityscapes label ids "
                "0..%d (labelId, not trainId)" % (pred, values.min(), values.max(), MAX_LABEL_ID))
        found.append(pred)
    return found


def evaluate_semantic(gt_root, split, pred_dir, export_json=None, names=None):
    """IoU of the labelId PNGs in ``pred_dir`` against ``gt_root/gtFine/<split>``.

    ``names``: score only these frames (stems). Returns ``{"mIoU", "iIoU",
    "category_mIoU", "category_iIoU", "per_class": {name: IoU}, "per_class_iIoU":
    {...}, "num_images"}`` over the 19 evaluated classes, exactly as the official
    script computes them (classes absent from both ground truth and prediction
    are ``None`` and skipped in the means).
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    gt_list = gt_files(gt_root, split, "labelIds", names)
    pred_dir = os.path.abspath(os.fspath(pred_dir))
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError("prediction directory not found: %s" % pred_dir)
    args = fresh_args(official)
    args.predictionPath = pred_dir
    args.evalPixelAccuracy = False
    args.evalInstLevelScore = True
    args.bold = args.nocol = ""
    check_semantic_predictions(gt_list, pred_dir)
    with official_call("semantic evaluation of %s" % pred_dir):
        pred_list = [official.getPrediction(args, gt) for gt in gt_list]
        result = official.evaluateImgLists(pred_list, gt_list, args)
    if export_json is not None:
        write_json_atomic(export_json, json_safe(result))
    evaluated = [l.name for l in id2label.values() if l.id >= 0 and not l.ignoreInEval]
    return {
        "mIoU": clean_number(result["averageScoreClasses"]),
        "iIoU": clean_number(result["averageScoreInstClasses"]),
        "category_mIoU": clean_number(result["averageScoreCategories"]),
        "category_iIoU": clean_number(result["averageScoreInstCategories"]),
        "per_class": {n: clean_number(result["classScores"][n]) for n in evaluated},
        "per_class_iIoU": {n: clean_number(result["classInstScores"][n]) for n in evaluated},
        "num_images": len(gt_list),
    }
