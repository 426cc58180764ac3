"""The training loop on SynthCity, CPU: two CPU contexts lower the loss, the
step schedule lands on the right iterations, a resumed run (in-process and after
SIGKILL) reproduces the uninterrupted run's losses, bad resumes are refused.

Tolerance of "same losses": the runs are bitwise identical on this machine
(same data keys, BD stream, weights and optimizer state, mxnet RNG reseeded at
checkpoint boundaries); rtol 1e-5 only leaves room for float32 reductions whose
order can change with the number of OpenMP threads or the BLAS build.
"""
import importlib.util
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


# ---------------------------------------------------------------------------
# One run per directory
# ---------------------------------------------------------------------------
def test_a_second_run_on_the_same_directory_is_refused(synthcity_root, tmp_path):
    from ssap_gluon.training.checkpoint import RunDirectoryLocked

    out = str(tmp_path)
    first = SSAPTrainer(tiny_cfg(synthcity_root, out, **{"SOLVER.MAX_ITER": 1}),
                        progress=False)
    try:
        # the first run is saving a checkpoint right now
        live_tmp = os.path.join(out, "checkpoints", ".iter_00000001.tmp-%d" % os.getpid())
        os.makedirs(live_tmp)
        metrics = os.path.join(out, "metrics.jsonl")
        before = open(metrics).read() if os.path.exists(metrics) else None
        with pytest.raises(RunDirectoryLocked) as info:
            SSAPTrainer(tiny_cfg(synthcity_root, out), resume="auto", progress=False)
        message = str(info.value)
        assert out in message and "pid %d" % os.getpid() in message
        assert os.path.isdir(live_tmp)  # the live run's temporary is left alone
        assert (open(metrics).read() if os.path.exists(metrics) else None) == before
        os.rmdir(live_tmp)
        first.train()
    finally:
        first.close()
    # released when the first run ended: the directory can be continued
    SSAPTrainer(tiny_cfg(synthcity_root, out), resume="auto", progress=False).close()


# ---------------------------------------------------------------------------
# Resume: structure
# ---------------------------------------------------------------------------
def test_resuming_with_another_norm_layer_is_refused(reference_run, synthcity_root, tmp_path):
    ref_out, _, _ = reference_run
    path = os.path.join(ref_out, "checkpoints", "iter_00000006")
    cfg = tiny_cfg(synthcity_root, str(tmp_path), **{"MODEL.NORM": "syncbn"})
    with pytest.raises(CheckpointMismatchError,
                       match="MODEL.NORM: checkpoint 'bn', current config 'syncbn'"):
        SSAPTrainer(cfg, resume=path, progress=False)


# ---------------------------------------------------------------------------
# Checked before the first iteration
# ---------------------------------------------------------------------------
def test_a_missing_val_split_is_refused_before_training(synthcity_root, tmp_path):
    from ssap_gluon.data import DatasetError

    cfg = tiny_cfg(synthcity_root, str(tmp_path), **{"DATASET.VAL_SPLIT": "valx",
                                                     "TRAIN.VALIDATE_AT_END": True})
    with pytest.raises(DatasetError, match="split 'valx' not found"):
        SSAPTrainer(cfg, progress=False)
    assert not os.path.exists(os.path.join(str(tmp_path), "metrics.jsonl"))
    # no validation, no val split needed
    SSAPTrainer(tiny_cfg(synthcity_root, str(tmp_path), **{"DATASET.VAL_SPLIT": "valx",
                                                           "TRAIN.EVAL_PERIOD": 0}),
                progress=False).close()


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
def test_an_evaluation_plugs_in_as_a_hook(synthcity_root, tmp_path):
    from ssap_gluon.training.trainer import EvaluationHook, TrainingHook

    calls, seen = [], []

    def evaluate(trainer, iteration):
        calls.append(iteration)
        trainer.metrics.append({"kind": "val_ap", "iteration": iteration, "AP": 0.1 * iteration})
        return {"AP": 0.1 * iteration}

    class Record(TrainingHook):
        def after_iteration(self, trainer, result):
            seen.append((result.iteration, result.last, round(result.lr, 12)))

    cfg = tiny_cfg(synthcity_root, str(tmp_path), **{"SOLVER.MAX_ITER": 5})
    summary = SSAPTrainer(cfg, progress=False, hooks=[
        EvaluationHook(evaluate, period=2, at_end=True, summary_key="val_AP", metric="AP"),
        Record()]).train()
    assert calls == [2, 4, 5]
    assert summary["val_AP"] == pytest.approx(0.5)
    assert seen == [(1, False, 1e-4), (2, False, 1e-4), (3, False, 1e-4), (4, False, 1e-5),
                    (5, True, 1e-5)]
    kinds = [r["kind"] for r in read_metrics(os.path.join(str(tmp_path), "metrics.jsonl"))]
    assert kinds.count("val_ap") == 3 and kinds.count("train") == 5


# ---------------------------------------------------------------------------
# SIGINT / SIGTERM: finish the iteration, checkpoint, stop; resume to the same losses
# ---------------------------------------------------------------------------
def test_sigint_stops_after_the_iteration_with_a_checkpoint(reference_run, synthcity_root,
                                                            tmp_path):
    from ssap_gluon.training.trainer import TrainingHook, TrainingInterrupted

    _, _, reference = reference_run
    out = str(tmp_path)

    class InterruptAt(TrainingHook):
        def after_iteration(self, trainer, result):
            if result.iteration == 4:
                signal.raise_signal(signal.SIGINT)  # delivered to this (the main) thread

    before = signal.getsignal(signal.SIGINT)
    trainer = SSAPTrainer(tiny_cfg(synthcity_root, out), progress=False,
                          hooks=[InterruptAt()])
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    stop = info.value
    assert stop.exit_code == 130 and stop.iteration == 4
    assert stop.checkpoint.endswith("iter_00000004")
    assert "SIGINT after iteration 4 of 7" in str(stop)
    # 4 is not a multiple of CHECKPOINT_PERIOD 3: written because of the signal
    assert [os.path.basename(p) for _, p in list_checkpoints(out)] == [
        "iter_00000003", "iter_00000004"]
    records = read_metrics(os.path.join(out, "metrics.jsonl"), kind="train")
    assert [r["iteration"] for r in records] == [1, 2, 3, 4]
    resumed = SSAPTrainer(tiny_cfg(synthcity_root, out), resume="auto", progress=False)
    assert resumed.start_iter == 4
    resumed.train()
    records = read_metrics(os.path.join(out, "metrics.jsonl"), kind="train")
    assert [r["iteration"] for r in records] == list(range(1, 8))
    got, want = losses(records), losses(reference)
    np.testing.assert_allclose([got[i] for i in range(1, 8)], [want[i] for i in range(1, 8)],
                               rtol=RTOL)


@pytest.mark.slow
def test_sigterm_then_resume_auto_continues_the_same_curve(reference_run, synthcity_root,
                                                           tmp_path):
    _, _, reference = reference_run
    out = str(tmp_path / "run")
    # a long schedule, so that the signal always arrives before the end; the lr
    # schedule (STEPS) and so the losses do not depend on MAX_ITER
    cmd = [sys.executable, os.path.join(REPO, "scripts", "train.py"), "--cfg", CONFIG,
           "--no-progress", "--opts"] + tiny_opts(synthcity_root, out,
                                                  **{"SOLVER.MAX_ITER": 1000})
    metrics = os.path.join(out, "metrics.jsonl")
    err_path = str(tmp_path / "stderr.txt")
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 240
            while proc.poll() is None and time.time() < deadline and not read_metrics(metrics):
                time.sleep(0.05)
            assert proc.poll() is None, "the run ended before the signal"
            assert read_metrics(metrics), "no iteration within 240 s"
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = open(err_path).read()
    assert proc.returncode == 143, stderr[-3000:]
    assert "stopped by SIGTERM after iteration" in stderr and "Traceback" not in stderr
    k = list_checkpoints(out)[-1][0]
    assert k >= 1
    records = read_metrics(metrics, kind="train")
    assert [r["iteration"] for r in records] == list(range(1, k + 1))
    # resume to two iterations past the signal (at least the reference's 7)
    end = max(7, k + 2)
    done = subprocess.run(cmd[:4] + ["--resume", "auto"] + cmd[4:-2] +
                          ["SOLVER.MAX_ITER", str(end)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stderr and "iteration %d" % k in done.stderr
    records = read_metrics(metrics, kind="train")
    assert [r["iteration"] for r in records] == list(range(1, end + 1))
    if end == 7:
        want = losses(reference)
    else:  # the signal came late: an uninterrupted run of the same length
        ref_out = str(tmp_path / "reference")
        SSAPTrainer(tiny_cfg(synthcity_root, ref_out, **{"SOLVER.MAX_ITER": end}),
                    progress=False).train()
        want = losses(read_metrics(os.path.join(ref_out, "metrics.jsonl")))
    got = losses(records)
    np.testing.assert_allclose([got[i] for i in range(1, end + 1)],
                               [want[i] for i in range(1, end + 1)], rtol=RTOL)
