"""Dataset summary: counts by hand on a tiny fixture, the command line, parallel == serial."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ssap_gluon.data import CityscapesInstances
from ssap_gluon.data.summary import format_summary, frame_statistics, summarize_dataset
from test_data_cityscapes import small_frame, write_cityscapes_frame

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import dataset_summary  # noqa: E402


@pytest.fixture()
def tiny_root(tmp_path):
    label, inst, _, _ = small_frame()
    rgb = np.zeros((6, 8, 3), np.uint8)
    for k in range(3):
        write_cityscapes_frame(str(tmp_path), "train", "t_%06d_000019" % k, rgb, label, inst)
    write_cityscapes_frame(str(tmp_path), "val", "v_000000_000019", rgb, label, inst)
    write_cityscapes_frame(str(tmp_path), "test", "s_000000_000019", rgb, label, inst)
    return str(tmp_path)


def test_frame_statistics_by_hand():
    _, _, sem, ins = small_frame()
    f = frame_statistics(sem, ins, 19, 255)
    # small_frame: sky row (8), car A 2x3, car B 2x2, person group 1x4 (crowd),
    # caravan 1x2 and ego-vehicle row 8 (both ignore), road the remaining 16.
    expected = np.zeros(19, np.int64)
    expected[[0, 10, 13, 11]] = [16, 8, 10, 4]
    np.testing.assert_array_equal(f["class_pixels"], expected)
    assert f["ignore_pixels"] == 10 and f["crowd_pixels"] == 4
    assert sorted(f["instances"]) == [(13, 4), (13, 6)]


def test_summarize_split_by_hand(tiny_root):
    s = summarize_dataset(CityscapesInstances(tiny_root, "train"), size_bins=(0, 5, 10))
    assert s["frames"] == 3 and s["frame_sizes"] == {"6x8": 3}
    assert s["class_pixels"][13] == 30 and s["class_pixels"][0] == 48
    assert s["ignore_pixels"] == 30 and s["crowd_pixels"] == 12
    assert s["instances_per_class"] == {11: 0, 12: 0, 13: 6, 14: 0, 15: 0, 16: 0, 17: 0, 18: 0}
    assert s["size_histogram"][13] == [3, 3, 0]  # sizes 4 (bin 0-4) and 6 (bin 5-9)
    assert s["instances_per_frame"] == {"mean": 2.0, "max": 2}
    text = format_summary("train", s)
    assert "car*" in text and ">=10" in text and "3 frames" in text


def test_parallel_summary_equals_serial(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    assert summarize_dataset(ds, workers=2) == summarize_dataset(ds, workers=1)


def test_bad_size_bins_are_refused(tiny_root):
    with pytest.raises(ValueError, match="increasing"):
        summarize_dataset(CityscapesInstances(tiny_root, "train"), size_bins=(0, 10, 5))


def test_command_line_prints_and_writes_json(tiny_root, tmp_path, capsys):
    out_json = str(tmp_path / "summary.json")
    rc = dataset_summary.main(["--cfg", os.path.join(REPO, "configs", "synthcity_r18.yaml"),
                               "--splits", "train", "val", "test", "--json", out_json,
                               "--opts", "DATASET.ROOT", tiny_root])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Cityscapes train (%s): 3 frames" % tiny_root in text
    assert "Cityscapes val (%s): 1 frames" % tiny_root in text
    assert "no labels loaded" in text  # test split
    with open(out_json) as f:
        data = json.load(f)
    assert data["splits"]["train"]["instances_per_class"]["13"] == 6
    assert data["splits"]["test"] == {"frames": 1, "labels": False}
    assert data["dataset"] == "Cityscapes"


def test_command_line_names_a_bad_key(tiny_root, capsys):
    rc = dataset_summary.main(["--cfg", os.path.join(REPO, "configs", "synthcity_r18.yaml"),
                               "--opts", "DATASET.ROOTS", tiny_root])
    assert rc == 2 and "DATASET.ROOTS" in capsys.readouterr().err


def test_command_line_names_a_missing_root(tmp_path, capsys):
    rc = dataset_summary.main(["--cfg", os.path.join(REPO, "configs", "synthcity_r18.yaml"),
                               "--opts", "DATASET.ROOT", str(tmp_path / "absent")])
    assert rc == 2 and str(tmp_path / "absent") in capsys.readouterr().err


def test_script_runs_as_a_program_on_synthcity(synthcity_root):
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "dataset_summary.py"),
         "--cfg", os.path.join(REPO, "configs", "synthcity_r18.yaml"),
         "--opts", "DATASET.ROOT", synthcity_root],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # the embedded default is named as such, not "cityscapes"
    assert "SynthCity train (%s): 6 frames" % synthcity_root in proc.stdout
    assert "val (%s): 4 frames" % synthcity_root in proc.stdout
    assert "instances by size" in proc.stdout
