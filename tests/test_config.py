"""Config loading: the paper's settings, inheritance, overrides and clear errors."""
import glob
import os

import pytest

from ssap_gluon.config import ConfigError, config_to_dict, load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "configs")


def test_r50_holds_the_papers_settings():
    cfg = load_config(os.path.join(CONFIGS, "r50.yaml"))
    # Sec. 4, Implementation Details
    assert cfg.MODEL.BACKBONE == "resnet50_v1b"
    assert cfg.AFFINITY.WINDOW == 5
    assert cfg.AFFINITY.STRIDES == [4, 8, 16, 32, 64]
    assert cfg.LOSS.LEVEL_WEIGHTS == [0.01, 0.03, 0.1, 0.3, 1.0]
    assert cfg.LOSS.AFFINITY_ALPHA == 0.003
    assert cfg.SOLVER.OPTIMIZER == "nadam"
    assert cfg.SOLVER.BASE_LR == 1e-4
    assert cfg.SOLVER.STEPS == [30000, 50000] and cfg.SOLVER.GAMMA == 0.1
    assert cfg.SOLVER.MAX_ITER == 70000
    assert cfg.SOLVER.IMS_PER_BATCH == 24
    assert cfg.MODEL.NORM == "syncbn"
    assert cfg.TEST.CASCADE_INIT_STRIDE == 16  # Table 4


def test_r101_inherits_r50_and_changes_only_the_backbone():
    r50 = config_to_dict(load_config(os.path.join(CONFIGS, "r50.yaml")))
    r101 = config_to_dict(load_config(os.path.join(CONFIGS, "r101.yaml")))
    assert r101["MODEL"]["BACKBONE"] == "resnet101_v1b"
    r101["MODEL"]["BACKBONE"] = r50["MODEL"]["BACKBONE"]
    for d in (r50, r101):
        d.pop("NAME")
        d["TRAIN"].pop("OUTPUT_DIR")
    assert r50 == r101


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CONFIGS, "**", "*.yaml"),
                                                  recursive=True)))
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.is_frozen()


def test_opts_override_and_promote_int_to_float():
    cfg = load_config(os.path.join(CONFIGS, "r50.yaml"),
                      ["SOLVER.BASE_LR", "1", "INPUT.CROP_SIZE", "[64, 128]",
                       "MODEL.BACKBONE", "resnet18_v1b"])
    assert cfg.SOLVER.BASE_LR == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    assert cfg.INPUT.CROP_SIZE == [64, 128]
    assert cfg.MODEL.BACKBONE == "resnet18_v1b"


@pytest.mark.parametrize("opts, message", [
    (["SOLVER.BASE_LRX", "1"], "unknown config key SOLVER.BASE_LRX"),
    (["NOPE.KEY", "1"], "unknown config key NOPE.KEY"),
    (["SOLVER.MAX_ITER", "1.5"], "SOLVER.MAX_ITER"),
    (["AFFINITY.STRIDES", "[4, 8.5]"], "AFFINITY.STRIDES[1]"),
    (["MODEL.NORM", "groupnorm"], "MODEL.NORM"),
    (["AFFINITY.WINDOW", "4"], "AFFINITY.WINDOW"),
    (["LOSS.LEVEL_WEIGHTS", "[1.0, 1.0]"], "LOSS.LEVEL_WEIGHTS"),
    (["TEST.CASCADE_INIT_STRIDE", "12"], "TEST.CASCADE_INIT_STRIDE"),
    (["SOLVER", "1"], "SOLVER"),
    (["SOLVER.MAX_ITER"], "KEY VALUE pairs"),
])
def test_bad_overrides_name_the_key(opts, message):
    with pytest.raises(ConfigError) as err:
        load_config(os.path.join(CONFIGS, "r50.yaml"), opts)
    assert message in str(err.value)


def test_bad_yaml_key_names_key_and_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("_BASE_: %s\nMODEL:\n  BACKBONEE: resnet50_v1b\n"
                   % os.path.join(CONFIGS, "r50.yaml"))
    with pytest.raises(ConfigError) as err:
        load_config(str(bad))
    assert "MODEL.BACKBONEE" in str(err.value) and "bad.yaml" in str(err.value)


def test_wrong_type_in_yaml_names_key_and_file(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("SOLVER:\n  STEPS: 30000\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(bad))
    assert "SOLVER.STEPS" in str(err.value) and "typo.yaml" in str(err.value)


def test_missing_file_and_base_cycle_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.yaml"))
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("_BASE_: b.yaml\n")
    b.write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(str(a))
    c = tmp_path / "c.yaml"
    c.write_text("SOLVER: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(c))
