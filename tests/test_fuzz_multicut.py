"""scripts/fuzz_multicut.py: its smoke run finds nothing, its harness reports a
hang or a crash of one graph and goes on, and its checks do catch bad results.

The runs go through a subprocess with its own timeout, so even a solver that
hangs without the GIL cannot stall the test session.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "fuzz_multicut.py")


def run_script(args, timeout=600):
    try:
        return subprocess.run([sys.executable, SCRIPT] + args, cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("fuzz_multicut.py %s did not finish within %d s" % (" ".join(args), timeout))


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_multicut", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_finds_no_crash_hang_or_invalid_result(tmp_path):
    out = tmp_path / "smoke.json"
    done = run_script(["--smoke", "--seed", "1", "--timeout", "300", "--json", str(out)])
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["graphs tried"] == 200
    assert summary["crashes"] == summary["hangs"] == 0
    assert summary["graphs with an invalid result"] == 0
    assert summary["results below the brute-force optimum"] == 0
    assert summary["KL roll-backs"] == 0
    # every call ended in a checked partition or a refusal of invalid input, and
    # both kinds (and the brute-force check) were exercised
    assert summary["calls"] == (summary["valid partitions"]
                                + summary["clear errors (GraphInputError on invalid input)"])
    assert summary["valid partitions"] > 300
    assert summary["clear errors (GraphInputError on invalid input)"] > 50
    assert summary["graphs checked against brute force (<= 9 nodes)"] > 40
    assert "graphs tried" in done.stdout and "slowest graph" in done.stdout


def test_a_hang_and_a_crash_are_reported_and_the_fuzz_goes_on(tmp_path):
    # the worker is made to hang on case 2 and to abort on case 5; the other
    # cases of this seed take well under 0.1 s each
    out = tmp_path / "injected.json"
    done = run_script(["--count", "10", "--timeout", "8", "--inject-hang", "2",
                       "--inject-crash", "5", "--json", str(out)], timeout=300)
    assert done.returncode == 1
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert summary["graphs tried"] == 10
    assert (summary["hangs"], summary["crashes"]) == (1, 1)
    assert summary["graphs with an invalid result"] == 0
    failing = {case["index"]: case for case in result["failing cases"]}
    assert sorted(failing) == [2, 5]
    assert failing[2]["status"] == "hang" and "no result within 8 s" in failing[2]["failures"][0]
    assert failing[5]["status"] == "crash" and "exited with code -6" in failing[5]["failures"][0]


def test_one_case_in_process():
    done = run_script(["--case", "3", "--seed", "0"], timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("case 3 (seed 0): ")
    assert '"failures": []' in done.stdout


def test_cases_are_reproducible(fuzz):
    first, again = fuzz.make_case(7, 42), fuzz.make_case(7, 42)
    assert first["tags"] == again["tags"]
    assert np.array_equal(first["edges"], again["edges"])
    assert np.array_equal(first["costs"], again["costs"], equal_nan=True)


def test_the_checks_catch_bad_partitions(fuzz):
    # path 0-1-2-3: {0, 2} is not connected; [1, 1, 0, 0] is not numbered by smallest node
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    info = {"num_clusters": 3}
    assert fuzz.partition_problems(np.array([0, 1, 0, 2]), 4, edges, info) == [
        "3 clusters but 4 connected parts: a cluster is disconnected"]
    assert fuzz.partition_problems(np.array([1, 1, 0, 0]), 4, edges, {"num_clusters": 2}) == [
        "labels are not numbered 0..K-1 by smallest node"]
    assert fuzz.partition_problems(np.array([0, 0, 1, 1]), 4, edges, info) == [
        "num_clusters 3 != 2 clusters"]
    assert fuzz.partition_problems(np.array([0, 0, 1, 1], np.int32), 4, edges, info) == [
        "labels are not an int64 array of shape (4,)"]
    assert fuzz.partition_problems(np.array([0, 0, 1, 1]), 4, edges, {"num_clusters": 2}) == []
    # GAEC must never split a connected part of its start
    start = np.array([5, 5, 5, 9])
    assert fuzz.partition_problems(np.array([0, 0, 1, 2]), 4, edges, info, start, "gaec") == [
        "gaec split a connected part of its start"]


def test_the_expectations_are_computed_exactly(fuzz):
    limit = fuzz.MAX_ABS_COST_SUM
    assert fuzz.expected_refusal(np.array([1.0, -2.0])) is None
    assert fuzz.expected_refusal(np.array([1.0, np.nan])) == "non-finite cost (in float64)"
    assert fuzz.expected_refusal(np.array([limit, limit * 0.5])) == "sum of |costs| above the limit"
    assert fuzz.expected_refusal(np.array([1e308, 1e308])) == "sum of |costs| beyond float64"
    assert fuzz.expected_refusal(np.array([limit * 0.5, -limit * 0.5])) == "boundary"
    assert fuzz.expected_refusal(np.array([limit * 0.25, -limit * 0.5])) is None
    # brute force: triangle +5 (0,1), +5 (1,2), -20 (0,2): the best cuts 0-1 or 1-2
    # together with 0-2: 5 - 20 = -15
    triangle = np.array([[0, 1], [1, 2], [0, 2]])
    assert fuzz.brute_force_optimum(3, triangle, np.array([5.0, 5.0, -20.0]), 0.0) == -15.0
    assert len(fuzz.set_partitions(9)) == 21147
