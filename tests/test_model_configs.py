"""Every YAML under configs/ loads, and each table-row config describes (and
builds) the variant of its paper row."""
import glob
import os

import pytest

from ssap_gluon.config import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True))
DIFF = [0.01, 0.03, 0.1, 0.3, 1.0]
SAME = [1.0] * 5

# The paper's training setting: R50, r = 5, hierarchical, joint, BD + OL, dense kernel 5.
PAPER = dict(BACKBONE="resnet50_v1b", WINDOW=5, TASKS="joint", AFFINITY_FEATURE="hierarchical",
             DILATED=False, HEAD_KERNEL=5, HEAD_CONV="full", DROP_ALL_ONE_PROB=0.8,
             THING_WEIGHT=3.0,
             AFFINITY_ALPHA=0.003, LEVEL_WEIGHTS=DIFF)
K3 = dict(HEAD_KERNEL=3)


def row(**changes):
    out = dict(PAPER)
    out.update(changes)
    return out


# file stem -> the keys of its paper row (read off Tables 1, 2, 3 and 6).
TRAINING_ROWS = {
    "table1_alpha0.0003_lambda_diff": row(AFFINITY_ALPHA=0.0003),
    "table1_alpha0.001_lambda_diff": row(AFFINITY_ALPHA=0.001),
    "table1_alpha0.003_lambda_diff": row(),
    "table1_alpha0.003_lambda_same": row(LEVEL_WEIGHTS=SAME),
    "table1_alpha0.01_lambda_diff": row(AFFINITY_ALPHA=0.01),
    "table1_alpha0.03_lambda_diff": row(AFFINITY_ALPHA=0.03),
    "table2_r0_semantic_only": row(WINDOW=0, TASKS="semantic", **K3),
    "table2_r3": row(WINDOW=3, **K3),
    "table2_r5": row(**K3),
    "table2_r7": row(WINDOW=7, **K3),
    "table2_r9": row(WINDOW=9, **K3),
    "table3_single_nodilation_wo_jl": row(AFFINITY_FEATURE="single", TASKS="affinity", **K3),
    "table3_single_nodilation_jl": row(AFFINITY_FEATURE="single", **K3),
    "table3_single_dilation_wo_jl": row(AFFINITY_FEATURE="single", DILATED=True,
                                        TASKS="affinity", **K3),
    "table3_single_dilation_jl": row(AFFINITY_FEATURE="single", DILATED=True, **K3),
    "table3_hierarchical_wo_jl": row(TASKS="affinity", **K3),
    "table3_hierarchical_jl": row(**K3),
    "table6_noBD_noOL_k3": row(DROP_ALL_ONE_PROB=0.0, THING_WEIGHT=1.0, **K3),
    "table6_BD_noOL_k3": row(THING_WEIGHT=1.0, **K3),
    "table6_BD_OL_k3": row(**K3),
    "table6_BD_OL_k5": row(),
}
# Inference-only rows (Tables 4, 5, 7): TEST keys on the paper model.
INFERENCE_ROWS = {
    "table4_init_s%d" % s: dict(CASCADE_INIT_STRIDE=s, FLIP=False, SCALES=[1.0])
    for s in (4, 8, 16, 32, 64)}
INFERENCE_ROWS.update({
    # every Table 5 row starts the cascade at 1/16 (docs/INFERENCE.md)
    "table5_A1_only": dict(AFFINITY_STRIDES=[4], CASCADE_INIT_STRIDE=16),
    "table5_A1-A2": dict(AFFINITY_STRIDES=[4, 8], CASCADE_INIT_STRIDE=16),
    "table5_A1-A3": dict(AFFINITY_STRIDES=[4, 8, 16], CASCADE_INIT_STRIDE=16),
    "table5_A1-A4": dict(AFFINITY_STRIDES=[4, 8, 16, 32], CASCADE_INIT_STRIDE=16),
    "table5_A1-A5": dict(AFFINITY_STRIDES=[4, 8, 16, 32, 64], CASCADE_INIT_STRIDE=16),
    "table7_r50": dict(SEGMENTATION_REFINEMENT=False, FLIP=False, SCALES=[1.0]),
    "table7_r50_sr": dict(SEGMENTATION_REFINEMENT=True, FLIP=False, SCALES=[1.0]),
    "table7_r50_sr_hf": dict(SEGMENTATION_REFINEMENT=True, FLIP=True, SCALES=[1.0]),
    "table7_r50_sr_hf_ms": dict(SEGMENTATION_REFINEMENT=True, FLIP=True,
                                SCALES=[0.75, 1.0, 1.25, 1.5]),
    "table7_r101_sr_hf_ms": dict(SEGMENTATION_REFINEMENT=True, FLIP=True,
                                 SCALES=[0.75, 1.0, 1.25, 1.5]),
})


def _path(stem):
    return os.path.join(REPO, "configs", "tables", stem + ".yaml")


def _values(cfg):
    return dict(BACKBONE=cfg.MODEL.BACKBONE, WINDOW=cfg.AFFINITY.WINDOW, TASKS=cfg.MODEL.TASKS,
                AFFINITY_FEATURE=cfg.MODEL.AFFINITY_FEATURE, DILATED=cfg.MODEL.DILATED,
                HEAD_KERNEL=cfg.MODEL.HEAD_KERNEL, HEAD_CONV=cfg.MODEL.HEAD_CONV,
                DROP_ALL_ONE_PROB=cfg.AFFINITY.DROP_ALL_ONE_PROB,
                THING_WEIGHT=cfg.AFFINITY.THING_WEIGHT, AFFINITY_ALPHA=cfg.LOSS.AFFINITY_ALPHA,
                LEVEL_WEIGHTS=list(cfg.LOSS.LEVEL_WEIGHTS))


@pytest.mark.parametrize("path", CONFIGS, ids=[os.path.relpath(p, REPO) for p in CONFIGS])
def test_every_config_loads(path):
    cfg = load_config(path)
    assert cfg.NAME


def test_every_table_yaml_is_a_known_row():
    stems = {os.path.basename(p)[:-5] for p in glob.glob(_path("*"))}
    assert stems - {"ablation_base"} == set(TRAINING_ROWS) | set(INFERENCE_ROWS)


@pytest.mark.parametrize("stem", sorted(TRAINING_ROWS))
def test_training_row_keys(stem):
    cfg = load_config(_path(stem))
    assert _values(cfg) == TRAINING_ROWS[stem]
    # Tables 1-6 are evaluated with SR only (their best rows = Table 7 "R50 + SR")
    assert cfg.TEST.SEGMENTATION_REFINEMENT and not cfg.TEST.FLIP and cfg.TEST.SCALES == [1.0]
    assert cfg.NAME == stem and cfg.TRAIN.OUTPUT_DIR.endswith(stem)


@pytest.mark.parametrize("stem", sorted(INFERENCE_ROWS))
def test_inference_row_keys(stem):
    cfg = load_config(_path(stem))
    base = _values(cfg)
    assert base == row(BACKBONE="resnet101_v1b" if "r101" in stem else "resnet50_v1b")
    for key, value in INFERENCE_ROWS[stem].items():
        assert getattr(cfg.TEST, key) == value, key


@pytest.mark.parametrize("stem", sorted(TRAINING_ROWS))
def test_training_row_builds_its_variant(stem):
    """Built with resnet18 and thin layers (cheap); the structure follows the row."""
    import mxnet as mx

    from ssap_gluon.model import build_model

    cfg = load_config(_path(stem), ["MODEL.BACKBONE", "resnet18_v1b", "MODEL.PRETRAINED", "",
                                    "MODEL.DECODER_CHANNELS", "16", "MODEL.HEAD_CHANNELS", "8",
                                    "MODEL.NORM", "bn"])
    net = build_model(cfg)
    want = TRAINING_ROWS[stem]
    assert net.has_semantic == (want["TASKS"] != "affinity")
    assert net.has_affinity == (want["TASKS"] != "semantic")
    assert net.window == want["WINDOW"]
    assert net.affinity_feature == want["AFFINITY_FEATURE"]
    assert net.backbone.strides == ((4, 8, 8, 8) if want["DILATED"] else (4, 8, 16, 32))
    heads = net.semantic_heads or net.affinity_heads
    # the depthwise KxK conv of the (separable) head
    assert heads[0].conv[0]._kwargs["kernel"] == (want["HEAD_KERNEL"],) * 2
    out = net(mx.nd.zeros((1, 3, 64, 64)))
    groups = int(net.has_semantic) + int(net.has_affinity)
    assert len(out) == 5 * groups
    if net.has_affinity:
        assert out[-1].shape == (1, want["WINDOW"] ** 2, 1, 1)
