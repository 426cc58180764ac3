"""COCO panoptic PQ (paper Table 9) with cityscapesScripts' PQ code.

The COCO panoptic ground truth is already in the format the PQ code reads:
``annotations/panoptic_<split>2017.json`` (images, annotations, the 133
categories with ``isthing``) and the PNG folder ``annotations/panoptic_<split>2017``.
Predictions are written like the Cityscapes ones
(:func:`~ssap_gluon.evaluation.cityscapes_panoptic.write_panoptic_prediction`
with the COCO integer ``image_id`` and the dataset's category ids), and scored
by the very functions the Cityscapes benchmark uses (``pq_compute_single_core``,
``average_pq``; :func:`~ssap_gluon.evaluation.panoptic_quality.panoptic_quality`):
a crowd region (``iscrowd = 1``) is never matched and an unmatched predicted
segment lying more than half on void or on a crowd region of its class is not
a false positive, as in COCO's own ``panopticapi``. Things and stuff are the
categories' ``isthing``.
"""
from .panoptic_quality import panoptic_quality, read_panoptic_json

__all__ = ["evaluate_coco_panoptic", "coco_categories"]


def coco_categories(gt_json):
    """The ``categories`` list of a COCO panoptic JSON."""
    return read_panoptic_json(gt_json, "COCO panoptic ground-truth",
                              ("annotations", "categories"))["categories"]


def evaluate_coco_panoptic(gt_json, gt_folder, pred_json, pred_folder, image_ids=None):
    """PQ / SQ / RQ (all, things, stuff, per class) of COCO-format predictions
    against a COCO panoptic ground truth; ``image_ids``: only these images."""
    return panoptic_quality(gt_json, gt_folder, pred_json, pred_folder, image_ids=image_ids)
