"""scripts/test.py end to end: oracle scores, agreement with cityscapesScripts called
directly, resuming after SIGKILL, user errors, the test-split archive, COCO.

The reference numbers come from tests/official_direct.py: cityscapesScripts run
in a process of its own through its documented API, nothing of ssap_gluon.
"""
import glob
import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import cv2
import numpy as np
import pytest

from ssap_gluon.evaluation import (evaluate_instances, evaluate_panoptic, evaluate_semantic,
                                   panoptic_from_instance_ids, write_instance_predictions,
                                   write_panoptic_json, write_panoptic_prediction,
                                   write_semantic_prediction)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(REPO, "scripts", "test.py")
CONFIG = os.path.join(REPO, "configs", "synthcity_r18.yaml")
DIRECT = os.path.join(HERE, "official_direct.py")
CAR, TRUCK = 26, 27
# a small network of synthcity_r18 (as tests/test_train.py's tiny_opts), one thread per job
TINY = ["MODEL.DECODER_CHANNELS", "16", "MODEL.HEAD_CHANNELS", "8", "TRAIN.DEVICES", "cpu"]


def run_test_py(argv, capsys=None):
    """scripts/test.py's main() in this process; returns (exit status, stdout, stderr)."""
    module = runpy.run_path(SCRIPT, run_name="scripts_test")
    rc = module["main"](argv)
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return rc, out, err


def oracle_args(root, out, *extra):
    return ["--cfg", CONFIG, "--oracle", "--out", str(out), "--no-progress"] + list(extra) + \
        ["--opts", "DATASET.ROOT", root]


def metrics_of(out):
    with open(os.path.join(str(out), "metrics.json")) as f:
        return json.load(f)


def direct_official(workdir, root, split="val", instance="-", semantic="-", pan_json="-",
                    pan_folder="-"):
    proc = subprocess.run([sys.executable, DIRECT, str(workdir), root, split, str(instance),
                           str(semantic), str(pan_json), str(pan_folder)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def assert_same_as_direct(ours_instance, ours_semantic, ours_panoptic, direct):
    """Our wrappers' numbers equal cityscapesScripts' own, exactly (PQ: its one-core
    path; its multi-core driver sums in another order: equal to 1e-12)."""
    if ours_instance is not None:
        d = direct["instance"]
        assert ours_instance["AP"] == d["AP"] and ours_instance["AP50"] == d["AP50"]
        for name, v in d["per_class"].items():
            nan = v["AP"] != v["AP"]
            assert ours_instance["per_class"][name] == (
                {"AP": None, "AP50": None} if nan else {"AP": v["AP"], "AP50": v["AP50"]}), name
    if ours_semantic is not None:
        d = direct["semantic"]
        assert ours_semantic["mIoU"] == d["mIoU"]
        for name, v in ours_semantic["per_class"].items():
            expected = d["per_class"][name]
            assert v == (None if expected != expected else expected), name
    if ours_panoptic is not None:
        for key in ("panoptic", "panoptic_multicore"):
            d = direct[key]
            exact = key == "panoptic"
            for group, suffix in (("All", ""), ("Things", "_things"), ("Stuff", "_stuff")):
                for m in ("pq", "sq", "rq"):
                    ours, theirs = ours_panoptic[m.upper() + suffix], d[group][m]
                    assert ours == theirs if exact else ours == pytest.approx(theirs, abs=1e-12)
            for name, v in d["per_class"].items():
                ours = ours_panoptic["per_class"][name]
                if ours["PQ"] is None:  # seen in neither: the official code lists 0.0
                    assert v == {"pq": 0.0, "sq": 0.0, "rq": 0.0}, name
                    continue
                for m in ("pq", "sq", "rq"):
                    assert ours[m.upper()] == v[m] if exact else \
                        ours[m.upper()] == pytest.approx(v[m], abs=1e-12), (name, m)


def without_timing(metrics):
    return {k: v for k, v in metrics.items() if k != "timing"}


@pytest.fixture(scope="module")
def oracle_run(synthcity_root, tmp_path_factory):
    """An uninterrupted oracle run over the fixture's val split."""
    out = tmp_path_factory.mktemp("oracle_run")
    rc, _, _ = run_test_py(oracle_args(synthcity_root, out))
    assert rc == 0
    return out


# ---------------------------------------------------------------- oracle
def test_oracle_on_the_real_frame_scores_one(cityscapes_sample_root, tmp_path, capsys):
    rc, out, err = run_test_py(oracle_args(cityscapes_sample_root, tmp_path,
                                           "--gt-cache", str(tmp_path / "cache"))
                               [:-3] + ["--opts", "DATASET.ROOT", cityscapes_sample_root,
                                        "TEST.MIN_INSTANCE_AREA", "0"], capsys)
    assert rc == 0, err
    m = metrics_of(tmp_path)
    assert m["AP"] == 1.0 and m["AP50"] == 1.0
    assert m["PQ"] == 1.0 and m["PQ_Th"] == 1.0 and m["PQ_St"] == 1.0
    assert m["mIoU"] == 1.0
    assert m["dataset"]["kind"] == "Cityscapes" and m["mode"] == "oracle"
    assert m["oracle"]["pyramid_strides"] == [1, 2, 4, 8, 16, 32, 64]
    assert m["AP50m"] is None and m["AP100m"] is None and "distance" in m["null_reasons"]["AP50m"]
    assert m["timing"]["network_ms"] is None and m["timing"]["gp_ms"]["frames"] == 1
    table = (tmp_path / "table8.md").read_text()
    assert "| **ours: oracle (ground truth)** | 100.0 | 100.0 | 100.0 |" in table
    assert "| SSAP (ours) | 34.4 | 50.6 | 58.4 | ResNet-50 |" in table
    assert "NOT COMPARABLE" in table and table in out
    # the ground-truth cache went where it was asked to, nothing into the cwd or the dataset
    assert os.path.isfile(str(tmp_path / "cache" / "cityscapes_panoptic_val.json"))
    assert not glob.glob(os.path.join(cityscapes_sample_root, "gtFine", "*.json"))


def test_oracle_on_synthcity_equals_cityscapesscripts_called_directly(
        synthcity_root, oracle_run, tmp_path):
    m = metrics_of(oracle_run)
    assert m["mIoU"] == 1.0  # exactly: one-hot semantics at full resolution
    assert m["dataset"] == {"kind": "SynthCity", "name": "cityscapes", "root": synthcity_root,
                            "split": "val", "frames": 4, "frames_in_split": 4}
    direct = direct_official(tmp_path, synthcity_root,
                             instance=oracle_run / "instance", semantic=oracle_run / "semantic",
                             pan_json=oracle_run / "panoptic.json",
                             pan_folder=oracle_run / "panoptic")
    assert_same_as_direct(m["instance"], m["semantic"], m["panoptic"], direct)
    assert m["AP"] == direct["instance"]["AP"] and m["PQ"] == direct["panoptic"]["All"]["pq"]
    assert 0.5 < m["AP"] <= 1.0 and 0.5 < m["PQ"] <= 1.0
    assert "SynthCity" in (oracle_run / "table8.md").read_text()


# ---------------------------------------------------------------- damaged predictions
def _frames(root):
    frames = []
    for path in sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_labelIds.png"))):
        stem = os.path.basename(path)[:-len("_gtFine_labelIds.png")]
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(path.replace("labelIds", "instanceIds"), cv2.IMREAD_UNCHANGED)
        frames.append((stem, label, inst.astype(np.int64)))
    return frames


def _two_cars(inst):
    cars = [v for v in np.unique(inst) if v // 1000 == CAR and (inst == v).sum() >= 100]
    return cars[:2] if len(cars) >= 2 else None


def _damage(kind, label, inst):
    """(labelIds, instanceIds) of a prediction: one car dropped / two cars merged /
    one car called a truck."""
    a, b = _two_cars(inst)
    label, inst = label.copy(), inst.copy()
    if kind == "dropped":
        inst[inst == a] = 0          # its pixels are nobody's: unlabelled in panoptic
    elif kind == "merged":
        inst[inst == b] = a
    elif kind == "wrong_class":
        inst[inst == a] = TRUCK * 1000 + 999
        label[inst == TRUCK * 1000 + 999] = TRUCK
    return label, inst


@pytest.mark.parametrize("kind", ["dropped", "merged", "wrong_class"])
def test_damaged_prediction_scores_what_cityscapesscripts_gives(synthcity_root, tmp_path, kind):
    frames = _frames(synthcity_root)
    target = next(i for i, (_, _, inst) in enumerate(frames) if _two_cars(inst))
    annotations = []
    for i, (stem, label, inst) in enumerate(frames):
        if i == target:
            label, inst = _damage(kind, label, inst)
        values = [v for v in np.unique(inst) if v >= 1000]
        # distinct scores, so the precision-recall curve depends on the order
        write_instance_predictions(str(tmp_path / "inst"), stem,
                                   [(inst == v, int(v) // 1000, 1.0 / (1 + k))
                                    for k, v in enumerate(values)])
        write_semantic_prediction(str(tmp_path / "sem"), stem, label)
        seg, labels = panoptic_from_instance_ids(inst)
        annotations.append(write_panoptic_prediction(str(tmp_path / "pan"), stem, seg, labels))
    write_panoptic_json(str(tmp_path / "pan.json"), annotations)
    instance = evaluate_instances(synthcity_root, "val", str(tmp_path / "inst"))
    semantic = evaluate_semantic(synthcity_root, "val", str(tmp_path / "sem"))
    panoptic = evaluate_panoptic(synthcity_root, "val", str(tmp_path / "pan.json"),
                                 str(tmp_path / "pan"))
    direct = direct_official(tmp_path / "direct", synthcity_root, instance=tmp_path / "inst",
                             semantic=tmp_path / "sem", pan_json=tmp_path / "pan.json",
                             pan_folder=tmp_path / "pan")
    assert_same_as_direct(instance, semantic, panoptic, direct)
    # the damage shows where it should
    assert instance["per_class"]["car"]["AP"] < 1.0
    assert panoptic["per_class"]["car"]["PQ"] < 1.0
    if kind == "wrong_class":
        assert semantic["per_class"]["car"] < 1.0 and semantic["per_class"]["truck"] < 1.0
    else:
        assert semantic["mIoU"] == 1.0


# ---------------------------------------------------------------- resume after SIGKILL
SLOW_DRIVER = r"""
import runpy, sys, time
import ssap_gluon.evaluation.runner as runner
original = runner.write_frame_outputs
def slow(*args, **kwargs):
    record = original(*args, **kwargs)
    time.sleep(float(sys.argv[1]))   # after the frame is complete: time to kill between frames
    return record
runner.write_frame_outputs = slow
script = sys.argv[2]
sys.argv = [script] + sys.argv[3:]
runpy.run_path(script, run_name="__main__")
"""


def test_killed_run_resumes_and_gives_the_same_metrics(synthcity_root, oracle_run, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DRIVER, "4", SCRIPT] +
                            oracle_args(synthcity_root, out),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if glob.glob(str(out / "frames" / "*.json")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "test.py ended before a frame was done: %s" % (
            proc.stderr.read()[-2000:])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    done = sorted(glob.glob(str(out / "frames" / "*.json")))
    assert 1 <= len(done) < 4, done
    assert not (out / "metrics.json").exists()
    before = {p: open(p).read() for p in done}
    rc, _, _ = run_test_py(oracle_args(synthcity_root, out))
    assert rc == 0
    resumed = metrics_of(out)
    assert resumed["timing"]["frames_resumed"] == len(done)
    assert resumed["timing"]["frames_predicted_now"] == 4 - len(done)
    assert {p: open(p).read() for p in done} == before  # finished frames were not redone
    assert without_timing(resumed) == without_timing(metrics_of(oracle_run))
    # no temporary file is left anywhere
    assert not [p for p in glob.glob(str(out / "**" / ".*.tmp"), recursive=True)]


def test_lost_frame_files_are_redone_and_force_redoes_everything(synthcity_root, tmp_path):
    out = tmp_path / "run"
    assert run_test_py(oracle_args(synthcity_root, out))[0] == 0
    first = metrics_of(out)
    victim = sorted(glob.glob(str(out / "instance" / "*.txt")))[0]
    os.unlink(victim)
    assert run_test_py(oracle_args(synthcity_root, out))[0] == 0
    again = metrics_of(out)
    assert again["timing"]["frames_predicted_now"] == 1 and os.path.isfile(victim)
    assert without_timing(again) == without_timing(first)
    assert run_test_py(oracle_args(synthcity_root, out, "--force"))[0] == 0
    assert metrics_of(out)["timing"]["frames_predicted_now"] == 4


# ---------------------------------------------------------------- user errors
def _assert_user_error(rc, err, *fragments):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


def test_split_without_ground_truth_is_a_user_error(synthcity_root, tmp_path, capsys):
    root = tmp_path / "nogt"
    shutil.copytree(os.path.join(synthcity_root, "leftImg8bit"), str(root / "leftImg8bit"))
    rc, _, err = run_test_py(oracle_args(str(root), tmp_path / "out"), capsys)
    _assert_user_error(rc, err, "missing label file", str(root / "gtFine" / "val"))


def test_oracle_on_the_test_split_is_a_user_error(synthcity_root, tmp_path, capsys):
    rc, _, err = run_test_py(oracle_args(synthcity_root, tmp_path, "--split", "test"), capsys)
    _assert_user_error(rc, err, "--oracle needs ground truth")


def test_other_settings_in_the_same_directory_are_refused(synthcity_root, tmp_path, capsys):
    assert run_test_py(oracle_args(synthcity_root, tmp_path, "--max-frames", "1"))[0] == 0
    capsys.readouterr()
    argv = oracle_args(synthcity_root, tmp_path, "--max-frames", "1") + \
        ["TEST.CASCADE_INIT_STRIDE", "8"]
    rc, _, err = run_test_py(argv, capsys)
    _assert_user_error(rc, err, "other settings", "TEST.CASCADE_INIT_STRIDE", "--force")


def test_missing_weights_are_a_user_error(synthcity_root, tmp_path, capsys):
    rc, _, err = run_test_py(["--cfg", CONFIG, "--weights", str(tmp_path / "nope.params"),
                              "--out", str(tmp_path / "o"), "--no-progress", "--opts",
                              "DATASET.ROOT", synthcity_root], capsys)
    _assert_user_error(rc, err, "weights not found", str(tmp_path / "nope.params"))


def test_a_broken_prediction_found_at_scoring_names_the_file(synthcity_root, oracle_run,
                                                             tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(str(oracle_run), str(out))
    semantic = sorted(glob.glob(str(out / "semantic" / "*.png")))[1]
    cv2.imwrite(semantic, np.zeros((8, 8), np.uint8))  # the wrong size, record intact
    rc, _, err = run_test_py(oracle_args(synthcity_root, out), capsys)
    _assert_user_error(rc, err, semantic, "is 8x8 but the ground truth")


# ---------------------------------------------------------------- a network
@pytest.fixture(scope="module")
def tiny_weights(synthcity_root, tmp_path_factory):
    import mxnet as mx

    from ssap_gluon.config import load_config
    from ssap_gluon.model import build_model

    mx.random.seed(7)
    cfg = load_config(CONFIG, ["DATASET.ROOT", synthcity_root] + TINY)
    net = build_model(cfg, num_devices=1, ctx=mx.cpu())
    net(mx.nd.zeros((1, 3, 64, 128)))
    path = str(tmp_path_factory.mktemp("weights") / "tiny.params")
    net.save_parameters(path)
    return path


def test_weights_run_records_the_file_and_times(synthcity_root, tiny_weights, tmp_path, capsys):
    from ssap_gluon.inference.weights import file_sha256

    argv = ["--cfg", CONFIG, "--weights", tiny_weights, "--out", str(tmp_path), "--no-progress",
            "--max-frames", "2", "--opts", "DATASET.ROOT", synthcity_root] + TINY
    rc, out, err = run_test_py(argv, capsys)
    assert rc == 0, err
    m = metrics_of(tmp_path)
    assert m["weights"] == {"path": tiny_weights, "sha256": file_sha256(tiny_weights)}
    assert m["mode"] == "network" and m["dataset"]["frames"] == 2
    for key in ("network_ms", "gp_ms"):
        assert m["timing"][key]["frames"] == 2
        assert 0 < m["timing"][key]["p50"] <= m["timing"][key]["p95"]
    assert m["config"]["MODEL"]["DECODER_CHANNELS"] == 16  # the full config is kept
    for key in ("AP", "AP50", "PQ", "PQ_Th", "mIoU"):
        assert m[key] is not None and 0.0 <= m[key] <= 1.0
    assert set(m["instance"]["per_class"]) == {"person", "rider", "car", "truck", "bus", "train",
                                               "motorcycle", "bicycle"}
    assert "only 2 of the split's 4 frames" in (tmp_path / "table8.md").read_text()


def test_test_split_writes_the_server_archive_and_no_scores(synthcity_root, tmp_path, capsys):
    argv = ["--cfg", CONFIG, "--random-init", "--split", "test", "--out", str(tmp_path),
            "--no-progress", "--opts", "DATASET.ROOT", synthcity_root] + TINY
    rc, out, err = run_test_py(argv, capsys)
    assert rc == 0, err
    m = metrics_of(tmp_path)
    assert m["dataset"]["split"] == "test" and m["dataset"]["frames"] == 2
    assert all(m[k] is None for k in ("AP", "AP50", "PQ", "mIoU"))
    assert "benchmark server" in m["null_reasons"]["AP"]
    archive = m["submission"]["archives"]["instance"]
    stems = sorted(os.path.basename(p)[:-5] for p in glob.glob(str(tmp_path / "frames" / "*")))
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        txts = sorted(n for n in names if n.endswith(".txt"))
        assert txts == [s + ".txt" for s in stems]  # one results file per test image
        listed = [line.split(" ")[0] for t in txts for line in
                  z.read(t).decode().splitlines() if line]
        assert sorted(listed) == sorted(n for n in names if n.endswith(".png"))
        assert all(n.startswith("masks/") for n in listed)
    with zipfile.ZipFile(m["submission"]["archives"]["semantic"]) as z:
        assert sorted(z.namelist()) == [s + ".png" for s in stems]
    assert "table10.md" in os.listdir(str(tmp_path)) and "scores come from the" in out
