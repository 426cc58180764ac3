"""Instance segmentation AP with the official cityscapesScripts evaluator.

Predictions use the official results format: for every image one
``<stem>.txt`` whose lines are ``<relative/mask.png> <labelId> <score>``, and
one binary mask PNG per instance. :func:`write_instance_predictions` writes it;
:func:`evaluate_instances` runs ``evalInstanceLevelSemanticLabeling`` on it
(its own matching and AP code; nothing of the metric is re-implemented here).

Keep instance predictions in their own directory: the official matcher looks
for ``<stem>*.txt`` anywhere under it, and the pixel-level evaluator would take
mask PNGs named ``<stem>_*.png`` for semantic predictions.
"""
import os
import tempfile

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import atomic_write, copy_atomic, write_png
from ._official import (CityscapesEvalError, check_stem, clean_number, fresh_args,
                        gt_files, official_call, working_directory)

__all__ = ["write_instance_predictions", "evaluate_instances", "INSTANCE_LABEL_IDS",
           "CityscapesEvalError"]

# Label ids the official evaluator scores: person, rider, car, truck, bus, train, motorcycle, bicycle.
INSTANCE_LABEL_IDS = tuple(sorted(l.id for l in id2label.values()
                                  if l.hasInstances and not l.ignoreInEval))
MASK_DIR = "masks"


def write_instance_predictions(out_dir, image_stem, instances):
    """Write one image's instances in the cityscapesScripts results format.

    ``instances``: iterable of ``(mask, label_id, score)`` with ``mask`` a boolean
    (H, W) array, ``label_id`` a Cityscapes label id (24..33, e.g. 26 = car) and
    ``score`` a finite float. Masks go to ``out_dir/masks/<stem>_<i>.png``
    (0/255 uint8), the list to ``out_dir/<stem>.txt`` (written last, so a present
    .txt always refers to complete masks). Empty masks are skipped, as the
    evaluator ignores them. Returns the path of the .txt file.
    """
    check_stem(image_stem)
    out_dir = os.fspath(out_dir)
    lines = []
    shape = None
    for i, item in enumerate(instances):
        try:
            mask, label_id, score = item
        except (TypeError, ValueError):
            raise ValueError("%s: instance %d must be (mask, label_id, score), got %r"
                             % (image_stem, i, type(item).__name__)) from None
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError("%s: instance %d mask must be 2-D (H, W), got shape %s"
                             % (image_stem, i, mask.shape))
        if shape is None:
            shape = mask.shape
        elif mask.shape != shape:
            raise ValueError("%s: instance %d mask has shape %s, earlier ones %s"
                             % (image_stem, i, mask.shape, shape))
        if isinstance(label_id, bool) or int(label_id) != label_id or \
                int(label_id) not in INSTANCE_LABEL_IDS:
            raise ValueError("%s: instance %d label_id must be a Cityscapes instance label id %s "
                             "(labelId, not trainId), got %r"
                             % (image_stem, i, INSTANCE_LABEL_IDS, label_id))
        score = float(score)
        if not np.isfinite(score):
            raise ValueError("%s: instance %d score must be finite, got %r" % (image_stem, i, score))
        mask = mask.astype(bool)
        if not mask.any():
            continue
        rel = "%s/%s_%04d.png" % (MASK_DIR, image_stem, i)
        write_png(os.path.join(out_dir, rel), mask.astype(np.uint8) * 255)
        lines.append("%s %d %.6g\n" % (rel, int(label_id), score))
    txt = os.path.join(out_dir, image_stem + ".txt")
    with atomic_write(txt, "w") as f:
        f.writelines(lines)
    return txt


def evaluate_instances(gt_root, split, pred_dir, min_region_size=100, export_json=None):
    """AP of the predictions in ``pred_dir`` against ``gt_root/gtFine/<split>``.

    Calls cityscapesScripts' ``evalInstanceLevelSemanticLabeling.evaluateImgLists``
    with a private copy of its ``args``: quiet, the ground-truth cache
    (``gtInstances.json``) and ``matches.json`` in a temporary directory, so
    nothing stale is ever reused and nothing lands in the cwd or site-packages.
    ``min_region_size``: ground-truth instances smaller than this (pixels) are
    ignored, as in the official setting (100). ``export_json``: also write the
    official result JSON there.

    Returns ``{"AP", "AP50", "AP100m", "AP50m", "per_class": {name: {"AP", "AP50"}},
    "num_images"}``. AP100m / AP50m need the distance of every instance, which
    the public evaluator never computes (``Instance.medDist`` stays -1), so they
    are ``None``. Classes with no ground truth in the split have ``None``
    (the official code skips them in the average).
    """
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as official

    gt_list = gt_files(gt_root, split, "instanceIds")
    pred_dir = os.path.abspath(os.fspath(pred_dir))
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError("prediction directory not found: %s" % pred_dir)
    args = fresh_args(official)
    args.predictionPath = pred_dir
    args.minRegionSizes = np.array([min_region_size, 1000, 1000])
    args.distanceAvailable = False
    args.csv = False
    with tempfile.TemporaryDirectory(prefix="ssap_eval_inst_") as tmp:
        args.gtInstancesFile = os.path.join(tmp, "gtInstances.json")
        args.JSONOutput = export_json is not None
        args.exportFile = os.path.join(tmp, "resultInstanceLevelSemanticLabeling.json")
        with official_call("instance evaluation of %s" % pred_dir), working_directory(tmp):
            pred_list = [official.getPrediction(gt, args) for gt in gt_list]
            result = official.evaluateImgLists(pred_list, gt_list, args)
        if export_json is not None:
            copy_atomic(args.exportFile, export_json)
    averages = result["averages"]
    return {
        "AP": clean_number(averages["allAp"]),
        "AP50": clean_number(averages["allAp50%"]),
        "AP100m": None,
        "AP50m": None,
        "per_class": {name: {"AP": clean_number(v["ap"]), "AP50": clean_number(v["ap50%"])}
                      for name, v in averages["classes"].items()},
        "num_images": len(gt_list),
    }
