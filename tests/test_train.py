"""The training loop on SynthCity, CPU: two CPU contexts lower the loss, the
step schedule lands on the right iterations, a resumed run (in-process and after
SIGKILL) reproduces the uninterrupted run's losses, bad resumes are refused.

Tolerance of "same losses": the runs are bitwise identical on this machine
(same data keys, BD stream, weights and optimizer state, mxnet RNG reseeded at
checkpoint boundaries); rtol 1e-5 only leaves room for float32 reductions whose
order can change with the number of OpenMP threads or the BLAS build.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.training import SSAPTrainer
from ssap_gluon.training.checkpoint import CheckpointMismatchError, list_checkpoints
from ssap_gluon.training.progress import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "synthcity_r18.yaml")
RTOL = 1e-5


def tiny_opts(root, out, **extra):
    """ResNet-18 with 16/8 decoder/head channels, 64x128 crops, 2 images, 2 CPU contexts."""
    opts = {"DATASET.ROOT": root, "TRAIN.OUTPUT_DIR": out, "INPUT.CROP_SIZE": "[64, 128]",
            "MODEL.DECODER_CHANNELS": 16, "MODEL.HEAD_CHANNELS": 8,
            "SOLVER.IMS_PER_BATCH": 2, "SOLVER.MAX_ITER": 7, "SOLVER.STEPS": "[3, 5]",
            "SOLVER.BASE_LR": 1e-4, "TRAIN.DEVICES": "cpu:2", "TRAIN.CHECKPOINT_PERIOD": 3,
            "TRAIN.LOG_PERIOD": 1, "TRAIN.VALIDATE_AT_END": False,
            "DATALOADER.NUM_WORKERS": 0}
    opts.update(extra)
    flat = []
    for k, v in opts.items():
        flat += [k, str(v)]
    return flat


def tiny_cfg(root, out, **extra):
    return load_config(CONFIG, tiny_opts(root, out, **extra))


def losses(records):
    return {r["iteration"]: r["loss"] for r in records if r.get("kind") == "train"}


@pytest.fixture(scope="module")
def reference_run(synthcity_root, tmp_path_factory):
    """An uninterrupted 7-iteration run (checkpoints at 3, 6, 7)."""
    out = str(tmp_path_factory.mktemp("reference"))
    summary = SSAPTrainer(tiny_cfg(synthcity_root, out), progress=False).train()
    return out, summary, read_metrics(os.path.join(out, "metrics.jsonl"))


def test_two_cpu_contexts_lower_the_loss(synthcity_root, tmp_path):
    # whole frames at half size, no flip: the inputs repeat, only BD is random
    cfg = tiny_cfg(synthcity_root, str(tmp_path), **{
        "INPUT.CROP_SIZE": "[128, 256]", "INPUT.SCALE_RANGE": "[0.5, 0.5]",
        "INPUT.FLIP": False, "SOLVER.MAX_ITER": 8, "SOLVER.STEPS": "[]",
        "SOLVER.BASE_LR": 2e-3, "TRAIN.CHECKPOINT_PERIOD": 100})
    trainer = SSAPTrainer(cfg, progress=False)
    assert [str(c) for c in trainer.ctx] == ["cpu(0)", "cpu(1)"] and trainer.per_device == 1
    trainer.train()
    curve = [r["loss"] for r in read_metrics(os.path.join(str(tmp_path), "metrics.jsonl"))]
    assert len(curve) == 8 and all(np.isfinite(curve))
    assert np.mean(curve[-3:]) < 0.9 * np.mean(curve[:2]), curve


def test_schedule_logs_and_outputs(reference_run):
    out, summary, records = reference_run
    train = [r for r in records if r["kind"] == "train"]
    assert [r["iteration"] for r in train] == list(range(1, 8))
    np.testing.assert_allclose([r["lr"] for r in train],
                               [1e-4 * f for f in (1, 1, 1, 0.1, 0.1, 0.01, 0.01)], rtol=1e-9)
    for key in ("loss", "images_per_s", "eta_s", "semantic_s4", "affinity_s64"):
        assert all(np.isfinite(r[key]) for r in train), key
    assert [os.path.basename(p) for _, p in list_checkpoints(out)] == [
        "iter_00000003", "iter_00000006", "iter_00000007"]
    png = cv2.imread(summary["loss_curve"])
    assert png is not None and png.shape == (800, 900, 3)
    assert os.path.isfile(summary["final_weights"])


def test_resume_reproduces_the_uninterrupted_losses(reference_run, synthcity_root, tmp_path):
    _, _, reference = reference_run
    out = str(tmp_path)
    SSAPTrainer(tiny_cfg(synthcity_root, out, **{"SOLVER.MAX_ITER": 3}), progress=False).train()
    resumed = SSAPTrainer(tiny_cfg(synthcity_root, out), resume="auto", progress=False)
    assert resumed.start_iter == 3
    resumed.train()
    records = read_metrics(os.path.join(out, "metrics.jsonl"), kind="train")
    assert [r["iteration"] for r in records] == list(range(1, 8))  # one curve, no duplicates
    got, want = losses(records), losses(reference)
    np.testing.assert_allclose([got[i] for i in (4, 5, 6, 7)], [want[i] for i in (4, 5, 6, 7)],
                               rtol=RTOL)
    np.testing.assert_allclose([r["lr"] for r in records][3:], [1e-5, 1e-5, 1e-6, 1e-6],
                               rtol=1e-9)
    # a fresh run into a directory with checkpoints is refused
    with pytest.raises(RuntimeError, match="already holds checkpoints.*--resume auto"):
        SSAPTrainer(tiny_cfg(synthcity_root, out), progress=False)


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "scripts",
                                                                     name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_incompatible_explicit_resume_is_a_clear_error(reference_run, synthcity_root,
                                                       tmp_path, capsys):
    ref_out, _, _ = reference_run
    path = os.path.join(ref_out, "checkpoints", "iter_00000006")
    before = {f: os.path.getmtime(os.path.join(path, f)) for f in os.listdir(path)}
    cfg = tiny_cfg(synthcity_root, str(tmp_path), **{"MODEL.HEAD_CHANNELS": 16})
    with pytest.raises(CheckpointMismatchError, match="MODEL.HEAD_CHANNELS: checkpoint 8, "
                                                      "current config 16"):
        SSAPTrainer(cfg, resume=path, progress=False)
    train = _load_script("train")
    rc = train.main(["--cfg", CONFIG, "--resume", path, "--no-progress", "--opts"]
                    + tiny_opts(synthcity_root, str(tmp_path), **{"SOLVER.STEPS": "[4, 5]"}))
    err = capsys.readouterr().err
    assert rc == 2
    assert "iter_00000006 was made with an incompatible config" in err
    assert "SOLVER.STEPS: checkpoint [3, 5], current config [4, 5]" in err
    assert {f: os.path.getmtime(os.path.join(path, f)) for f in os.listdir(path)} == before


def test_amp_is_refused_on_the_cpu(synthcity_root, tmp_path):
    with pytest.raises(ConfigError, match="TRAIN.AMP.*GPUs only"):
        SSAPTrainer(tiny_cfg(synthcity_root, str(tmp_path), **{"TRAIN.AMP": True}))


def test_uneven_device_split_is_refused(synthcity_root, tmp_path):
    with pytest.raises(ConfigError, match="IMS_PER_BATCH: 3 images cannot be split evenly"):
        SSAPTrainer(tiny_cfg(synthcity_root, str(tmp_path), **{"SOLVER.IMS_PER_BATCH": 3}))


@pytest.mark.slow
def test_sigkill_then_resume_auto_continues_the_same_curve(reference_run, synthcity_root,
                                                           tmp_path):
    _, _, reference = reference_run
    out = str(tmp_path)
    cmd = [sys.executable, os.path.join(REPO, "scripts", "train.py"), "--cfg", CONFIG,
           "--no-progress", "--opts"] + tiny_opts(synthcity_root, out)
    marker = os.path.join(out, "checkpoints", "iter_00000003", "manifest.json")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not os.path.exists(marker) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        assert os.path.exists(marker), "no checkpoint within 240 s"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = subprocess.run(cmd[:4] + ["--resume", "auto"] + cmd[4:], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stderr and "iteration 3" in done.stderr
    records = read_metrics(os.path.join(out, "metrics.jsonl"), kind="train")
    assert [r["iteration"] for r in records] == list(range(1, 8))
    got, want = losses(records), losses(reference)
    np.testing.assert_allclose([got[i] for i in range(1, 8)], [want[i] for i in range(1, 8)],
                               rtol=RTOL)
