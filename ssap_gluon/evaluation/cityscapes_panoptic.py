"""Panoptic quality (PQ) with the official cityscapesScripts evaluator.

Ground truth in COCO panoptic format comes from cityscapesScripts' own
``createPanopticImgs.convert2panoptic`` run on the gtFine instanceIds: made
once into a cache folder (:func:`panoptic_gt`, reused while the instanceIds
files are unchanged), or into a temporary directory. Predictions: one RGB PNG
per image encoding segment ids (``id = R + 256 G + 256^2 B``) plus one JSON
listing every segment's category (Cityscapes label id). PQ/SQ/RQ come from
``evalPanopticSemanticLabeling``'s ``pq_compute_single_core`` and ``average_pq``
(:mod:`~ssap_gluon.evaluation.panoptic_quality`).
"""
import contextlib
import json
import os
import shutil
import tempfile

import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..utils.io import copy_atomic, write_json_atomic, write_png
from ._official import CityscapesEvalError, check_name, file_sha256, gt_files, official_call
from .panoptic_quality import panoptic_quality

__all__ = ["panoptic_from_instance_ids", "write_panoptic_prediction", "write_panoptic_json",
           "prepare_panoptic_gt", "panoptic_gt", "evaluate_panoptic", "PANOPTIC_LABEL_IDS",
           "CityscapesEvalError"]

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


def write_panoptic_prediction(out_folder, name, segment_map, segment_label_ids, image_id=None,
                              category_ids=PANOPTIC_LABEL_IDS):
    """Write one image's panoptic prediction PNG; return its JSON annotation.

    ``segment_map``: (H, W) ints, 0 = unlabelled, else a segment id < 256**3;
    ``segment_label_ids``: ``{segment id: category id}`` for every id in the map.
    The PNG is ``out_folder/<name>.png``; ``image_id`` (default ``name``, as
    Cityscapes matches images by stem) is the annotation's ``image_id`` (COCO:
    the integer id). ``category_ids``: the categories the ground truth has
    (default: the 19 evaluated Cityscapes label ids).
    """
    check_name(name)
    segment_map = np.asarray(segment_map)
    if segment_map.ndim != 2:
        raise ValueError("%s: segment_map must be 2-D (H, W), got shape %s"
                         % (name, segment_map.shape))
    ids = [int(v) for v in np.unique(segment_map) if v != 0]
    if ids and (min(ids) < 0 or max(ids) > MAX_SEGMENT_ID):
        raise ValueError("%s: segment ids must be in 1..%d" % (name, MAX_SEGMENT_ID))
    missing = [i for i in ids if i not in segment_label_ids]
    if missing:
        raise ValueError("%s: segment ids %s are in segment_map but have no label id"
                         % (name, missing[:10]))
    allowed = set(int(c) for c in category_ids)
    segments = []
    for sid in ids:
        label_id = int(segment_label_ids[sid])
        if label_id not in allowed:
            raise ValueError("%s: segment %d has label id %d, not one of the evaluated classes %s"
                             % (name, sid, label_id, tuple(sorted(allowed))))
        segments.append({"id": sid, "category_id": label_id})
    code = segment_map.astype(np.int64)
    rgb = np.stack([code % 256, code // 256 % 256, code // 65536], axis=-1).astype(np.uint8)
    file_name = name + ".png"
    write_png(os.path.join(os.fspath(out_folder), file_name), rgb[:, :, ::-1])
    return {"image_id": name if image_id is None else image_id, "file_name": file_name,
            "segments_info": segments}


def write_panoptic_json(path, annotations, categories=None):
    """The prediction JSON for :func:`evaluate_panoptic` (a list of annotations)."""
    data = {"annotations": list(annotations)}
    if categories is not None:
        data["categories"] = list(categories)
    write_json_atomic(path, data)


def prepare_panoptic_gt(gt_root, split, out_dir):
    """Run cityscapesScripts' ``convert2panoptic`` on ``gt_root/gtFine/<split>``.

    Writes ``out_dir/cityscapes_panoptic_<split>.json`` and the PNG folder of the
    same name; returns ``(json_path, png_folder)`` (absolute).
    """
    from cityscapesscripts.preparation import createPanopticImgs

    gt_fine = os.path.join(os.path.abspath(os.fspath(gt_root)), "gtFine")
    if not os.path.isdir(os.path.join(gt_fine, split)):
        raise FileNotFoundError("no ground truth folder %s" % os.path.join(gt_fine, split))
    out_dir = os.path.abspath(os.fspath(out_dir))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, "cityscapes_panoptic_%s" % split)
    if os.path.isdir(base):
        raise FileExistsError("%s exists; remove it or evaluate from it (gt_json=...)" % base)
    with tempfile.TemporaryDirectory(prefix=".panoptic_gt_", dir=out_dir) as tmp:
        with official_call("panoptic ground truth for %s" % gt_fine):
            createPanopticImgs.convert2panoptic(cityscapesPath=gt_fine, outputFolder=tmp,
                                                setNames=[split])
        os.replace(os.path.join(tmp, os.path.basename(base)), base)
        copy_atomic(os.path.join(tmp, os.path.basename(base) + ".json"), base + ".json")
    return base + ".json", base


@contextlib.contextmanager
def _locked(directory):
    """An exclusive lock on ``directory/.lock`` (two runs sharing a cache)."""
    import fcntl

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def panoptic_gt(gt_root, split, cache_dir):
    """The official panoptic ground truth of ``split``, made once into ``cache_dir``.

    ``cache_dir/cityscapes_panoptic_<split>.json`` + PNG folder, made by
    :func:`prepare_panoptic_gt`, with ``cityscapes_panoptic_<split>.source.json``
    recording the SHA-256 of every instanceIds file it was made from. A later
    call reuses it while those files are unchanged, and rebuilds it otherwise
    (the old version is replaced only once the new one is complete). Returns
    ``(json_path, png_folder)``.
    """
    cache_dir = os.path.abspath(os.fspath(cache_dir))
    sources = {p: file_sha256(p) for p in gt_files(gt_root, split, "instanceIds")}
    base = os.path.join(cache_dir, "cityscapes_panoptic_%s" % split)
    record = base + ".source.json"
    with _locked(cache_dir):
        if os.path.isfile(record) and os.path.isfile(base + ".json") and os.path.isdir(base):
            try:
                with open(record, encoding="utf-8") as f:
                    if json.load(f).get("instanceIds") == sources:
                        return base + ".json", base
            except ValueError:
                pass  # unreadable record: rebuild
        build = tempfile.mkdtemp(prefix=".build_%s_" % split, dir=cache_dir)
        try:
            new_json, new_folder = prepare_panoptic_gt(gt_root, split, build)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(record)  # invalid from here until the new version is in place
            if os.path.isdir(base):
                old = tempfile.mkdtemp(prefix=".old_", dir=cache_dir)
                os.replace(base, os.path.join(old, "folder"))
                shutil.rmtree(old, ignore_errors=True)
            os.replace(new_folder, base)
            os.replace(new_json, base + ".json")
            write_json_atomic(record, {"instanceIds": sources})
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return base + ".json", base


def evaluate_panoptic(gt_root, split, pred_json, pred_folder, gt_json=None, gt_folder=None,
                      names=None, gt_cache=None):
    """PQ, SQ, RQ (all / things / stuff and per class) of a panoptic prediction.

    Ground truth: ``gt_json``/``gt_folder`` if given; else made with the official
    converter into ``gt_cache`` (kept for later runs, :func:`panoptic_gt`); else
    ``gtFine/cityscapes_panoptic_<split>.json`` if present; else made afresh in a
    temporary directory. ``names``: evaluate only these frames (stems); every
    evaluated image needs a prediction (matched by ``image_id`` = stem).
    Returns :func:`~ssap_gluon.evaluation.panoptic_quality.panoptic_quality`'s
    dictionary (``PQ``, ``PQ_things``, ``PQ_stuff``, ..., ``per_class``).
    """
    with tempfile.TemporaryDirectory(prefix="ssap_eval_pan_") as tmp:
        if gt_json is None:
            default = os.path.join(os.path.abspath(os.fspath(gt_root)), "gtFine",
                                   "cityscapes_panoptic_%s.json" % split)
            if gt_cache is not None:
                gt_json, gt_folder = panoptic_gt(gt_root, split, gt_cache)
            elif os.path.isfile(default):
                gt_json = default
            else:
                gt_json, gt_folder = prepare_panoptic_gt(gt_root, split, tmp)
        if gt_folder is None:
            gt_folder = os.path.splitext(gt_json)[0]
        if names is not None:
            names = list(names)
            gt_files(gt_root, split, "instanceIds", names)  # every name has ground truth
        return panoptic_quality(gt_json, gt_folder, pred_json, pred_folder, image_ids=names)
