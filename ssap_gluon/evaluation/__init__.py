"""Evaluation with the official cityscapesScripts evaluators (instance AP,
semantic IoU, panoptic PQ), called as functions; see docs/SYNTHCITY.md."""
from ._official import CityscapesEvalError
from .cityscapes_instance import evaluate_instances, write_instance_predictions
from .cityscapes_panoptic import (evaluate_panoptic, panoptic_from_instance_ids,
                                  prepare_panoptic_gt, write_panoptic_json,
                                  write_panoptic_prediction)
from .cityscapes_semantic import evaluate_semantic, write_semantic_prediction
