"""Multi-process training with mxnet's dist_sync kvstore, started by dmlc_tracker's
local launcher: 2 workers + 1 server, each worker on its shard of SynthCity."""
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from ssap_gluon.training.checkpoint import verify_checkpoint
from ssap_gluon.training.distributed import _LocalJob, build_arg_parser, create_kvstore
from ssap_gluon.training.progress import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "synthcity_r18.yaml")


def test_launcher_arguments():
    args = build_arg_parser().parse_args(
        ["-n", "2", "-s", "1", "--launcher", "local", "--env", "A:1", "--",
         "python", "scripts/train.py", "--opts", "TRAIN.KVSTORE", "dist_sync"])
    assert (args.num_workers, args.num_servers, args.launcher, args.env) == (2, 1, "local",
                                                                             ["A:1"])
    assert args.command[-4:] == ["scripts/train.py", "--opts", "TRAIN.KVSTORE", "dist_sync"]


def test_dist_kvstore_outside_the_launcher_is_explained(monkeypatch):
    from ssap_gluon.config import load_config

    monkeypatch.delenv("DMLC_ROLE", raising=False)
    cfg = load_config(None, ["TRAIN.KVSTORE", "dist_sync"])
    with pytest.raises(RuntimeError, match="DMLC_ROLE is not set.*launch_dist.py"):
        create_kvstore(cfg)
    assert create_kvstore(load_config(None, []))[1:] == (0, 1)


def test_a_failing_process_stops_the_local_job():
    job = _LocalJob()
    results = {}
    sleeper = threading.Thread(target=lambda: results.update(
        sleep=job.call([sys.executable, "-c", "import time; time.sleep(60)"])))
    sleeper.start()
    while not job.procs:
        pass
    assert job.call([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    sleeper.join(timeout=30)
    assert not sleeper.is_alive() and results["sleep"] == -signal.SIGTERM
    assert job.failures[0][0] == 3


@pytest.mark.slow
def test_two_worker_dist_sync_run_trains(synthcity_root, tmp_path):
    out = str(tmp_path / "run")
    opts = ["DATASET.ROOT", synthcity_root, "TRAIN.OUTPUT_DIR", out,
            "INPUT.CROP_SIZE", "[64, 128]", "MODEL.DECODER_CHANNELS", "16",
            "MODEL.HEAD_CHANNELS", "8", "SOLVER.IMS_PER_BATCH", "2", "SOLVER.MAX_ITER", "3",
            "SOLVER.STEPS", "[2]", "TRAIN.KVSTORE", "dist_sync", "TRAIN.DEVICES", "cpu",
            "TRAIN.CHECKPOINT_PERIOD", "3", "TRAIN.LOG_PERIOD", "1",
            "TRAIN.VALIDATE_AT_END", "False", "DATALOADER.NUM_WORKERS", "0"]
    cmd = [sys.executable, os.path.join(REPO, "scripts", "launch_dist.py"), "-n", "2", "-s",
           "1", "--launcher", "local", "--", sys.executable,
           os.path.join(REPO, "scripts", "train.py"), "--cfg", CONFIG, "--no-progress",
           "--opts"] + opts
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # its own session, so that on a timeout every process of the job can be stopped
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail("distributed run timed out:\n" + output[-3000:])
    assert proc.returncode == 0, output[-3000:]
    records = read_metrics(os.path.join(out, "metrics.jsonl"), kind="train")
    assert [r["iteration"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) for r in records)
    np.testing.assert_allclose([r["lr"] for r in records], [1e-3, 1e-3, 1e-4], rtol=1e-9)
    # 2 images per iteration over 2 workers, each reading half of every epoch
    log0 = open(os.path.join(out, "train.log")).read()
    log1 = open(os.path.join(out, "train.rank1.log")).read()
    assert "2 image(s)/iteration = 2 worker(s) x 1 device(s) x 1" in log0
    assert "worker 0 reads shard 1/2: 3 batches/epoch" in log0
    assert "worker 1 reads shard 2/2: 3 batches/epoch" in log1
    assert verify_checkpoint(os.path.join(out, "checkpoints", "iter_00000003"))["iteration"] == 3
