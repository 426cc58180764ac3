"""Semantic segmentation IoU with the official cityscapesScripts evaluator.

Predictions are labelId PNGs (Cityscapes label ids, not train ids), one per
image, named ``<stem>.png`` (the official matcher takes the single file under
the prediction directory matching ``<stem>*.png``; keep other PNGs out of it).
:func:`evaluate_semantic` runs ``evalPixelLevelSemanticLabeling`` on them.
"""
import os
import tempfile

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import copy_atomic, write_png
from ._official import (CityscapesEvalError, check_stem, clean_number, fresh_args,
                        gt_files, official_call, working_directory)

__all__ = ["write_semantic_prediction", "evaluate_semantic", "CityscapesEvalError"]

# Largest label id the official confusion matrix has a row/column for.
MAX_LABEL_ID = max(l.id for l in id2label.values())


def write_semantic_prediction(out_dir, image_stem, label_ids):
    """Write an (H, W) map of Cityscapes label ids as ``out_dir/<stem>.png`` (uint8)."""
    check_stem(image_stem)
    label_ids = np.asarray(label_ids)
    if label_ids.ndim != 2:
        raise ValueError("%s: label_ids must be 2-D (H, W), got shape %s"
                         % (image_stem, label_ids.shape))
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() > MAX_LABEL_ID):
        raise ValueError("%s: label_ids must be Cityscapes label ids 0..%d (labelId, not trainId; "
                         "255 is not an id), found %d..%d"
                         % (image_stem, MAX_LABEL_ID, label_ids.min(), label_ids.max()))
    path = os.path.join(os.fspath(out_dir), image_stem + ".png")
    write_png(path, label_ids.astype(np.uint8))
    return path


def evaluate_semantic(gt_root, split, pred_dir, export_json=None):
    """IoU of the labelId PNGs in ``pred_dir`` against ``gt_root/gtFine/<split>``.

    Returns ``{"mIoU", "iIoU", "category_mIoU", "category_iIoU", "per_class": {name: IoU},
    "per_class_iIoU": {...}, "num_images"}`` over the 19 evaluated classes,
    exactly as the official script computes them (classes absent from both
    ground truth and prediction are ``None`` and skipped in the means).
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    gt_list = gt_files(gt_root, split, "labelIds")
    pred_dir = os.path.abspath(os.fspath(pred_dir))
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError("prediction directory not found: %s" % pred_dir)
    args = fresh_args(official)
    args.predictionPath = pred_dir
    args.evalPixelAccuracy = False
    args.evalInstLevelScore = True
    args.bold = args.nocol = ""
    with tempfile.TemporaryDirectory(prefix="ssap_eval_sem_") as tmp:
        args.JSONOutput = export_json is not None
        args.exportFile = os.path.join(tmp, "resultPixelLevelSemanticLabeling.json")
        with official_call("semantic evaluation of %s" % pred_dir), working_directory(tmp):
            pred_list = [official.getPrediction(args, gt) for gt in gt_list]
            result = official.evaluateImgLists(pred_list, gt_list, args)
        if export_json is not None:
            copy_atomic(args.exportFile, export_json)
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
