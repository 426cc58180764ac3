"""Semantic validation: full-resolution labels from the 1/4 semantic head, mIoU.

Used by periodic validation during training and by ``scripts/eval_semantic.py``.

The prediction of a frame: the eval transform (pad to ``INPUT.SIZE_DIVISOR``),
one forward pass, the finest semantic level's logits upsampled to the input
size with the network's own sampling convention (level pixel ``i`` of stride
``s`` is input pixel ``s * i``, docs/MODEL.md §3), argmax, padding removed
(``Geometry.restore``) -- ``ssap_gluon.inference.network.predict_semantic``. mIoU: cityscapesScripts' evaluator on labelId PNGs when
the whole split of a Cityscapes-layout dataset is evaluated; otherwise (a
subset via ``max_images``, or COCO) the same IoU definition from a confusion
matrix of train ids (void ground truth excluded).
"""
import os
import shutil
import tempfile
import time

import numpy as np

from ..data.labels import TRAIN_ID_TO_LABEL_ID
from ..inference.network import predict_semantic
from ..utils.io import write_json_atomic


def confusion_matrix(gt, pred, num_classes, ignore_label=255):
    """``(C, C)`` int64 counts, rows = ground truth, over pixels with gt != ignore."""
    gt = np.asarray(gt).ravel()
    pred = np.asarray(pred).ravel()
    keep = gt != ignore_label
    gt, pred = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError("ground-truth train ids outside 0..%d (and %d)"
                         % (num_classes - 1, ignore_label))
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError("predicted train ids outside 0..%d" % (num_classes - 1))
    return np.bincount(gt * num_classes + pred,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(conf):
    """Per-class IoU ``tp / (tp + fp + fn)`` (NaN where the class is absent from
    both ground truth and prediction) and their mean over the non-NaN classes."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    denom = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)
    valid = ~np.isnan(iou)
    return iou, float(iou[valid].mean()) if valid.any() else float("nan")


def evaluate_semantic_miou(net, cfg, ctx, out_dir=None, split="val", max_images=0,
                           dataset=None, use_official=None, progress=False):
    """Semantic mIoU of ``net`` on ``split``; returns a dict (and writes it as JSON).

    ``out_dir``: where ``semantic_<split>.json`` (and, for the official
    evaluator, the labelId PNGs under ``semantic_<split>/``) go; ``None`` uses
    a temporary directory. ``use_official``: ``None`` = when possible.
    """
    from ..data import build_dataset

    if dataset is None:
        dataset = build_dataset(cfg, split, is_train=False)
    n = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    if n == 0:
        raise ValueError("split %r of %s has no frames" % (split, cfg.DATASET.ROOT))
    if use_official is None:
        use_official = cfg.DATASET.NAME == "cityscapes" and n == len(dataset)
    if use_official and n != len(dataset):
        raise ValueError("the official evaluator scores every frame of a split; "
                         "max_images=%d < %d frames" % (max_images, len(dataset)))
    num_classes = dataset.num_classes
    conf = np.zeros((num_classes, num_classes), np.int64)
    tmp = None
    if out_dir is None:
        tmp = out_dir = tempfile.mkdtemp(prefix="ssap_val_")
    pred_dir = os.path.join(out_dir, "semantic_%s" % split)
    if use_official:
        from ..evaluation import write_semantic_prediction

        shutil.rmtree(pred_dir, ignore_errors=True)
        os.makedirs(pred_dir)
    transform = dataset.transform
    started = time.time()
    indices = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="val %s" % split, unit="img")
    try:
        for index in indices:
            image, semantic, instance = dataset.load(index)
            geometry = transform.geometry(image.shape[0], image.shape[1])
            x, _, _ = transform.apply(image, semantic, instance, geometry)
            pred = geometry.restore(predict_semantic(net, x, ctx), "nearest")
            conf += confusion_matrix(semantic, pred, num_classes, dataset.ignore_label)
            if use_official:
                write_semantic_prediction(pred_dir, dataset.name(index),
                                          TRAIN_ID_TO_LABEL_ID[pred])
        iou, miou = iou_from_confusion(conf)
        result = {"split": split, "num_images": n, "mIoU": miou,
                  "per_class": {name: (None if np.isnan(v) else float(v))
                                for name, v in zip(dataset.class_names, iou)},
                  "evaluator": "confusion_matrix", "seconds": None}
        if use_official:
            from ..evaluation import evaluate_semantic

            official = evaluate_semantic(dataset.root, dataset.split, pred_dir)
            result.update(evaluator="cityscapesScripts", mIoU=official["mIoU"],
                          per_class=official["per_class"], iIoU=official["iIoU"],
                          confusion_matrix_mIoU=miou)
        result["seconds"] = time.time() - started
        if tmp is None:
            write_json_atomic(os.path.join(out_dir, "semantic_%s.json" % split), result)
        return result
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
