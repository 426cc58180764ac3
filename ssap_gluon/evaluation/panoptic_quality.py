"""PQ / SQ / RQ of COCO-format panoptic predictions, with cityscapesScripts' own code.

Both the Cityscapes panoptic benchmark and COCO panoptic (paper Table 9) use
the COCO panoptic format: a JSON whose ``annotations`` list per image its
``file_name`` (an RGB PNG, segment id = R + 256 G + 256^2 B, 0 = unlabelled)
and ``segments_info`` (``id``, ``category_id``; ground truth also ``iscrowd``),
and whose ``categories`` say which classes are things (``isthing``).
:func:`panoptic_quality` runs ``evalPanopticSemanticLabeling.pq_compute_single_core``
(matching at IoU > 0.5, crowd and void handling) over all images in one call
and averages with its ``average_pq``: the same code for both datasets, things
and stuff taken from the ground-truth JSON.
(Its multi-core driver ``pq_compute_multi_core`` would fork the calling
process, which may hold mxnet state; it splits the images into one chunk per
core and sums the chunks' statistics, so its PQ can differ from the one-core
sum in the last bits of a float, nothing more.)
"""
import json
import os

from ._official import EvaluationError, clean_number, official_call, png_size

__all__ = ["panoptic_quality", "read_panoptic_json"]


def read_panoptic_json(path, what, need=("annotations",)):
    if not os.path.isfile(path):
        raise EvaluationError("%s JSON not found: %s" % (what, path))
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise EvaluationError("%s JSON %s is not valid JSON: %s" % (what, path, e)) from None
    for key in need:
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise EvaluationError("%s JSON %s: expected an object with a %r list"
                                  % (what, path, key))
    return data


def panoptic_quality(gt_json, gt_folder, pred_json, pred_folder, image_ids=None):
    """PQ, SQ, RQ for all / thing / stuff classes and per class.

    ``image_ids``: evaluate only these ground-truth images (default: all of
    ``gt_json``). Every evaluated image needs a prediction annotation (matched by
    ``image_id``) and its PNG in ``pred_folder``, of the ground truth's size.
    Errors name the file.

    Returns ``{"PQ", "SQ", "RQ", "PQ_things", ..., "RQ_stuff", "n", "n_things",
    "n_stuff", "per_class": {name: {"PQ", "SQ", "RQ", "tp", "fp", "fn"}},
    "num_images"}``; a group without any class seen in ground truth or
    prediction has ``None`` (the official mean would divide by zero), a class
    seen in neither has ``None`` (the official code lists 0.0 but leaves it out
    of the means).
    """
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as official

    gt_json, pred_json = os.path.abspath(gt_json), os.path.abspath(pred_json)
    gt_folder, pred_folder = os.path.abspath(gt_folder), os.path.abspath(pred_folder)
    gt = read_panoptic_json(gt_json, "panoptic ground-truth", ("annotations", "categories"))
    pred = read_panoptic_json(pred_json, "panoptic prediction")
    for folder, what in ((gt_folder, "ground-truth"), (pred_folder, "prediction")):
        if not os.path.isdir(folder):
            raise EvaluationError("panoptic %s folder not found: %s" % (what, folder))
    categories = {c["id"]: c for c in gt["categories"]}
    gt_annotations = gt["annotations"]
    if image_ids is not None:
        wanted = set(image_ids)
        gt_annotations = [a for a in gt_annotations if a["image_id"] in wanted]
        missing = wanted - {a["image_id"] for a in gt_annotations}
        if missing:
            raise EvaluationError("%s has no ground truth for image id(s) %s"
                                  % (gt_json, sorted(missing, key=str)[:3]))
    if not gt_annotations:
        raise EvaluationError("%s lists no images to evaluate" % gt_json)
    by_image = {}
    for a in pred["annotations"]:
        if not isinstance(a, dict) or not {"image_id", "file_name", "segments_info"} <= set(a):
            raise EvaluationError("%s: every annotation needs image_id, file_name and "
                                  "segments_info, got %r" % (pred_json, a))
        by_image[a["image_id"]] = a
    matched, png_of = [], {}
    for gt_ann in gt_annotations:
        image_id = gt_ann["image_id"]
        pred_ann = by_image.get(image_id)
        if pred_ann is None:
            raise EvaluationError("%s has no prediction for image %r (ground truth %s)"
                                  % (pred_json, image_id,
                                     os.path.join(gt_folder, gt_ann["file_name"])))
        gt_png = os.path.join(gt_folder, gt_ann["file_name"])
        pred_png = os.path.join(pred_folder, pred_ann["file_name"])
        gt_h, gt_w, _ = png_size(gt_png, "panoptic ground-truth")
        h, w, mode = png_size(pred_png, "panoptic prediction")
        if (h, w) != (gt_h, gt_w):
            raise EvaluationError("panoptic prediction %s is %dx%d but the ground truth %s is "
                                  "%dx%d (predictions must be at full resolution)"
                                  % (pred_png, h, w, gt_png, gt_h, gt_w))
        if mode != "RGB":
            raise EvaluationError("panoptic prediction %s is a %s PNG; expected RGB (segment id "
                                  "= R + 256 G + 256^2 B)" % (pred_png, mode))
        matched.append((gt_ann, pred_ann))
        png_of[str(image_id)] = pred_png
    try:
        # one call over every image, as the official single-core path sums them
        with official_call("panoptic evaluation of %s" % pred_json):
            stat = official.pq_compute_single_core(0, matched, gt_folder, pred_folder,
                                                   categories)
    except KeyError as e:
        # "In the image with ID <id> segment ..." (a PNG / JSON disagreement): name the PNG
        message = str(e.args[0])
        where = [png for image_id, png in png_of.items()
                 if "ID %s " % image_id in message]
        raise EvaluationError("panoptic prediction %s (listed in %s): %s"
                              % (where[0] if where else pred_folder, pred_json, message)) from None
    try:
        results = official.average_pq(stat, categories)
    except ZeroDivisionError:
        # a group (e.g. stuff) with no class in ground truth or prediction
        results = {}
        for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            try:
                results[name], per_class = stat.pq_average(categories, isthing=isthing)
            except ZeroDivisionError:
                results[name], per_class = {"pq": float("nan"), "sq": float("nan"),
                                            "rq": float("nan"), "n": 0}, None
            if name == "All":
                results["per_class"] = per_class or {c: {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                                                     for c in categories}
    out = {"num_images": len(gt_annotations)}
    for key, suffix in (("All", ""), ("Things", "_things"), ("Stuff", "_stuff")):
        for metric in ("pq", "sq", "rq"):
            out[metric.upper() + suffix] = clean_number(results[key][metric])
        out["n" + suffix] = int(results[key]["n"])
    per_class = {}
    for c, v in results["per_class"].items():
        s = stat[c]
        seen = s.tp + s.fp + s.fn
        entry = {m.upper(): (clean_number(v[m]) if seen else None) for m in ("pq", "sq", "rq")}
        entry.update(tp=int(s.tp), fp=int(s.fp), fn=int(s.fn))
        per_class[categories[c]["name"]] = entry
    out["per_class"] = per_class
    return out
