"""Evaluation with the official cityscapesScripts evaluators (instance AP,
semantic IoU, panoptic PQ -- the latter also for COCO panoptic), called as
functions; see docs/EVALUATION.md. ``scripts/test.py`` drives a whole split
through :mod:`ssap_gluon.evaluation.runner` (imported on demand: it loads mxnet).
"""
from ._official import CityscapesEvalError, EvaluationError
from .cityscapes_instance import (AP_DISTANCE_REASON, evaluate_instances,
                                  write_instance_predictions)
from .cityscapes_panoptic import (evaluate_panoptic, panoptic_from_instance_ids, panoptic_gt,
                                  prepare_panoptic_gt, write_panoptic_json,
                                  write_panoptic_prediction)
from .cityscapes_semantic import evaluate_semantic, write_semantic_prediction
from .coco_panoptic import evaluate_coco_panoptic
from .panoptic_quality import panoptic_quality
