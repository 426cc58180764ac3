#!/usr/bin/env python
"""Fuzz the multicut API (ssap_gluon.partition.multicut) with random graphs.

Every case is a random graph (0-2000 nodes; random, complete, grid, path, star
or few-pairs-many-times edge sets with duplicates in both orientations and
self-loops) with degenerate costs (zeros, ties, huge and tiny magnitudes,
subnormals, magnitudes spanning 1e-300..1e300, sums of |cost| just below and
just beyond the accepted limit, NaN/inf), handed over in any integer or float
dtype and memory layout (Fortran order, non-contiguous, negative strides,
read-only, Python lists), solved by all three solvers from the cold start and
from a random warm start, with random valid KL parameters; a share of the
cases is made invalid on purpose (bad endpoints, shapes, dtypes, keyword
arguments). Each case runs in a worker process under a time limit, so a hang
or a crash is reported and the fuzz goes on.

For every call the result must be either

* a GraphInputError, and only when the input is invalid (the generator knows
  the answer: non-finite or float64-overflowing costs, sum of |cost| above
  MAX_ABS_COST_SUM, bad arguments), or
* labels forming a valid partition: int64, numbered 0..K-1 by smallest node,
  every cluster connected, K == info["num_clusters"], the reported energy
  equal to multicut_energy(labels) and to the correctly rounded energy
  (math.fsum) up to the rounding bound of a sum of E terms, GAEC's clusters
  with no positive cut weight between two of them, and a start's clusters
  never split by GAEC.

Across calls: "gaec+kl" is never worse than "gaec" and KL never worse than
its warm start (compared exactly: correctly rounded energies, and rounding is
monotone); on graphs of <= 9 nodes no energy is below the brute-force optimum
(all Bell(9) = 21147 set partitions); the same call twice gives the same
labels; KL's safety net (kl_rolled_back) never triggers.

    python scripts/fuzz_multicut.py [--count 10000] [--seed 0] [--timeout 60]
                                    [--workers 2] [--json PATH] [--smoke]
    python scripts/fuzz_multicut.py --case INDEX [--seed S]   # one case, in-process, verbose

Exit status 1 if any case crashed, hung or gave an invalid result.
"""
import os

# one BLAS thread per worker (the brute force multiplies small matrices)
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import multiprocessing.connection  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.csgraph import connected_components  # noqa: E402

from ssap_gluon.partition import (GraphInputError, contract_graph, multicut,  # noqa: E402
                                  multicut_energy)
from ssap_gluon.partition.checks import MAX_ABS_COST_SUM  # noqa: E402

SOLVERS = ("gaec", "gaec+kl", "kl")
SMOKE_COUNT = 200
UNIT = 2.0 ** -53                    # unit roundoff of float64
TINIEST = 2.0 ** -1074               # smallest subnormal
BRUTE_FORCE_MAX_NODES = 9
START_MUTATIONS = ("start shape", "float start", "start beyond int64")

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.longdouble]

# Keyword arguments that must be refused (a few per keyword).
BAD_KEYWORDS = [
    ("kl_epsilon", "1e-6"), ("kl_epsilon", None), ("kl_epsilon", -1.0), ("kl_epsilon", math.nan),
    ("kl_epsilon", math.inf), ("kl_outer_iterations", 2 ** 70), ("kl_outer_iterations", -1),
    ("kl_outer_iterations", 1.5), ("kl_outer_iterations", None), ("kl_depth_fraction", 0.0),
    ("kl_depth_fraction", 2.0), ("kl_depth_fraction", "1"), ("kl_unimproved_slack", -1),
    ("kl_unimproved_slack", 2 ** 64), ("kl_unimproved_slack", 3.0), ("solver", "ilp"),
    ("solver", None), ("return_info", "yes"),
]


# ---------------------------------------------------------------------------
# case generation (deterministic in (seed, index))
# ---------------------------------------------------------------------------

def _edge_structure(rng, n):
    """(kind, (E, 2) int64 edges) on n nodes, before duplicates and loops."""
    kinds = ["random", "random", "grid", "path", "star", "few pairs"]
    if n <= 60:
        kinds += ["complete", "complete"]
    kind = kinds[rng.integers(len(kinds))] if n >= 2 else "empty"
    if kind == "empty" or n < 2:
        return "empty", np.zeros((0, 2), np.int64)
    if kind == "random":
        edges = rng.integers(0, n, (int(rng.integers(0, 4 * n + 1)), 2))
    elif kind == "complete":
        pairs = np.array(list(itertools.combinations(range(n), 2)))
        edges = pairs[rng.random(len(pairs)) < rng.uniform(0.3, 1.0)]
    elif kind == "grid":
        width = max(1, int(rng.integers(1, int(math.sqrt(n)) + 2)))
        ids = np.arange(n)
        right = ids[(ids % width != width - 1) & (ids + 1 < n)]
        down = ids[ids + width < n]
        edges = np.concatenate([np.stack([right, right + 1], 1), np.stack([down, down + width], 1)])
        if rng.random() < 0.5:                    # diagonals too
            diag = ids[(ids % width != width - 1) & (ids + width + 1 < n)]
            edges = np.concatenate([edges, np.stack([diag, diag + width + 1], 1)])
    elif kind == "path":
        edges = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
    elif kind == "star":
        edges = np.stack([np.zeros(n - 1, np.int64), np.arange(1, n)], 1)
    else:                                         # a few pairs, many times
        pairs = rng.integers(0, n, (int(rng.integers(1, 6)), 2))
        edges = pairs[rng.integers(0, len(pairs), int(rng.integers(1, 40)))]
    return kind, np.asarray(edges, np.int64).reshape(-1, 2)


def _costs(rng, m):
    """(kind, float64 costs) of one of the degenerate families."""
    kind = ["normal", "normal", "ties", "zeros", "tiny", "huge", "span", "1e18 and small",
            "near limit", "just beyond limit", "non-finite", "one huge"][rng.integers(12)]
    sign = rng.choice([-1.0, 1.0], m)
    if kind == "normal":
        costs = rng.normal(rng.uniform(-1, 1), rng.uniform(0.1, 3), m)
    elif kind == "ties":
        costs = rng.integers(-3, 4, m).astype(np.float64)
    elif kind == "zeros":
        costs = np.zeros(m)
    elif kind == "tiny":                          # down into the subnormals
        costs = sign * 10.0 ** rng.uniform(-323, -290, m)
    elif kind == "huge":
        costs = sign * 10.0 ** rng.uniform(100, 300, m)
    elif kind == "span":
        costs = sign * 10.0 ** rng.uniform(-300, 300, m)
    elif kind == "1e18 and small":
        costs = sign * np.where(rng.random(m) < 0.5, 1e18, rng.integers(1, 200, m).astype(float))
    elif kind in ("near limit", "just beyond limit"):
        costs = rng.normal(0.0, 1.0, m) if rng.random() < 0.5 else sign * 10.0 ** rng.uniform(0, 30, m)
        if m and np.abs(costs).sum() > 0:
            target = MAX_ABS_COST_SUM * (1 - 2.0 ** -30 if kind == "near limit" else 1 + 2.0 ** -30)
            costs = costs / math.fsum(np.abs(costs)) * target
    elif kind == "non-finite":
        costs = rng.normal(0.0, 1.0, m)
        if m:
            costs[rng.integers(m)] = [math.nan, math.inf, -math.inf][rng.integers(3)]
    else:                                         # one cost near the limit, the rest small
        costs = rng.normal(0.0, 1.0, m)
        if m:
            costs[rng.integers(m)] = rng.choice([-1, 1]) * MAX_ABS_COST_SUM * rng.uniform(0.5, 0.99)
    return kind, np.asarray(costs, np.float64)


def _layout(rng, array):
    """The same values in another memory layout: (name, array)."""
    kind = ["C", "C", "Fortran", "strided", "reversed", "read-only", "list"][rng.integers(7)]
    if kind == "Fortran" and array.ndim == 2:
        out = np.asfortranarray(array)
    elif kind == "strided":                       # a view every other element
        big = np.zeros((array.shape[0] * 2,) + array.shape[1:], array.dtype)
        big[::2] = array
        out = big[::2]
    elif kind == "reversed":                      # negative strides (on every axis)
        flip = (slice(None, None, -1),) * array.ndim
        out = array[flip].copy()[flip]
    elif kind == "read-only":
        out = array.copy()
        out.setflags(write=False)
    elif kind == "list" and array.dtype.kind in "iuf" and array.dtype.itemsize <= 8 \
            and array.dtype != np.float16:
        out = array.tolist()
    else:
        kind, out = "C", np.ascontiguousarray(array)
    return kind, out


def _int_dtype_for(rng, low, high):
    """A random integer dtype holding every value in [low, high]."""
    fitting = [d for d in INT_DTYPES if np.iinfo(d).min <= low and high <= np.iinfo(d).max]
    return fitting[rng.integers(len(fitting))]


def _cost_dtype(rng, costs, cost_kind):
    """The costs in a random dtype, and the float64 values the solver will see."""
    choices = list(FLOAT_DTYPES) + ([np.float64] * 4)
    if cost_kind in ("normal", "ties", "zeros"):
        choices += INT_DTYPES
    dtype = choices[rng.integers(len(choices))]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        scale = 1.0 if cost_kind in ("ties", "zeros") else float(rng.choice([1, 10, 1000]))
        values = np.nan_to_num(np.round(costs * scale))
        values = np.clip(values, max(info.min, -2.0 ** 52), min(info.max, 2.0 ** 52))
        typed = values.astype(dtype)
    else:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            typed = costs.astype(dtype)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        seen = typed.astype(np.float64)
    return np.dtype(dtype).name, typed, seen


def _kl_keywords(rng):
    if rng.random() < 0.6:
        return {}
    keywords = {}
    if rng.random() < 0.5:
        keywords["kl_outer_iterations"] = int(rng.choice([0, 1, 2, 3, 100, 2 ** 63 - 1]))
    if rng.random() < 0.5:
        keywords["kl_epsilon"] = [0.0, 1e-6, 1e-3, 1.0, 1e300][rng.integers(5)]
    if rng.random() < 0.4:
        keywords["kl_depth_fraction"] = [1.0, 0.5, 0.1, 1e-300][rng.integers(4)]
    if rng.random() < 0.4:
        keywords["kl_unimproved_slack"] = [None, 0, 1, 1000, 2 ** 63 - 1][rng.integers(5)]
    return keywords


def expected_refusal(costs_seen):
    """Why a graph with these float64 costs must be refused (None: it must be
    solved; "boundary": either is fine). Computed independently of the
    checks, with a correctly rounded sum."""
    if not np.all(np.isfinite(costs_seen)):
        return "non-finite cost (in float64)"
    try:
        total = math.fsum(np.abs(costs_seen).tolist())
    except OverflowError:
        return "sum of |costs| beyond float64"
    if total > MAX_ABS_COST_SUM * (1 + 2.0 ** -40):
        return "sum of |costs| above the limit"
    if total > MAX_ABS_COST_SUM * (1 - 2.0 ** -40):
        return "boundary"
    return None


def make_case(seed, index):
    """Everything about case `index`: the arguments as handed to the API, the
    float64 / int64 values the solver sees, the calls, and the expectation."""
    rng = np.random.default_rng([seed, index])
    band = rng.random()
    if band < 0.4:
        n = int(rng.integers(0, BRUTE_FORCE_MAX_NODES + 1))
    elif band < 0.75:
        n = int(rng.integers(10, 101))
    elif band < 0.95:
        n = int(rng.integers(101, 601))
    else:
        n = int(rng.integers(601, 2001))
    edge_kind, edges = _edge_structure(rng, n)
    tags = ["edges: " + edge_kind]
    if len(edges) and rng.random() < 0.4:         # duplicates in both orientations
        repeat = edges[rng.integers(0, len(edges), int(rng.integers(1, len(edges) + 1)))]
        flip = rng.random(len(repeat)) < 0.5
        repeat[flip] = repeat[flip][:, ::-1]
        edges = np.concatenate([edges, repeat])
        tags.append("duplicates")
    if n and rng.random() < 0.3:                  # self-loops
        loops = rng.integers(0, n, int(rng.integers(1, 5)))
        edges = np.concatenate([edges, np.stack([loops, loops], 1)])
        tags.append("self-loops")
    if len(edges):
        edges = edges[rng.permutation(len(edges))]
    m = len(edges)
    cost_kind, costs = _costs(rng, m)
    tags.append("costs: " + cost_kind)
    cost_dtype, costs_typed, costs_seen = _cost_dtype(rng, costs, cost_kind)
    edge_dtype = _int_dtype_for(rng, 0, max(n - 1, 0))
    edge_layout, edges_given = _layout(rng, edges.astype(edge_dtype))
    cost_layout, costs_given = _layout(rng, costs_typed)
    tags += ["edges %s %s" % (np.dtype(edge_dtype).name, edge_layout),
             "costs %s %s" % (cost_dtype, cost_layout)]
    num_nodes = n if rng.random() < 0.8 else _int_dtype_for(rng, 0, n)(n)

    start = None
    start_given = None
    if n and rng.random() < 0.7:                  # a warm start
        k = int(rng.integers(1, n + 1))
        start = rng.integers(0, k, n)
        if rng.random() < 0.3:                    # large or negative label values
            start = start * int(rng.integers(1, 1000)) - int(rng.integers(0, 100))
        start_dtype = _int_dtype_for(rng, int(start.min()), int(start.max()))
        _, start_given = _layout(rng, start.astype(start_dtype))
        tags.append("warm start %s" % np.dtype(start_dtype).name)

    keywords = _kl_keywords(rng)
    refusal = expected_refusal(costs_seen)

    # make a share of the cases invalid on purpose
    mutation = None
    if rng.random() < 0.1:
        options = ["keyword", "num_nodes"]
        if m:
            options += ["endpoint", "edge shape", "cost length", "float edges", "bool costs"]
        if start is not None:
            options += ["start shape", "float start"]
        if start is not None and n:
            options += ["start beyond int64"]
        mutation = options[rng.integers(len(options))]
        edges_given = np.array(edges_given) if mutation in ("endpoint", "edge shape",
                                                             "float edges") else edges_given
        if mutation == "keyword":
            name, value = BAD_KEYWORDS[rng.integers(len(BAD_KEYWORDS))]
            keywords = dict(keywords, **{name: value})
            mutation = "keyword %s=%r" % (name, value)
        elif mutation == "num_nodes":
            num_nodes = [-1, float(n), True, "3", None][rng.integers(5)]
            mutation = "num_nodes=%r" % (num_nodes,)
        elif mutation == "endpoint":
            bad = np.array(edges_given, np.int64)
            bad[rng.integers(m), rng.integers(2)] = [n, -1, n + 10 ** 6][rng.integers(3)]
            edges_given = bad
        elif mutation == "edge shape":
            edges_given = np.concatenate([np.asarray(edges_given), np.zeros((m, 1), np.int64)], 1)
        elif mutation == "cost length":
            costs_given = np.asarray(costs_given)[:-1]
        elif mutation == "float edges":
            edges_given = np.asarray(edges_given, np.float64)
        elif mutation == "bool costs":
            costs_given = np.asarray(costs_given) > 0
        elif mutation == "start shape":
            start_given = np.concatenate([np.asarray(start_given), [0]])
        elif mutation == "float start":
            start_given = np.asarray(start_given, np.float64)
        elif mutation == "start beyond int64":
            start_given = np.asarray(start, np.uint64)
            start_given[rng.integers(n)] = np.uint64(2 ** 64 - 1)
        tags.append("invalid: " + mutation)
    return {
        "index": index, "num_nodes": num_nodes, "n": n, "m": m, "tags": tags,
        "edges_given": edges_given, "costs_given": costs_given, "start_given": start_given,
        "edges": edges, "costs": costs_seen, "start": start, "keywords": keywords,
        "invalid": mutation, "refusal": refusal,
    }


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------

_PARTITIONS = {}


def set_partitions(n):
    """All set partitions of n nodes as restricted growth strings (Bell(n), n)."""
    if n not in _PARTITIONS:
        rows = np.zeros((1, n), np.int8)
        for i in range(1, n):
            counts = rows[:, :i].max(axis=1) + 2
            rows = np.repeat(rows, counts, axis=0)
            rows[:, i] = np.concatenate([np.arange(c) for c in counts])
        _PARTITIONS[n] = rows
    return _PARTITIONS[n]


def exact_energy(edges, costs, labels):
    """The energy, correctly rounded (math.fsum); rounding is monotone, so a <=
    between exact energies survives it."""
    cut = labels[edges[:, 0]] != labels[edges[:, 1]]
    return math.fsum(costs[cut].tolist())


def brute_force_optimum(n, edges, costs, tolerance):
    """The optimal energy over all set partitions, correctly rounded: every
    partition within 2 * tolerance of the best float product is re-summed exactly."""
    partitions = set_partitions(n)
    if len(edges) == 0:
        return 0.0
    cut = (partitions[:, edges[:, 0]] != partitions[:, edges[:, 1]]).astype(np.float64)
    energies = cut @ costs
    candidates = np.flatnonzero(energies <= energies.min() + 2 * tolerance)
    return min(exact_energy(edges, costs, partitions[p].astype(np.int64)) for p in candidates)


def partition_problems(labels, n, edges, info, start=None, solver=None):
    """What is wrong with a returned partition (empty: nothing)."""
    problems = []
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64 or labels.shape != (n,):
        return ["labels are not an int64 array of shape (%d,)" % n]
    if n == 0:
        return [] if info["num_clusters"] == 0 else ["num_clusters != 0 for an empty graph"]
    k = int(labels.max()) + 1
    _, first = np.unique(labels, return_index=True)
    if labels.min() < 0 or len(first) != k or not np.array_equal(labels[np.sort(first)],
                                                                 np.arange(k)):
        problems.append("labels are not numbered 0..K-1 by smallest node")
    if info["num_clusters"] != k:
        problems.append("num_clusters %d != %d clusters" % (info["num_clusters"], k))
    inside = labels[edges[:, 0]] == labels[edges[:, 1]]
    graph = sp.coo_matrix((np.ones(int(inside.sum())), (edges[inside, 0], edges[inside, 1])),
                          shape=(n, n))
    parts = connected_components(graph, directed=False)[0]
    if parts != k:
        problems.append("%d clusters but %d connected parts: a cluster is disconnected"
                        % (k, parts))
    if start is not None and solver == "gaec":
        same = start[edges[:, 0]] == start[edges[:, 1]]
        if np.any(labels[edges[same, 0]] != labels[edges[same, 1]]):
            problems.append("gaec split a connected part of its start")
    return problems


def run_case(case, inject=None):
    """Run every call of a case and check it. Returns a JSON-able record."""
    if inject == "hang":
        while True:
            time.sleep(1)
    if inject == "crash":
        os.abort()
    started = time.perf_counter()
    n, edges, costs, start = case["n"], case["edges"], case["costs"], case["start"]
    keywords = case["keywords"]
    refusal = case["refusal"] if case["refusal"] not in (None, "boundary") else None
    # a broken warm start only makes the warm calls invalid
    start_broken = case["invalid"] in START_MUTATIONS
    record = {"index": case["index"], "n": n, "m": case["m"], "tags": case["tags"],
              "calls": 0, "valid": 0, "refused": 0, "failures": [], "below_optimum": 0,
              "brute_force": False, "optimal": None, "rollbacks": 0}

    def fail(what):
        record["failures"].append(what)

    starts = [None] + ([case["start_given"]] if case["start_given"] is not None else [])
    results = {}
    for start_given in starts:
        for solver in SOLVERS:
            call = dict(keywords)
            call.setdefault("solver", solver)
            call.setdefault("return_info", True)
            if start_given is not None:
                call["initial_labels"] = start_given
            name = "%s%s" % (solver, " warm" if start_given is not None else "")
            must_refuse = refusal or (case["invalid"] if not start_broken or start_given is not None
                                      else None)
            record["calls"] += 1
            try:
                out = multicut(case["num_nodes"], case["edges_given"], case["costs_given"], **call)
            except GraphInputError as error:
                if must_refuse or case["refusal"] == "boundary":
                    if str(error).strip():
                        record["refused"] += 1
                    else:
                        fail("%s: GraphInputError without a message" % name)
                else:
                    fail("%s: valid input refused: %s" % (name, error))
                continue
            except Exception as error:                  # noqa: BLE001 - any other error is a finding
                fail("%s: %s instead of GraphInputError: %s" % (name, type(error).__name__, error))
                continue
            if must_refuse:
                fail("%s: invalid input (%s) was accepted" % (name, must_refuse))
                continue
            labels, info = out
            problems = partition_problems(labels, n, edges, info,
                                          None if start_given is None else start, solver)
            if problems:
                fail("%s: %s" % (name, "; ".join(problems)))
                continue
            results[name] = labels, info
            record["valid"] += 1
    if not results:
        record["seconds"] = time.perf_counter() - started
        return record

    # energies: reported vs multicut_energy vs correctly rounded
    total = math.fsum(np.abs(costs).tolist())
    tolerance = 2 * max(len(edges), 1) * UNIT * total + len(edges) * TINIEST
    exact = {}
    for name, (labels, info) in results.items():
        exact[name] = exact_energy(edges, costs, labels)
        api = multicut_energy(edges, costs, labels)
        for what, value in (("reported energy", info["energy"]), ("multicut_energy", api)):
            if not abs(value - exact[name]) <= tolerance:
                fail("%s: %s %r differs from the exact energy %r by more than %g"
                     % (name, what, value, exact[name], tolerance))
        if info["kl_rolled_back"]:
            record["rollbacks"] += 1
            fail("%s: KL's result was rolled back" % name)
        if info["energy"] > info["start_energy"] + tolerance:
            fail("%s: energy %r above the start's %r" % (name, info["energy"],
                                                          info["start_energy"]))
        if name.startswith("gaec ") or name == "gaec":    # GAEC's stopping rule
            if labels.size:
                _, between = contract_graph(edges, costs, labels)
                if np.any(between > tolerance):
                    fail("%s: two adjacent clusters with a positive cut weight %r remain"
                         % (name, float(between.max())))
    for suffix in ("", " warm"):
        if "gaec" + suffix in exact and "gaec+kl" + suffix in exact:
            if exact["gaec+kl" + suffix] > exact["gaec" + suffix]:
                fail("gaec+kl%s is worse than gaec%s: %r > %r"
                     % (suffix, suffix, exact["gaec+kl" + suffix], exact["gaec" + suffix]))
    if start is not None and "kl warm" in exact:
        start_energy = exact_energy(edges, costs, start)
        if exact["kl warm"] > start_energy:
            fail("kl warm is worse than its start: %r > %r" % (exact["kl warm"], start_energy))
    if n <= BRUTE_FORCE_MAX_NODES:
        record["brute_force"] = True
        optimum = brute_force_optimum(n, edges, costs, tolerance)
        for name, (labels, info) in results.items():
            if exact[name] < optimum or info["energy"] < optimum - tolerance:
                record["below_optimum"] += 1
                fail("%s: energy %r (reported %r) below the brute-force optimum %r"
                     % (name, exact[name], info["energy"], optimum))
        if "gaec+kl" in exact:
            record["optimal"] = exact["gaec+kl"] == optimum
    # determinism: the first successful call again
    name, (labels, _) = next(iter(results.items()))
    call = dict(keywords, solver=name.split()[0], return_info=True)
    if name.endswith("warm"):
        call["initial_labels"] = case["start_given"]
    again, _ = multicut(case["num_nodes"], case["edges_given"], case["costs_given"], **call)
    if not np.array_equal(again, labels):
        fail("%s: a second identical call returned other labels" % name)
    record["seconds"] = time.perf_counter() - started
    return record


# ---------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------

def _worker_main(connection, seed, injections):
    while True:
        try:
            index = connection.recv()
        except EOFError:
            return
        if index is None:
            return
        try:
            record = run_case(make_case(seed, index), injections.get(index))
        except Exception:                                  # noqa: BLE001 - a fuzz-harness bug
            record = {"index": index, "failures": ["harness error: " + traceback.format_exc()],
                      "tags": [], "n": None, "m": None, "calls": 0, "valid": 0, "refused": 0,
                      "below_optimum": 0, "brute_force": False, "optimal": None,
                      "rollbacks": 0, "seconds": 0.0}
        connection.send(record)


class Worker:
    def __init__(self, context, seed, injections):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, seed, injections),
                                       daemon=True)
        self.process.start()
        child.close()
        self.index = None
        self.deadline = None
        self.started = None

    def submit(self, index, timeout):
        self.connection.send(index)
        self.index, self.started = index, time.monotonic()
        self.deadline = self.started + timeout

    def stop(self):
        """End this worker's process (started by this script) for good."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


def fuzz(seed, indices, timeout, workers, injections=None, progress=None):
    """Run the cases in worker processes; returns their records (hangs and
    crashes included) in index order."""
    injections = injections or {}
    context = multiprocessing.get_context("fork")
    pool = [Worker(context, seed, injections) for _ in range(max(1, workers))]
    pending = list(indices)[::-1]
    records = []

    def dead_record(index, status, detail, seconds):
        case = make_case(seed, index)
        return {"index": index, "n": case["n"], "m": case["m"], "tags": case["tags"],
                "calls": 0, "valid": 0, "refused": 0, "below_optimum": 0, "brute_force": False,
                "optimal": None, "rollbacks": 0, "seconds": seconds, "status": status,
                "failures": ["%s: %s" % (status, detail)]}

    try:
        for worker in pool:
            if pending:
                worker.submit(pending.pop(), timeout)
        while any(worker.index is not None for worker in pool):
            busy = [worker for worker in pool if worker.index is not None]
            wait = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([worker.connection for worker in busy],
                                                    timeout=wait)
            for position, worker in enumerate(pool):
                if worker.index is None:
                    continue
                record = None
                if worker.connection in ready:
                    try:
                        record = worker.connection.recv()
                        record.setdefault("status", "ok" if not record["failures"] else "invalid")
                    except (EOFError, OSError):
                        worker.process.join()
                        record = dead_record(worker.index, "crash", "worker exited with code %s"
                                             % worker.process.exitcode,
                                             time.monotonic() - worker.started)
                elif time.monotonic() >= worker.deadline:
                    record = dead_record(worker.index, "hang", "no result within %g s" % timeout,
                                         time.monotonic() - worker.started)
                if record is None:
                    continue
                records.append(record)
                if progress:
                    progress(record)
                if record["status"] in ("crash", "hang"):
                    worker.stop()
                    worker = pool[position] = Worker(context, seed, injections)
                else:
                    worker.index = None
                if pending:
                    worker.submit(pending.pop(), timeout)
                else:
                    worker.index = None
    finally:
        for worker in pool:
            try:
                worker.connection.send(None)
            except (OSError, ValueError):
                pass
            worker.stop()
    return sorted(records, key=lambda r: r["index"])


def summarise(records):
    statuses = [r.get("status", "ok") for r in records]
    tiny = [r for r in records if r["optimal"] is not None]
    slowest = max(records, key=lambda r: r["seconds"]) if records else None
    return {
        "graphs tried": len(records),
        "calls": sum(r["calls"] for r in records),
        "valid partitions": sum(r["valid"] for r in records),
        "clear errors (GraphInputError on invalid input)": sum(r["refused"] for r in records),
        "crashes": statuses.count("crash"),
        "hangs": statuses.count("hang"),
        "graphs with an invalid result": statuses.count("invalid"),
        "results below the brute-force optimum": sum(r["below_optimum"] for r in records),
        "graphs checked against brute force (<= 9 nodes)": sum(r["brute_force"] for r in records),
        "gaec+kl optimal on brute-force graphs": ("%d of %d" % (sum(r["optimal"] for r in tiny),
                                                              len(tiny))),
        "KL roll-backs": sum(r["rollbacks"] for r in records),
        "slowest graph": None if slowest is None else {
            "index": slowest["index"], "seconds": round(slowest["seconds"], 3),
            "nodes": slowest["n"], "edges": slowest["m"], "tags": slowest["tags"]},
    }


def print_summary(summary, seconds):
    print("%-50s %s" % ("", "value"))
    for key, value in summary.items():
        if key == "slowest graph" and value:
            value = "#%d: %.3f s (%s nodes, %s edges; %s)" % (
                value["index"], value["seconds"], value["nodes"], value["edges"],
                ", ".join(value["tags"]))
        print("%-50s %s" % (key, value))
    print("%-50s %.1f s" % ("wall time", seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10000, help="number of graphs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated cases")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one graph (all its calls) may take before it counts as a hang")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes")
    parser.add_argument("--json", help="also write the summary and every failing case here")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick run of %d graphs (the test suite's)" % SMOKE_COUNT)
    parser.add_argument("--case", type=int, help="run this one case in-process and print it")
    # for the fuzz's own test: make the worker hang or crash on these cases
    parser.add_argument("--inject-hang", type=int, action="append", default=[],
                        help=argparse.SUPPRESS)
    parser.add_argument("--inject-crash", type=int, action="append", default=[],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count < 0 or args.timeout <= 0 or args.workers < 1:
        raise SystemExit("--count must be >= 0, --timeout > 0 and --workers >= 1")

    if args.case is not None:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)      # `| head` ends it quietly
        case = make_case(args.seed, args.case)
        print("case %d (seed %d): %d nodes, %d edges; %s" % (args.case, args.seed, case["n"],
                                                            case["m"], ", ".join(case["tags"])))
        print("keywords:", case["keywords"], "| expected refusal:", case["invalid"] or case["refusal"])
        record = run_case(case)
        print(json.dumps(record, indent=2, default=str))
        return 1 if record["failures"] else 0

    count = SMOKE_COUNT if args.smoke else args.count
    injections = {i: "hang" for i in args.inject_hang}
    injections.update({i: "crash" for i in args.inject_crash})
    started = time.monotonic()
    failing = []

    def progress(record):
        if record["failures"]:
            failing.append(record)
            print("case %d (%s): %s" % (record["index"], ", ".join(record["tags"]),
                                        record["failures"][0][:300]), file=sys.stderr)

    records = fuzz(args.seed, range(count), args.timeout, args.workers, injections, progress)
    seconds = time.monotonic() - started
    summary = summarise(records)
    command = "python scripts/fuzz_multicut.py " + " ".join(argv if argv is not None
                                                            else sys.argv[1:])
    print("$ " + command.strip())
    print_summary(summary, seconds)
    if args.json:
        from ssap_gluon.utils.io import write_json_atomic
        write_json_atomic(args.json, {
            "command": command.strip(), "seed": args.seed, "count": count,
            "timeout": args.timeout, "workers": args.workers, "seconds": seconds,
            "summary": summary,
            "failing cases": [{k: r[k] for k in ("index", "status", "n", "m", "tags", "failures")}
                              for r in failing],
            "slowest": [{k: r[k] for k in ("index", "seconds", "n", "m", "tags")}
                        for r in sorted(records, key=lambda r: -r["seconds"])[:10]],
        })
        print("wrote %s" % args.json)
    bad = summary["crashes"] + summary["hangs"] + summary["graphs with an invalid result"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
