"""Every setting of ssap-gluon, with its default.

Not every default is the paper's. The paper's stated values (Sec. 4
"Implementation Details", Tables 2, 4, 6) are the defaults of AFFINITY.WINDOW,
AFFINITY.STRIDES, AFFINITY.DROP_ALL_ONE_PROB, AFFINITY.THING_WEIGHT,
LOSS.AFFINITY_ALPHA, LOSS.LEVEL_WEIGHTS, MODEL.BACKBONE (ResNet-50), the
SOLVER schedule (Nadam, 1e-4, steps, 70000 iterations, batch 24),
TEST.CASCADE_INIT_STRIDE and TEST.SEGMENTATION_REFINEMENT. The rest of the
paper's model lives in configs/r50.yaml, whose values differ from the defaults
here: MODEL.HEAD_KERNEL 5 and MODEL.HEAD_CONV full (read from Table 6),
MODEL.NORM syncbn, MODEL.PRETRAINED model_store, TRAIN.DEVICES (8 GPUs),
TEST.FLIP and TEST.SCALES (Table 7). Where the paper is silent the default is
the choice described under its own heading in docs/REPRODUCTION.md, "What the
paper leaves open" (the comments below name the heading). YAML files in
configs/ override these; ``--opts KEY VALUE`` overrides a YAML.

Every key has a rule in ``RULES`` (its valid range or set of values;
``CHOICES`` lists the enumerated ones), checked by
:func:`ssap_gluon.config.load_config` together with the relations between keys
in :data:`ssap_gluon.config.rules.RELATIONS`. docs/TRAINING.md shows the table
(:func:`ssap_gluon.config.ranges_markdown`). A new key needs a rule.
"""
from yacs.config import CfgNode as CN

# numpy only (no mxnet): the solver names are defined by the module that implements them
from ..partition.multicut import SOLVERS as _MULTICUT_SOLVERS
from .rules import Backbone, Bool, Devices, Float, Int, ListOf, OneOf, Strides, Template, Text

_C = CN()
_C.NAME = "ssap"

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
_C.DATASET = CN()
# "cityscapes" reads the official folder layout (real Cityscapes or SynthCity);
# "coco_panoptic" reads panoptic PNG + JSON.
_C.DATASET.NAME = "cityscapes"
# Dataset root. Empty: $CITYSCAPES_DATASET (cityscapes) / $COCO_DATASET (coco).
_C.DATASET.ROOT = ""
_C.DATASET.TRAIN_SPLIT = "train"
_C.DATASET.VAL_SPLIT = "val"
_C.DATASET.TEST_SPLIT = "test"
# COCO panoptic layout under ROOT; "{split}" is replaced by the split name
# (train -> panoptic_train2017.json, train2017/, ...). Standard COCO 2017 names.
_C.DATASET.COCO_JSON = "annotations/panoptic_{split}2017.json"
_C.DATASET.COCO_PANOPTIC_DIR = "annotations/panoptic_{split}2017"
_C.DATASET.COCO_IMAGE_DIR = "{split}2017"

_C.INPUT = CN()
# (height, width) of training crops; Cityscapes: 512x1024 (REPRODUCTION.md,
# "Augmentation and crop size").
_C.INPUT.CROP_SIZE = [512, 1024]
# Random rescale factor range before cropping (same heading).
_C.INPUT.SCALE_RANGE = [0.5, 2.0]
# 0: scale factor uniform in SCALE_RANGE; > 0: uniform over the grid
# min, min + step, ..., max (DeepLab's discrete scales use 0.25).
_C.INPUT.SCALE_STEP = 0.0
# Evaluation pads images bottom/right to a multiple of this, so the 1/64
# pyramid level exists (largest entry of AFFINITY.STRIDES).
_C.INPUT.SIZE_DIVISOR = 64
_C.INPUT.FLIP = True
# Resize so that the longer edge has this length before augmentation
# (COCO: 640; 0 keeps the original size).
_C.INPUT.LONG_EDGE = 0
# ImageNet statistics on 0..1 RGB, as gluoncv's pretrained backbones expect.
_C.INPUT.MEAN = [0.485, 0.456, 0.406]
_C.INPUT.STD = [0.229, 0.224, 0.225]
# Value written into padded label pixels when a scaled image is smaller than the crop.
_C.INPUT.IGNORE_LABEL = 255

_C.DATALOADER = CN()
_C.DATALOADER.NUM_WORKERS = 2
_C.DATALOADER.PREFETCH = 2

# ---------------------------------------------------------------------------
# Network (paper Sec. 3.1, Fig. 3)
# ---------------------------------------------------------------------------
_C.MODEL = CN()
# gluoncv model-zoo name: resnet50_v1b, resnet101_v1b; resnet18_v1b for SynthCity.
_C.MODEL.BACKBONE = "resnet50_v1b"
# "" = random init; "model_store" = gluoncv's local model store (no download
# here; the paper configs); otherwise a path to a .params file (REPRODUCTION.md,
# "ImageNet-pretrained backbone").
_C.MODEL.PRETRAINED = ""
# Dilated backbone (output stride 8), used by the "single" variant of Table 3.
_C.MODEL.DILATED = False
# "joint" (default), "semantic" (r = 0, Table 2 row 1 / Table 3 "w/o JL"),
# "affinity" (affinity-only model of Table 3 "w/o JL").
_C.MODEL.TASKS = "joint"
# "hierarchical": affinity level i is predicted from decoder level i (Fig. 3);
# "single": every level from the 1/4 feature map with strides (Table 3).
_C.MODEL.AFFINITY_FEATURE = "hierarchical"
_C.MODEL.NUM_CLASSES = 19
# Channels of the lateral 1x1 convs / decoder levels (REPRODUCTION.md, "Decoder
# fusion and the 1/64 level").
_C.MODEL.DECODER_CHANNELS = 256
# Channels of the KxK conv-BN-ReLU in each head (REPRODUCTION.md, "Branch heads:
# structure, kernel, dense or separable").
_C.MODEL.HEAD_CHANNELS = 128
# K of the head conv: 3, or 5 for Table 6 "Kernel 5" (the paper model,
# configs/r50.yaml; the paper states no kernel, it is read from Table 6).
_C.MODEL.HEAD_KERNEL = 3
# How the KxK head conv is built: "separable" = depthwise KxK-BN-ReLU +
# pointwise 1x1 (Panoptic-DeepLab heads; keeps K = 5 cheap at 1/4; the embedded
# default), "full" = a dense KxK conv (the literal reading of Table 6's "Kernel";
# configs/r50.yaml).
_C.MODEL.HEAD_CONV = "separable"
# "bn" or "syncbn" (mxnet.gluon.contrib.nn.SyncBatchNorm over all devices; the
# paper, configs/r50.yaml).
_C.MODEL.NORM = "bn"

# ---------------------------------------------------------------------------
# Affinity pyramid targets (Sec. 3.1, Eq. 1)
# ---------------------------------------------------------------------------
_C.AFFINITY = CN()
# Window size r; 0 disables the affinity branch (Table 2).
_C.AFFINITY.WINDOW = 5
# Output strides of the pyramid levels: 1/4 ... 1/64.
_C.AFFINITY.STRIDES = [4, 8, 16, 32, 64]
# BD: drop pixels whose r*r targets are all 1 with this probability,
# resampled every iteration (REPRODUCTION.md, "BD: ..."). 0 disables.
_C.AFFINITY.DROP_ALL_ONE_PROB = 0.8
# OL: loss weight of pixels whose ground-truth class is a thing class
# (REPRODUCTION.md, "OL: ..."). 1 disables.
_C.AFFINITY.THING_WEIGHT = 3.0
# Pairs whose neighbour lies outside the (cropped, padded) level map: "ignore"
# = no loss (a crop border is not an object border); "background" = the
# outside counts as background (target 0 from an instance pixel), the usual
# choice (REPRODUCTION.md, "Pairs reaching outside the crop": a deviation).
_C.AFFINITY.OUTSIDE_PAIRS = "ignore"

# ---------------------------------------------------------------------------
# Losses (Eq. 10)
# ---------------------------------------------------------------------------
_C.LOSS = CN()
# Focal loss gamma (not given by the paper: REPRODUCTION.md, "Focal-loss γ");
# 0 is cross-entropy.
_C.LOSS.FOCAL_GAMMA = 2.0
# alpha of Eq. 10 (Table 1).
_C.LOSS.AFFINITY_ALPHA = 0.003
# lambda_i of Eq. 10 for 1/4 ... 1/64 (Table 1 "diff."); "same" = all 1.
_C.LOSS.LEVEL_WEIGHTS = [0.01, 0.03, 0.1, 0.3, 1.0]
# Per-level weights of the semantic loss L_s^i (Eq. 10 sums them unweighted).
_C.LOSS.SEMANTIC_LEVEL_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 1.0]
# Normaliser of L_a^i (Eq. 1 summed over pixels): "image_sum" = sum over the
# pixels of each image, mean over images (the scale the paper's lambda_i
# equalise, docs/MODEL.md); "count" = mean over kept (valid, not dropped)
# pairs; "weight_sum" = weighted mean (divide by the sum of BD/OL weights).
_C.LOSS.AFFINITY_NORMALIZATION = "image_sum"

# ---------------------------------------------------------------------------
# Optimisation (Sec. 4)
# ---------------------------------------------------------------------------
_C.SOLVER = CN()
_C.SOLVER.OPTIMIZER = "nadam"
# "mxnet": mxnet's Nadam (momentum schedule advanced once per parameter
# update: the paper ran on MXNet); "per_step": textbook Nadam.
_C.SOLVER.NADAM_SCHEDULE = "mxnet"
_C.SOLVER.NADAM_SCHEDULE_DECAY = 0.004
# Nadam's moment decays and epsilon: mxnet's / Dozat's defaults (paper silent).
_C.SOLVER.NADAM_BETA1 = 0.9
_C.SOLVER.NADAM_BETA2 = 0.999
_C.SOLVER.NADAM_EPSILON = 1e-8
# Momentum of SOLVER.OPTIMIZER "sgd" only.
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.BASE_LR = 1e-4
_C.SOLVER.STEPS = [30000, 50000]
_C.SOLVER.GAMMA = 0.1
_C.SOLVER.MAX_ITER = 70000
_C.SOLVER.IMS_PER_BATCH = 24
_C.SOLVER.WEIGHT_DECAY = 0.0
_C.SOLVER.NO_WD_BIAS_NORM = True
_C.SOLVER.CLIP_GRADIENT = 0.0

# ---------------------------------------------------------------------------
# Training engine
# ---------------------------------------------------------------------------
_C.TRAIN = CN()
# Devices: "cpu", "cpu:2" (2 CPU contexts), "gpu:0,1,2,3".
_C.TRAIN.DEVICES = "cpu"
_C.TRAIN.SEED = 0
_C.TRAIN.OUTPUT_DIR = "output/ssap"
_C.TRAIN.CHECKPOINT_PERIOD = 5000
_C.TRAIN.KEEP_CHECKPOINTS = 3
_C.TRAIN.LOG_PERIOD = 20
# Validate every N iterations (0: only at the end when VALIDATE_AT_END).
_C.TRAIN.EVAL_PERIOD = 0
_C.TRAIN.VALIDATE_AT_END = True
# mxnet AMP (float16) on GPUs; sync BN stays float32.
_C.TRAIN.AMP = False
# kvstore: "device" / "local" on one machine, "dist_sync" / "dist_device_sync" across nodes.
_C.TRAIN.KVSTORE = "device"
_C.TRAIN.HYBRIDIZE = True
# Periodic / final validation: semantic mIoU of the 1/4 head on DATASET.VAL_SPLIT,
# on at most this many frames (0: all).
_C.TRAIN.VAL_MAX_IMAGES = 0

# ---------------------------------------------------------------------------
# Inference: graph -> cascaded multicut -> instances (Sec. 3.2)
# ---------------------------------------------------------------------------
_C.TEST = CN()
# Stride of the level the cascade starts from (Table 4; paper: 16).
_C.TEST.CASCADE_INIT_STRIDE = 16
# Affinity levels used, as strides (Table 5 adds them coarse to fine). The
# cascade visits the used levels from CASCADE_INIT_STRIDE down; the finest
# level (4) must be used (docs/INFERENCE.md).
_C.TEST.AFFINITY_STRIDES = [4, 8, 16, 32, 64]
# Every used affinity level coarser than a graph's level adds its window pairs
# to that graph as long-range edges between lattice pixels (docs/INFERENCE.md).
_C.TEST.LONG_RANGE_EDGES = True
# "gaec", "gaec+kl" or "kl" (REPRODUCTION.md, "The multicut solver").
_C.TEST.MULTICUT_SOLVER = "gaec+kl"
# Kernighan-Lin settings (docs/MULTICUT.md): outer iterations and epsilon as
# bjoern-andres/graph; a move sequence stops at DEPTH_FRACTION x andres' depth
# bound (1.0 = andres) or after UNIMPROVED_SLACK + min cluster size moves
# without a new best prefix (-1 = no such limit, andres' rule alone).
_C.TEST.MULTICUT_KL_OUTER_ITERATIONS = 100
_C.TEST.MULTICUT_KL_EPSILON = 1e-6
_C.TEST.MULTICUT_KL_DEPTH_FRACTION = 1.0
_C.TEST.MULTICUT_KL_UNIMPROVED_SLACK = 1000
# Clip affinities to [eps, 1-eps] before the logit of Eq. 3 (REPRODUCTION.md,
# "Edge weights and the clipping before the logit").
_C.TEST.AFFINITY_EPS = 0.001
# Segmentation refinement (Eq. 6-8; REPRODUCTION.md, "Scope of segmentation
# refinement").
_C.TEST.SEGMENTATION_REFINEMENT = True
# How the refinement graph is seeded (docs/INFERENCE.md): "coarser_proposals"
# (the refinement is the finest level's step: the previous level's proposals
# are its supernodes), "proposals" (a per-class partition of the finest level
# first; its segments' inner regions are the supernodes) or "warm_start" (all
# thing pixels as nodes, solved from that per-class partition).
_C.TEST.REFINEMENT_SEED = "proposals"
# Thing classes partitioned at once (threads; the solver releases the GIL).
# 0: one per CPU core.
_C.TEST.NUM_THREADS = 0
_C.TEST.FLIP = False
_C.TEST.SCALES = [1.0]
# Predicted instances smaller than this (full-resolution pixels) are dropped
# (REPRODUCTION.md, "Small instances are removed").
_C.TEST.MIN_INSTANCE_AREA = 100
# Erosion (pixels, 4-connectivity) of coarse segments before they become
# proposals at the next finer level (REPRODUCTION.md, "Inner regions" used as
# proposals).
_C.TEST.PROPOSAL_EROSION = 1
# At the finer level, release proposal pixels that form a window pair of
# affinity < 1/2 with their own proposal (each becomes a node of its own; a
# proposal may stay in separate parts): a thin object between a coarse level's
# pixels is not swallowed by its neighbour's proposal (docs/INFERENCE.md; an
# addition to the paper). False: the paper's proposals as is.
_C.TEST.PROPOSAL_CHECK = True
# "semantic" (mean class probability over the mask) or "semantic_x_affinity"
# (REPRODUCTION.md, "Instance score for ranking").
_C.TEST.SCORE = "semantic"
# Instance masks at full resolution: "nearest" = the finest level's instance
# labels upsampled (nearest, level pixel i = input pixel s*i); "semantic" =
# thing pixels of the full-resolution semantic map (bilinear) take the label
# of the nearest instance pixel within one level pixel (docs/INFERENCE.md;
# measured there on the shipped SynthCity model).
_C.TEST.MASK_UPSAMPLING = "semantic"

# Values allowed for enumerated keys; checked by ssap_gluon.config.load_config.
CHOICES = {
    "DATASET.NAME": ("cityscapes", "coco_panoptic"),
    "MODEL.TASKS": ("joint", "semantic", "affinity"),
    "MODEL.AFFINITY_FEATURE": ("hierarchical", "single"),
    "MODEL.HEAD_KERNEL": (3, 5),
    "MODEL.HEAD_CONV": ("separable", "full"),
    "LOSS.AFFINITY_NORMALIZATION": ("image_sum", "count", "weight_sum"),
    "MODEL.NORM": ("bn", "syncbn"),
    "AFFINITY.WINDOW": (0, 3, 5, 7, 9),
    "AFFINITY.OUTSIDE_PAIRS": ("ignore", "background"),
    "SOLVER.OPTIMIZER": ("nadam", "adam", "sgd"),
    "SOLVER.NADAM_SCHEDULE": ("mxnet", "per_step"),
    "TRAIN.KVSTORE": ("device", "local", "dist_sync", "dist_device_sync",
                      "dist_async"),
    "TEST.MULTICUT_SOLVER": tuple(_MULTICUT_SOLVERS),
    "TEST.SCORE": ("semantic", "semantic_x_affinity"),
    "TEST.REFINEMENT_SEED": ("coarser_proposals", "proposals", "warm_start"),
    "TEST.MASK_UPSAMPLING": ("nearest", "semantic"),
}


#: gluoncv ResNetV1b model-zoo names ResNetBackbone can build (tested against
#: gluoncv in tests/test_config.py): the 18..152 v1b networks and the deep-stem /
#: average-down variants v1c, v1d, v1e, v1s. Not the pruned "_0.xx" models (their
#: structure is downloaded) nor the "_gn" ones (GroupNorm, ignoring MODEL.NORM).
BACKBONES = tuple(["resnet%d_v1b" % d for d in (18, 34, 50, 101, 152)]
                  + ["resnet%d_v1%s" % (d, v) for v in "cdes" for d in (50, 101, 152)])

_UNIT = Float(0.0, 1.0)
_NON_NEGATIVE = Float(0.0)
#: Scale factors (training rescale, test scales): above 16 a Cityscapes frame
#: would be 16k x 32k pixels.
_SCALE = Float(0.0, 16.0, lo_open=True)

#: The valid range or set of every key (checked at load; NaN/inf always refused).
#: A key of CHOICES gets OneOf(its values) unless listed here with a note.
RULES = {
    "NAME": Text("any string (names the run in logs and plots)"),
    "DATASET.ROOT": Text("a folder, or \"\" for $CITYSCAPES_DATASET / $COCO_DATASET "
                         "(must exist when a run starts)"),
    "DATASET.TRAIN_SPLIT": Text("a non-empty split name (a folder under leftImg8bit/ or "
                                "the {split} of the COCO patterns)", empty_ok=False),
    "DATASET.VAL_SPLIT": Text("a non-empty split name (must exist when validation will "
                              "run)", empty_ok=False),
    "DATASET.TEST_SPLIT": Text("a non-empty split name", empty_ok=False),
    "DATASET.COCO_JSON": Template(["split"], "a path under DATASET.ROOT; {split} is the "
                                             "split name"),
    "DATASET.COCO_PANOPTIC_DIR": Template(["split"], "a path under DATASET.ROOT; {split} "
                                                     "is the split name"),
    "DATASET.COCO_IMAGE_DIR": Template(["split"], "a path under DATASET.ROOT; {split} is "
                                                  "the split name"),
    "INPUT.CROP_SIZE": ListOf(Int(1), length=2, note="height, width; multiples of the "
                                                     "coarsest AFFINITY.STRIDES level"),
    "INPUT.SCALE_RANGE": ListOf(_SCALE, length=2, note="min <= max"),
    "INPUT.SCALE_STEP": Float(0.0, 16.0, note="0 = continuous"),
    "INPUT.SIZE_DIVISOR": Int(0, note="0 or 1 = no padding, else a multiple of the coarsest "
                                      "AFFINITY.STRIDES level"),
    "INPUT.FLIP": Bool(),
    "INPUT.LONG_EDGE": Int(0, note="0 keeps the size"),
    "INPUT.MEAN": ListOf(_UNIT, length=3, note="RGB on the 0..1 scale"),
    "INPUT.STD": ListOf(Float(0.0, 1.0, lo_open=True), length=3, note="RGB on the 0..1 scale"),
    "INPUT.IGNORE_LABEL": Int(0, 255, note=">= MODEL.NUM_CLASSES"),
    "DATALOADER.NUM_WORKERS": Int(0, 256, note="0 = load in the main process"),
    "DATALOADER.PREFETCH": Int(0, 1024),
    "MODEL.BACKBONE": Backbone(BACKBONES, note="gluoncv ResNetV1b"),
    "MODEL.PRETRAINED": Text("\"\" (random init), \"model_store\" or a .params path "
                             "(must exist when a run starts)"),
    "MODEL.DILATED": Bool(),
    "MODEL.NUM_CLASSES": Int(1, 255, note="the dataset's classes"),
    "MODEL.DECODER_CHANNELS": Int(1, 4096),
    "MODEL.HEAD_CHANNELS": Int(1, 4096),
    "AFFINITY.WINDOW": OneOf(CHOICES["AFFINITY.WINDOW"], note="0 only with MODEL.TASKS "
                                                               "semantic"),
    "AFFINITY.STRIDES": Strides(),
    "AFFINITY.DROP_ALL_ONE_PROB": Float(0.0, 1.0, hi_open=True, note="0 = no BD"),
    "AFFINITY.THING_WEIGHT": Float(0.0, 1000.0, lo_open=True, note="1 = no OL"),
    "LOSS.FOCAL_GAMMA": Float(0.0, 10.0, note="0 = cross-entropy"),
    "LOSS.AFFINITY_ALPHA": Float(0.0, 1000.0),
    "LOSS.LEVEL_WEIGHTS": ListOf(Float(0.0, 1000.0), note="one per AFFINITY.STRIDES level"),
    "LOSS.SEMANTIC_LEVEL_WEIGHTS": ListOf(Float(0.0, 1000.0),
                                          note="one per AFFINITY.STRIDES level"),
    "SOLVER.NADAM_SCHEDULE_DECAY": _UNIT,
    "SOLVER.NADAM_BETA1": Float(0.0, 1.0, hi_open=True),
    "SOLVER.NADAM_BETA2": Float(0.0, 1.0, hi_open=True),
    "SOLVER.NADAM_EPSILON": Float(0.0, 1.0, lo_open=True),
    "SOLVER.MOMENTUM": Float(0.0, 1.0, hi_open=True),
    "SOLVER.BASE_LR": Float(0.0, 1.0, lo_open=True),
    "SOLVER.STEPS": ListOf(Int(1), increasing=True, note="0-based iterations from which the "
                                                         "lr is multiplied by GAMMA"),
    "SOLVER.GAMMA": Float(0.0, 1.0, lo_open=True),
    "SOLVER.MAX_ITER": Int(1),
    "SOLVER.IMS_PER_BATCH": Int(1, note="global; must split evenly over workers x devices"),
    "SOLVER.WEIGHT_DECAY": _UNIT,
    "SOLVER.NO_WD_BIAS_NORM": Bool(),
    "SOLVER.CLIP_GRADIENT": Float(0.0, note="0 = off"),
    "TRAIN.DEVICES": Devices(),
    "TRAIN.SEED": Int(0, 2 ** 31 - 1),
    "TRAIN.OUTPUT_DIR": Text("a non-empty path (a directory, created if missing)",
                             empty_ok=False),
    "TRAIN.CHECKPOINT_PERIOD": Int(1),
    "TRAIN.KEEP_CHECKPOINTS": Int(0, note="0 keeps all"),
    "TRAIN.LOG_PERIOD": Int(1),
    "TRAIN.EVAL_PERIOD": Int(0, note="0 = only at the end"),
    "TRAIN.VALIDATE_AT_END": Bool(),
    "TRAIN.AMP": Bool(),
    "TRAIN.HYBRIDIZE": Bool(),
    "TRAIN.VAL_MAX_IMAGES": Int(0, note="0 = all"),
    "TEST.CASCADE_INIT_STRIDE": Int(1, note="a level of AFFINITY.STRIDES"),
    "TEST.AFFINITY_STRIDES": Strides(note="levels of AFFINITY.STRIDES, including the finest"),
    "TEST.LONG_RANGE_EDGES": Bool(),
    "TEST.MULTICUT_KL_OUTER_ITERATIONS": Int(0),
    "TEST.MULTICUT_KL_EPSILON": _NON_NEGATIVE,
    "TEST.MULTICUT_KL_DEPTH_FRACTION": Float(0.0, 1.0, lo_open=True),
    "TEST.MULTICUT_KL_UNIMPROVED_SLACK": Int(-1, note="-1 = no limit"),
    "TEST.AFFINITY_EPS": Float(0.0, 0.5, lo_open=True, hi_open=True),
    "TEST.SEGMENTATION_REFINEMENT": Bool(),
    "TEST.NUM_THREADS": Int(0, 1024, note="0 = one per CPU core"),
    "TEST.FLIP": Bool(),
    "TEST.SCALES": ListOf(_SCALE, min_length=1),
    "TEST.MIN_INSTANCE_AREA": Int(0),
    "TEST.PROPOSAL_EROSION": Int(0, 64),
    "TEST.PROPOSAL_CHECK": Bool(),
}
for _key, _values in CHOICES.items():
    RULES.setdefault(_key, OneOf(_values))
del _key, _values


def get_default_config():
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
