"""Instance segmentation AP with the official cityscapesScripts evaluator.

Predictions use the official results format: for every image one
``<stem>.txt`` whose lines are ``<relative/mask.png> <labelId> <score>``, and
one binary mask PNG per instance. :func:`write_instance_predictions` writes it;
:func:`evaluate_instances` scores it with ``evalInstanceLevelSemanticLabeling``'s
own functions (ground truth from ``instances2dict``, ``matchGtWithPreds``,
``evaluateMatches``, ``computeAverages``): what its ``evaluateImgLists`` does,
minus writing ``matches.json`` into the current directory. Nothing of the
metric is re-implemented here.

Keep instance predictions in their own directory: the official matcher looks
for ``<stem>*.txt`` anywhere under it, and the pixel-level evaluator would take
mask PNGs named ``<stem>_*.png`` for semantic predictions.
"""
import fnmatch
import json
import os

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import write_json_atomic, write_png
from ._official import (CityscapesEvalError, check_name, fresh_args, file_sha256, gt_files,
                        gt_stem, json_safe, clean_number, official_call, png_size)

__all__ = ["write_instance_predictions", "evaluate_instances", "check_instance_predictions",
           "load_gt_instances", "INSTANCE_LABEL_IDS", "CityscapesEvalError",
           "AP_DISTANCE_REASON"]

# Label ids the official evaluator scores: person, rider, car, truck, bus, train, motorcycle, bicycle.
INSTANCE_LABEL_IDS = tuple(sorted(l.id for l in id2label.values()
                                  if l.hasInstances and not l.ignoreInEval))
MASK_DIR = "masks"
GT_INSTANCES_CACHE = "gt_instances.json"
AP_DISTANCE_REASON = (
    "AP100m / AP50m need every ground-truth instance's distance from the disparity maps; "
    "the public cityscapesScripts never computes it (Instance.medDist stays -1) and the "
    "public ground truth has no distances: only the benchmark server reports them")


def mask_name(image_stem, index):
    return "%s/%s_%04d.png" % (MASK_DIR, image_stem, index)


def write_instance_predictions(out_dir, image_stem, instances):
    """Write one image's instances in the cityscapesScripts results format.

    ``instances``: iterable of ``(mask, label_id, score)`` with ``mask`` a boolean
    (H, W) array, ``label_id`` a Cityscapes label id (24..33, e.g. 26 = car) and
    ``score`` a finite float. Masks go to ``out_dir/masks/<stem>_<i>.png``
    (0/255 uint8), the list to ``out_dir/<stem>.txt`` (written last, so a present
    .txt always refers to complete masks). Empty masks are skipped, as the
    evaluator ignores them. Returns the path of the .txt file.
    """
    check_name(image_stem)
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
        rel = mask_name(image_stem, i)
        write_png(os.path.join(out_dir, rel), mask.astype(np.uint8) * 255)
        lines.append("%s %d %.6g\n" % (rel, int(label_id), score))
    txt = os.path.join(out_dir, image_stem + ".txt")
    write_text_atomic(txt, "".join(lines))
    return txt


def write_text_atomic(path, text):
    from ..utils.io import atomic_write

    with atomic_write(path, "w") as f:
        f.write(text)


def read_instance_txt(txt):
    """``[(relative mask path, label id, score)]`` of one results file."""
    out = []
    with open(txt, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split(" ")
            if len(parts) != 3:
                raise CityscapesEvalError(
                    "%s, line %d: expected '<relative/mask.png> <labelId> <score>' separated by "
                    "single spaces, got %r" % (txt, number, line.rstrip("\n")))
            rel, label, score = parts
            try:
                label_id, score = int(float(label)), float(score)
            except ValueError:
                raise CityscapesEvalError("%s, line %d: labelId and score must be numbers, got %r"
                                          % (txt, number, line.rstrip("\n"))) from None
            out.append((rel, label_id, score, number))
    return out


def check_instance_predictions(gt_list, pred_dir):
    """The results file of every ground-truth image, after checking everything
    the official code would stop on (``sys.exit``) or crash at: exactly one
    ``<stem>*.txt`` per image, well-formed lines, label ids of cityscapesScripts'
    table, finite scores, masks inside ``pred_dir`` that are readable PNGs of the
    ground truth's size. Errors name the file. Returns the .txt paths (absolute).
    """
    walk = [(root, files) for root, _, files in os.walk(pred_dir)]
    found = []
    for gt in gt_list:
        stem = gt_stem(gt, "instanceIds")
        pattern = stem + "*.txt"
        matches = [os.path.join(root, f) for root, files in walk
                   for f in fnmatch.filter(files, pattern)]
        if not matches:
            raise CityscapesEvalError(
                "no instance prediction for ground truth %s: expected %s"
                % (gt, os.path.join(pred_dir, stem + ".txt")))
        if len(matches) > 1:
            raise CityscapesEvalError(
                "several instance predictions for ground truth %s (the official matcher takes "
                "every file matching %s): %s" % (gt, pattern, ", ".join(sorted(matches)[:4])))
        txt = matches[0]
        gt_h, gt_w, _ = png_size(gt, "ground-truth")
        for rel, label_id, score, number in read_instance_txt(txt):
            where = "%s, line %d" % (txt, number)
            if os.path.isabs(rel):
                raise CityscapesEvalError("%s: the mask path must be relative, got %s"
                                          % (where, rel))
            mask = os.path.abspath(os.path.join(os.path.dirname(txt), rel))
            if os.path.commonprefix([mask, pred_dir]) != pred_dir:
                raise CityscapesEvalError("%s: mask %s points outside the prediction directory %s"
                                          % (where, mask, pred_dir))
            if label_id not in id2label:
                raise CityscapesEvalError("%s: label id %d is not in cityscapesScripts' label "
                                          "table" % (where, label_id))
            if not np.isfinite(score):
                raise CityscapesEvalError("%s: score %r is not finite" % (where, score))
            h, w, _ = png_size(mask, "instance mask (%s)" % where)
            if (h, w) != (gt_h, gt_w):
                raise CityscapesEvalError(
                    "instance mask %s (%s) is %dx%d but the ground truth %s is %dx%d (predictions "
                    "must be at full resolution)" % (mask, where, h, w, gt, gt_h, gt_w))
        found.append(txt)
    return found


def load_gt_instances(gt_list, cache_dir=None):
    """cityscapesScripts' ``instances2dict`` of the (absolute) ground-truth files.

    With ``cache_dir``, results are kept in ``cache_dir/gt_instances.json`` per
    file (key: absolute path, checked by the file's SHA-256), so a later run only
    converts new or changed files; the cache is rewritten atomically.
    """
    from cityscapesscripts.evaluation.instances2dict import instances2dict

    cached, digests = {}, {}
    path = None
    if cache_dir is not None:
        path = os.path.join(os.fspath(cache_dir), GT_INSTANCES_CACHE)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    cached = json.load(f).get("frames", {})
            except (ValueError, AttributeError):
                cached = {}  # unreadable cache: rebuilt below
        digests = {p: file_sha256(p) for p in gt_list}
    missing = [p for p in gt_list
               if p not in cached or cached[p].get("sha256") != digests.get(p)]
    if missing:
        with official_call("ground-truth instances of %s" % os.path.dirname(missing[0])):
            fresh = instances2dict(list(missing), False)
        for p in missing:
            cached[p] = {"sha256": digests.get(p), "instances": fresh[p]}
        if path is not None:
            write_json_atomic(path, {"format": 1, "frames": cached}, indent=None)
    return {p: cached[p]["instances"] for p in gt_list}


def _evaluate_matches(official, matches, args):
    """``official.evaluateMatches``, and where it fails, the same per class and
    overlap.

    cityscapesScripts indexes an empty array (IndexError) when a class has
    ground truth and predictions but, at some overlap, not a single prediction
    counts -- none matches and every unmatched one lies in an ignore region.
    That happens on small subsets or with weak models, never on the server. Its
    AP there is 0 by the official definition (no true positive: recall 0), so
    the class is re-scored one overlap at a time with the official function and
    0 is used where only it fails; every other value stays the official one.
    """
    import copy

    try:
        return official.evaluateMatches(matches, args)
    except IndexError:
        pass
    out = None
    for li, label in enumerate(args.instLabels):
        for oi, overlap in enumerate(args.overlaps):
            one = copy.copy(args)
            one.instLabels, one.overlaps = [label], np.array([overlap])
            try:
                value = official.evaluateMatches(matches, one)[:, 0, 0]
            except IndexError:
                value = 0.0
            if out is None:
                out = np.zeros((np.size(value) if np.ndim(value) else 1,
                                len(args.instLabels), len(args.overlaps)))
            out[:, li, oi] = value
    return out


def evaluate_instances(gt_root, split, pred_dir, min_region_size=100, export_json=None,
                       names=None, gt_cache=None):
    """AP of the predictions in ``pred_dir`` against ``gt_root/gtFine/<split>``.

    The official functions under ``evaluateImgLists`` run with a private copy of
    its ``args`` (quiet, no files written: not ``matches.json`` into the cwd, not
    ``gtInstances.json`` next to the package). ``min_region_size``: ground-truth
    instances smaller than this (pixels) are ignored, as in the official setting
    (100). ``export_json``: also write the official result dictionary there.
    ``names``: score only these frames (stems). ``gt_cache``: a folder keeping the
    converted ground truth between runs (:func:`load_gt_instances`).

    Returns ``{"AP", "AP50", "AP100m", "AP50m", "AP_distance_reason",
    "per_class": {name: {"AP", "AP50"}}, "num_images"}``. AP100m / AP50m are
    ``None`` (``AP_DISTANCE_REASON``). Classes with no ground truth in the frames
    have ``None`` (the official code skips them in the average).
    """
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as official

    gt_list = gt_files(gt_root, split, "instanceIds", names)
    pred_dir = os.path.abspath(os.fspath(pred_dir))
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError("prediction directory not found: %s" % pred_dir)
    args = fresh_args(official)
    args.predictionPath = pred_dir
    args.minRegionSizes = np.array([min_region_size, 1000, 1000])
    args.distanceAvailable = False
    args.csv = False
    check_instance_predictions(gt_list, pred_dir)
    what = "instance evaluation of %s" % pred_dir
    gt_instances = load_gt_instances(gt_list, gt_cache)
    with official_call(what):
        pred_list = [official.getPrediction(gt, args) for gt in gt_list]
        # evaluateImgLists, minus its writeDict2JSON(matches, "matches.json") into the cwd
        official.setInstanceLabels(args)
        matches = official.matchGtWithPreds(pred_list, gt_list, gt_instances, args)
        ap_scores = _evaluate_matches(official, matches, args)
        averages = official.computeAverages(ap_scores, args)
        result = official.prepareJSONDataForResults(averages, ap_scores, args)
    if export_json is not None:
        write_json_atomic(export_json, json_safe(result))
    return {
        "AP": clean_number(averages["allAp"]),
        "AP50": clean_number(averages["allAp50%"]),
        "AP100m": None,
        "AP50m": None,
        "AP_distance_reason": AP_DISTANCE_REASON,
        "per_class": {name: {"AP": clean_number(v["ap"]), "AP50": clean_number(v["ap50%"])}
                      for name, v in averages["classes"].items()},
        "num_images": len(gt_list),
    }
