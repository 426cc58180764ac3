"""scripts/bench_cascade.py --smoke: every table row and documented JSON key is there.

Timings are never asserted (they depend on the machine and its load).
"""
import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# where conftest's cityscapes_sample_root fixture looks (the test needs the path
# even when the sample is absent)
CITYSCAPES_SAMPLE = os.environ.get(
    "SSAP_CITYSCAPES_SAMPLE", os.path.join(REPO, "..", "shared", "data", "cityscapes_sample"))
SCRIPT = os.path.join(REPO, "scripts", "bench_cascade.py")
STRIDES = (4, 8, 16, 32, 64)
SETTINGS = ("one_core_sr", "one_core_no_sr", "all_cores_sr")


def run_smoke(tmp_path, synthcity_root, *extra):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--smoke", "--json", str(out),
         "--synthcity-root", synthcity_root] + list(extra),
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as f:
        return proc.stdout, json.load(f)


def table_rows(stdout, set_name):
    """The init-stride rows of one input set's main table."""
    block = stdout.split("=== %s:" % set_name, 1)[1].split("\n\n", 1)[0]
    return [int(m.group(1)) for m in re.finditer(r"^1/(\d+)\s+[\d.]+ \(", block, re.M)]


def test_smoke_prints_every_init_stride_and_writes_documented_keys(tmp_path, synthcity_root):
    sample_present = os.path.isdir(os.path.join(CITYSCAPES_SAMPLE, "gtFine"))
    stdout, result = run_smoke(tmp_path, synthcity_root, "--figure", str(tmp_path / "fig5.png"),
                               "--cityscapes-root", CITYSCAPES_SAMPLE)
    assert table_rows(stdout, "SynthCity val") == list(STRIDES)
    assert "paper Table 4" in stdout and "1.26" in stdout
    assert re.search(r"goal: <= 50 ms per frame at init 1/16 with SR on one core: (PASS|FAIL) "
                     r"\(median [\d.]+ ms", stdout)
    assert re.search(r"speed-up of init 1/16 over 1/4 \(1 core SR\): ours [\d.]+x", stdout)

    for key in ("config", "machine", "code", "paper_table4_gp_seconds", "paper_speedup", "goal",
                "input_sets", "skipped", "seconds"):
        assert key in result, key
    machine = result["machine"]
    for key in ("cpu_model", "cpus", "load_average_before", "load_average_during",
                "load_average_after"):
        assert key in machine, key
    assert len(machine["load_average_before"]) == 3
    assert result["config"]["smoke"] is True
    assert result["config"]["input_shape"] == [256, 512]
    assert result["paper_table4_gp_seconds"] == {"4": 1.26, "8": 0.33, "16": 0.26, "32": 0.26,
                                                 "64": 0.26}

    names = [s["name"] for s in result["input_sets"]]
    if sample_present:
        assert names == ["SynthCity val", "Cityscapes sample"]
        assert table_rows(stdout, "Cityscapes sample") == list(STRIDES)
        assert result["input_sets"][1]["upscale"] == 2
    else:
        assert names == ["SynthCity val"]
        assert "Cityscapes sample skipped" in stdout and result["skipped"]

    for entry in result["input_sets"]:
        for key in ("name", "frames", "input_shape", "graph_shape", "upscale", "rows",
                    "breakdown_init16", "speedup", "goal", "fig5"):
            assert key in entry, key
        assert entry["graph_shape"] == [64, 128]
        assert [r["init_stride"] for r in entry["rows"]] == list(STRIDES)
        for row in entry["rows"]:
            for setting in SETTINGS:
                stats = row[setting]
                for key in ("median_ms", "best_ms", "mean_ms", "frame_median_ms", "cpu_median_ms",
                            "cpu_best_ms"):
                    assert key in stats, key
                assert stats["median_ms"] > 0
            # the levels the cascade visits, coarsest = init stride, plus refinement
            assert set(row["nodes"]) == {str(s) for s in STRIDES if s <= row["init_stride"]} \
                | {"refinement"}
        for setting in SETTINGS:
            for stage in ("graph_ms", "solve_ms", "proposals_ms", "refine_ms", "other_ms",
                          "total_ms"):
                assert stage in entry["breakdown_init16"][setting], stage
        assert set(entry["speedup"]) == {"ours", "ours_best", "paper"}
        assert entry["goal"]["full_scale"] is False and isinstance(entry["goal"]["pass"], bool)
        fig5 = entry["fig5"]
        assert fig5["frames"] and {"mean_object_area", "gp_ms_init4", "gp_ms_init16"} <= set(
            fig5["frames"][0])
        assert fig5["instances"]["points"] and fig5["instances"]["buckets"]
        assert {"area", "gp_ms_init4", "gp_ms_init16"} <= set(fig5["instances"]["points"][0])
    pytest.importorskip("matplotlib")
    assert (tmp_path / "fig5.png").stat().st_size > 0


def test_missing_cityscapes_sample_is_skipped_with_a_note(tmp_path, synthcity_root):
    stdout, result = run_smoke(tmp_path, synthcity_root, "--init-strides", "16",
                               "--fig5-instances", "0",
                               "--cityscapes-root", str(tmp_path / "absent"))
    assert "Cityscapes sample skipped" in stdout
    assert [s["name"] for s in result["input_sets"]] == ["SynthCity val"]
    assert len(result["skipped"]) == 1 and "absent" in result["skipped"][0]
    assert table_rows(stdout, "SynthCity val") == [16]
    assert "instances" not in result["input_sets"][0]["fig5"]
