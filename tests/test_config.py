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


# ---------------------------------------------------------------------------
# Valid ranges: every key has one, every value is checked at load
# ---------------------------------------------------------------------------
def test_every_key_has_a_documented_rule():
    from ssap_gluon.config import RULES, get_default_config, leaf_keys

    keys = leaf_keys(get_default_config())
    assert sorted(RULES) == sorted(keys), "keys without a rule: %s; rules without a key: %s" % (
        sorted(set(keys) - set(RULES)), sorted(set(RULES) - set(keys)))
    for key in keys:
        assert RULES[key].describe()
    # the defaults themselves are valid
    load_config(None)


def _yaml(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("section, key, value, expected", [
    ("SOLVER", "GAMMA", "-0.1", "(0, 1]"),
    ("SOLVER", "BASE_LR", ".nan", "not a finite number"),
    ("SOLVER", "BASE_LR", "1e999", "not a finite number"),
    ("SOLVER", "BASE_LR", "-.inf", "not a finite number"),
    ("SOLVER", "NADAM_BETA1", "1.5", "[0, 1)"),
    ("LOSS", "AFFINITY_ALPHA", "-1", "[0, 1000]"),
    ("AFFINITY", "THING_WEIGHT", "-3", "(0, 1000]"),
    ("AFFINITY", "DROP_ALL_ONE_PROB", "1.0", "[0, 1)"),
    ("INPUT", "SIZE_DIVISOR", "32", "multiple of 64"),
    ("INPUT", "MEAN", "[123.7, 116.3, 103.5]", "[0, 1]"),
    ("INPUT", "CROP_SIZE", "[500, 1000]", "multiples of 64"),
    ("SOLVER", "STEPS", "[50000, 30000]", "strictly increasing"),
    ("SOLVER", "STEPS", "[0, 10]", ">= 1"),
    ("SOLVER", "MAX_ITER", "0", ">= 1"),
    ("TRAIN", "CHECKPOINT_PERIOD", "0", ">= 1"),
    ("TRAIN", "DEVICES", "tpu:0", "'cpu', 'cpu:N'"),
    ("TRAIN", "SEED", "-1", "[0, 2147483647]"),
    ("MODEL", "BACKBONE", "resnet50", "needs a ResNetV1b"),
    ("MODEL", "NUM_CLASSES", "0", "[1, 255]"),
    ("AFFINITY", "STRIDES", "[4, 8, 12]", "powers of two"),
    ("TEST", "AFFINITY_STRIDES", "[8, 16]", "finest level 4"),
    ("TEST", "AFFINITY_EPS", "0.5", "(0, 0.5)"),
    ("DATASET", "VAL_SPLIT", '""', "non-empty"),
    ("DATASET", "COCO_JSON", '"ann/{splt}.json"', "{split}"),
])
def test_nonsense_values_name_key_file_and_range(tmp_path, section, key, value, expected):
    path = _yaml(tmp_path, "%s:\n  %s: %s\n" % (section, key, value))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "%s.%s" % (section, key) in message and path in message, message
    assert expected in message, message


def test_every_problem_is_listed_at_once(tmp_path):
    path = _yaml(tmp_path, "SOLVER:\n  GAMMA: -0.1\n  NADAM_BETA1: 1.5\n"
                           "LOSS:\n  AFFINITY_ALPHA: -1\nAFFINITY:\n  THING_WEIGHT: -3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, ["INPUT.SIZE_DIVISOR", "32"])
    assert len(err.value.problems) == 5, err.value.problems
    message = str(err.value)
    for key in ("SOLVER.GAMMA", "SOLVER.NADAM_BETA1", "LOSS.AFFINITY_ALPHA",
                "AFFINITY.THING_WEIGHT", "INPUT.SIZE_DIVISOR"):
        assert key in message
    assert "INPUT.SIZE_DIVISOR from --opts" in message


def test_the_file_that_set_a_key_is_named_through_base(tmp_path):
    _yaml(tmp_path, "SOLVER:\n  GAMMA: 2.0\n", "base.yaml")
    child = _yaml(tmp_path, "_BASE_: base.yaml\nNAME: child\n", "child.yaml")
    with pytest.raises(ConfigError) as err:
        load_config(child)
    assert "SOLVER.GAMMA: 2.0 is out of range" in str(err.value)
    assert str(tmp_path / "base.yaml") in str(err.value)


def test_a_float_written_without_a_dot_is_a_number(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-3 as the string "1e-3"
    path = _yaml(tmp_path, "SOLVER:\n  BASE_LR: 1e-3\n  CLIP_GRADIENT: 5E+1\n"
                           "LOSS:\n  LEVEL_WEIGHTS: [1e-2, 3e-2, 1e-1, 3e-1, 1]\n")
    cfg = load_config(path)
    assert cfg.SOLVER.BASE_LR == 1e-3 and isinstance(cfg.SOLVER.BASE_LR, float)
    assert cfg.SOLVER.CLIP_GRADIENT == 50.0
    assert cfg.LOSS.LEVEL_WEIGHTS == [0.01, 0.03, 0.1, 0.3, 1.0]
    for bad in ("1e-3x", "lr", "1e"):
        with pytest.raises(ConfigError, match="SOLVER.BASE_LR.*expected float"):
            load_config(_yaml(tmp_path, "SOLVER:\n  BASE_LR: %s\n" % bad))


def test_model_structure_relations_are_checked_at_load():
    with pytest.raises(ConfigError, match="set AFFINITY.WINDOW 0"):
        load_config(None, ["MODEL.TASKS", "semantic"])
    with pytest.raises(ConfigError, match="set MODEL.TASKS semantic"):
        load_config(None, ["AFFINITY.WINDOW", "0"])
    with pytest.raises(ConfigError, match="MODEL.DILATED needs MODEL.AFFINITY_FEATURE single"):
        load_config(None, ["MODEL.DILATED", "True"])
    with pytest.raises(ConfigError, match="INPUT.IGNORE_LABEL 3 is a class index"):
        load_config(None, ["INPUT.IGNORE_LABEL", "3"])
    cfg = load_config(None, ["MODEL.TASKS", "semantic", "AFFINITY.WINDOW", "0"])
    assert cfg.AFFINITY.WINDOW == 0


# ---------------------------------------------------------------------------
# One source of truth
# ---------------------------------------------------------------------------
def test_stride_rules_live_in_one_place():
    from ssap_gluon.config import check_strides, stride_problem

    assert stride_problem([4, 8, 16, 32, 64]) is None and stride_problem([8, 128]) is None
    for bad in ([], [2, 4], [4, 4, 8], [8, 4], [4, 12]):
        assert stride_problem(bad), bad
        with pytest.raises(ConfigError, match="AFFINITY.STRIDES"):
            check_strides(bad)
        with pytest.raises(ConfigError, match="AFFINITY.STRIDES"):
            load_config(None, ["AFFINITY.STRIDES", str(bad)])
    with pytest.raises(ConfigError, match="TEST.CASCADE_INIT_STRIDE: 12 is not a level"):
        load_config(None, ["TEST.CASCADE_INIT_STRIDE", "12"])


def test_choices_come_from_the_modules_that_implement_them():
    from ssap_gluon.config import CHOICES
    from ssap_gluon.partition.multicut import SOLVERS

    # numpy-only module: imported by the config
    assert CHOICES["TEST.MULTICUT_SOLVER"] == tuple(SOLVERS)
    assert "kl" in CHOICES["TEST.MULTICUT_SOLVER"]
    load_config(None, ["TEST.MULTICUT_SOLVER", "kl"])


def test_choices_agree_with_the_mxnet_modules():
    """model/ and losses/ import mxnet, which the config must not: CHOICES is the
    source, and these constants must say the same (ideally import it)."""
    from ssap_gluon.config import CHOICES
    from ssap_gluon.losses import affinity
    from ssap_gluon.model import ssap_net
    from ssap_gluon.training import distributed, optim  # noqa: F401

    assert tuple(ssap_net.TASKS) == CHOICES["MODEL.TASKS"]
    assert tuple(ssap_net.AFFINITY_FEATURES) == CHOICES["MODEL.AFFINITY_FEATURE"]
    assert tuple(affinity.NORMALIZATIONS) == CHOICES["LOSS.AFFINITY_NORMALIZATION"]
    assert set(distributed.DIST_KVSTORES) <= set(CHOICES["TRAIN.KVSTORE"])


def test_the_config_package_does_not_import_mxnet():
    import subprocess
    import sys

    code = ("import sys; import ssap_gluon.config as c; c.load_config(None); "
            "assert 'mxnet' not in sys.modules, 'mxnet imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_backbones_are_what_resnet_backbone_builds():
    from ssap_gluon.config import BACKBONES
    from ssap_gluon.model import ResNetBackbone

    for name in BACKBONES:
        assert ResNetBackbone(name).channels[-1] in (512, 2048), name


def test_no_module_imports_private_config_helpers():
    offenders = []
    for path in glob.glob(os.path.join(REPO, "ssap_gluon", "**", "*.py"), recursive=True) + \
            glob.glob(os.path.join(REPO, "scripts", "*.py")):
        text = open(path, encoding="utf-8").read()
        if "config.loader import _" in text or "loader._get" in text:
            offenders.append(path)
    assert not offenders


def test_ranges_table_in_docs_is_current():
    from ssap_gluon.config import ranges_markdown

    doc = open(os.path.join(REPO, "docs", "TRAINING.md"), encoding="utf-8").read()
    assert ranges_markdown() in doc, (
        "docs/TRAINING.md: the table of valid ranges is out of date; regenerate it with "
        "python scripts/update_docs.py")


def test_an_overlay_applies_on_top_of_a_row_and_is_named_in_errors(tmp_path):
    row = os.path.join(REPO, "configs", "tables", "table6_BD_noOL_k3.yaml")
    overlay = os.path.join(REPO, "configs", "synthcity_tables.yaml")
    cfg = load_config(row, ["TRAIN.OUTPUT_DIR", "x"], overlays=[overlay])
    # the row's own keys stay, the overlay swaps data, backbone and schedule
    assert cfg.AFFINITY.THING_WEIGHT == 1.0 and cfg.MODEL.HEAD_KERNEL == 3
    assert cfg.MODEL.BACKBONE == "resnet18_v1b" and cfg.SOLVER.MAX_ITER == 1500
    assert cfg.TRAIN.OUTPUT_DIR == "x"  # --opts still wins
    bad = tmp_path / "bad_overlay.yaml"
    bad.write_text("SOLVER:\n  GAMMA: -0.1\n")
    with pytest.raises(ConfigError, match=r"SOLVER.GAMMA.*bad_overlay.yaml"):
        load_config(row, overlays=[str(bad)])
