"""scripts/train.py: every user error is one clear paragraph and exit status 2
(no traceback); ``--check`` lists every problem of a run at once."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from test_train import CONFIG, REPO, tiny_opts

R101 = os.path.join(REPO, "configs", "r101.yaml")


def _load_script(name):
    spec = importlib.util.spec_from_file_location("script_" + name,
                                                  os.path.join(REPO, "scripts", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_script():
    return _load_script("train")


def _run(train_script, capsys, opts, *args):
    rc = train_script.main(["--cfg", CONFIG, "--no-progress"] + list(args) + ["--opts"] + opts)
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_user_error(rc, err, *expected):
    """Exit 2; the message is the last paragraph, "error: ...", with no traceback
    (log lines of a run that had started may come before it)."""
    assert rc == 2, err
    assert "Traceback" not in err
    message = err[err.rindex("error: "):] if "error: " in err else ""
    assert message and ("\n" + err).count("\nerror: ") == 1, err
    for text in expected:
        assert text in message, err


# ---------------------------------------------------------------------------
# User errors: exit 2, one paragraph
# ---------------------------------------------------------------------------
def test_a_directory_with_checkpoints_needs_resume(train_script, capsys, synthcity_root,
                                                   tmp_path):
    out = str(tmp_path / "run")
    os.makedirs(os.path.join(out, "checkpoints", "iter_00000003"))
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, out))
    _assert_user_error(rc, err, "already holds checkpoints", "--resume auto",
                       "iter_00000003")


def test_missing_pretrained_weights(train_script, capsys, synthcity_root, tmp_path):
    missing = str(tmp_path / "nope.params")
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, str(tmp_path / "run"),
                                                      **{"MODEL.PRETRAINED": missing}))
    _assert_user_error(rc, err, "MODEL.PRETRAINED", missing, "not found")


def test_missing_dataset(train_script, capsys, tmp_path):
    root = str(tmp_path / "no_dataset")
    rc, _, err = _run(train_script, capsys, tiny_opts(root, str(tmp_path / "run")))
    _assert_user_error(rc, err, "dataset root %s does not exist" % root, "DATASET.ROOT")


def test_an_unreadable_image(train_script, capsys, synthcity_root, tmp_path):
    root = str(tmp_path / "synthcity")
    shutil.copytree(synthcity_root, root)
    image_dir = os.path.join(root, "leftImg8bit", "train")
    city = sorted(os.listdir(image_dir))[0]
    broken = os.path.join(image_dir, city, sorted(os.listdir(os.path.join(image_dir, city)))[0])
    open(broken, "wb").close()  # truncated to nothing
    # 3 iterations x 2 images read all 6 training frames
    rc, _, err = _run(train_script, capsys, tiny_opts(root, str(tmp_path / "run"),
                                                      **{"SOLVER.MAX_ITER": 3}))
    _assert_user_error(rc, err, broken)


def test_an_unknown_backbone(train_script, capsys, synthcity_root, tmp_path):
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, str(tmp_path / "run"),
                                                      **{"MODEL.BACKBONE": "resnet18_v1x"}))
    _assert_user_error(rc, err, "MODEL.BACKBONE", "'resnet18_v1x'", "resnet18_v1b")


def test_an_output_path_that_is_a_file(train_script, capsys, synthcity_root, tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("a file")
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, str(path)))
    _assert_user_error(rc, err, "TRAIN.OUTPUT_DIR", str(path), "not a directory")
    assert path.read_text() == "a file"


def test_a_directory_in_use_by_another_run(train_script, capsys, synthcity_root, tmp_path):
    out = str(tmp_path / "run")
    code = ("import sys, time\nfrom ssap_gluon.training.checkpoint import RunLock\n"
            "lock = RunLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\n"
            "time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, out], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, out), "--resume",
                          "auto")
        _assert_user_error(rc, err, out, "in use by another training run",
                           "pid %d" % holder.pid)
        rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, out), "--check")
        assert rc == 2 and "pid %d" % holder.pid in err
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_config_problems_are_all_listed(train_script, capsys, synthcity_root, tmp_path):
    opts = tiny_opts(synthcity_root, str(tmp_path / "run"), **{
        "SOLVER.GAMMA": -0.1, "SOLVER.NADAM_BETA1": 1.5, "INPUT.SIZE_DIVISOR": 32})
    rc, _, err = _run(train_script, capsys, opts)
    _assert_user_error(rc, err, "3 config problems", "SOLVER.GAMMA", "SOLVER.NADAM_BETA1",
                       "INPUT.SIZE_DIVISOR")


# ---------------------------------------------------------------------------
# --check
# ---------------------------------------------------------------------------
def test_check_lists_every_problem_of_the_paper_config(train_script, capsys, monkeypatch,
                                                       tmp_path):
    """What a newcomer sees for configs/r101.yaml on a machine without the data, the
    ImageNet weights or the GPUs: all three at once."""
    import mxnet as mx

    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet_home"))  # an empty model store
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 0)
    rc = train_script.main(["--cfg", R101, "--check", "--opts", "TRAIN.OUTPUT_DIR",
                            str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert rc == 2, out + err
    assert "3 problem(s):" in err and "Traceback" not in err
    assert "1. devices: config key TRAIN.DEVICES: 'gpu:0,1,2,3,4,5,6,7' asks for GPU" in err
    assert "2. dataset (train split): no dataset root" in err and "CITYSCAPES_DATASET" in err
    assert "3. pretrained weights: MODEL.PRETRAINED model_store" in err
    assert "resnet101_v1b" in err
    assert not os.path.exists(str(tmp_path / "run"))  # --check writes nothing


def test_check_passes_for_a_runnable_config(train_script, capsys, synthcity_root, tmp_path):
    out = str(tmp_path / "run")
    rc, stdout, err = _run(train_script, capsys, tiny_opts(synthcity_root, out), "--check")
    assert rc == 0, err
    assert "OK: ready to train" in stdout
    assert not os.path.exists(out)


def test_check_with_resume_verifies_the_checkpoint(train_script, capsys, synthcity_root,
                                                   tmp_path):
    out = str(tmp_path / "run")
    os.makedirs(os.path.join(out, "checkpoints", "iter_00000003"))  # no manifest: incomplete
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, out), "--check")
    assert rc == 2 and "already holds checkpoints" in err
    rc, _, err = _run(train_script, capsys, tiny_opts(synthcity_root, out), "--check",
                      "--resume", "auto")
    assert rc == 2 and "no valid checkpoint" in err and "incomplete: no manifest.json" in err


def test_check_lists_config_problems(train_script, capsys, synthcity_root, tmp_path):
    opts = tiny_opts(synthcity_root, str(tmp_path / "run"),
                     **{"SOLVER.GAMMA": -0.1, "LOSS.AFFINITY_ALPHA": -1})
    rc, _, err = _run(train_script, capsys, opts, "--check")
    assert rc == 2 and "2 problem(s):" in err
    assert "SOLVER.GAMMA" in err and "LOSS.AFFINITY_ALPHA" in err
