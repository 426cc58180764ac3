"""scripts/measure_choices.py: every variant scores exactly what scripts/test.py
scores with the same config change (one network pass shared by all variants
must not change any number), and user errors exit 2."""
import json
import os
import runpy

from test_test_script import TINY, tiny_weights  # noqa: F401 (a fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(REPO, "scripts", "measure_choices.py")
TEST_PY = os.path.join(REPO, "scripts", "test.py")
CONFIG = os.path.join(REPO, "configs", "synthcity_r18.yaml")
SCORES = ("AP", "AP50", "PQ", "PQ_Th", "PQ_St", "mIoU")


def _main(script, argv):
    return runpy.run_path(script, run_name="measured")["main"](argv)


def test_each_variant_equals_test_py_with_its_change(synthcity_root, tiny_weights, tmp_path,
                                                     capsys):
    opts = ["DATASET.ROOT", synthcity_root] + TINY
    rc = _main(SCRIPT, ["--weights", tiny_weights, "--max-frames", "2", "--no-progress",
                        "--out", str(tmp_path / "choices"), "--opts"] + opts)
    out, err = capsys.readouterr()
    assert rc == 0, err
    variants = runpy.run_path(SCRIPT, run_name="measured")["VARIANTS"]
    for name, _, _ in variants:
        assert "| %s |" % name in out
    with open(tmp_path / "choices" / "synthcity" / "choices.json") as f:
        payload = json.load(f)
    for name, _, change in variants:
        if name not in ("default", "mask_nearest", "no_refinement"):
            continue  # three are enough to show the shared pass changes nothing
        run = tmp_path / ("test_" + name)
        rc = _main(TEST_PY, ["--cfg", CONFIG, "--weights", tiny_weights, "--out", str(run),
                             "--no-progress", "--max-frames", "2", "--opts"] + opts + change)
        capsys.readouterr()
        assert rc == 0
        with open(run / "metrics.json") as f:
            direct = json.load(f)
        ours = payload["variants"][name]["metrics"]
        for key in SCORES:
            assert ours[key] == direct[key], (name, key)


def test_odd_opts_is_a_user_error(capsys):
    rc = _main(SCRIPT, ["--opts", "TEST.FLIP"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "TEST.FLIP" in err
