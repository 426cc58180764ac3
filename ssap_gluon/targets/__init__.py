"""Ground-truth affinity pyramid (Sec. 3.1) with BD/OL weights, per batch.

>>> targets = build_targets(cfg, semantic, instance, dataset.thing_train_ids, rng)

Conventions (subsampling offset, channel order, regions): docs/DESIGN.md and
docs/MODEL.md.
"""
from .affinity import (affinity_loss_weights, affinity_pyramid_targets, affinity_targets,
                       all_one_pixels, downsample_labels, region_map, window_offsets)
from .pyramid import PyramidTargets, build_targets

__all__ = ["PyramidTargets", "affinity_loss_weights", "affinity_pyramid_targets",
           "affinity_targets", "all_one_pixels", "build_targets", "downsample_labels",
           "region_map", "window_offsets"]
