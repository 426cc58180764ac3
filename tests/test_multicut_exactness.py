"""Exactness on small graphs: the solvers against the brute-force optimum.

For every random graph with at most 9 nodes the optimum is the minimum of the
energy over all set partitions of the nodes (Bell(9) = 21147 of them), found
with one matrix product per graph from a table of all partitions built once.
No solver may ever go below the optimum (that would be a bug in the energy
bookkeeping); ``gaec+kl`` must reach it on the large majority of graphs.
"""
import itertools

import numpy as np
import pytest

from ssap_gluon.partition import multicut, multicut_energy

BELL = [1, 1, 2, 5, 15, 52, 203, 877, 4140, 21147]
NUM_GRAPHS = 3000
TOLERANCE = 1e-9


def set_partitions(n):
    """All partitions of n nodes as restricted growth strings, int8 (Bell(n), n):
    node 0 has label 0 and every next node takes a used label or the next new one."""
    rows = np.zeros((1, max(n, 0)), np.int8)
    for i in range(1, n):
        largest = rows[:, :i].max(axis=1)
        counts = largest + 2                       # labels 0 .. largest + 1
        expanded = np.repeat(rows, counts, axis=0)
        expanded[:, i] = np.concatenate([np.arange(c) for c in counts])
        rows = expanded
    return rows


_CUT_TABLES = {}


def cut_table(n):
    """(partitions, cut) with cut[p, k] = 1.0 if partition p cuts the k-th
    pair of itertools.combinations(range(n), 2)."""
    if n not in _CUT_TABLES:
        partitions = set_partitions(n)
        pairs = list(itertools.combinations(range(n), 2))
        cut = np.zeros((len(partitions), len(pairs)))
        for k, (u, v) in enumerate(pairs):
            cut[:, k] = partitions[:, u] != partitions[:, v]
        _CUT_TABLES[n] = (partitions, cut, {p: k for k, p in enumerate(pairs)})
    return _CUT_TABLES[n]


def brute_force_optimum(n, edges, costs):
    partitions, cut, column = cut_table(n)
    if len(edges) == 0:
        return 0.0, partitions[0]
    columns = [column[(min(u, v), max(u, v))] for u, v in edges]
    energies = cut[:, columns] @ costs
    best = int(np.argmin(energies))
    return float(energies[best]), partitions[best]


def random_small_graph(rng, trial):
    n = int(rng.integers(2, 10))
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    edges = pairs[rng.random(len(pairs)) < rng.uniform(0.3, 1.0)]
    kind = trial % 3
    if kind == 0:
        costs = rng.normal(0.0, 1.0, len(edges))          # generic: no ties
    elif kind == 1:
        costs = rng.integers(-3, 4, len(edges)).astype(float)   # many ties and zeros
    else:
        costs = rng.normal(0.5, 1.0, len(edges))          # mostly attractive
    return n, edges, costs


def test_set_partitions_are_all_partitions_once():
    for n, bell in enumerate(BELL):
        partitions = set_partitions(n)
        assert len(partitions) == bell
        # canonical form: distinct rows, labels in order of first appearance
        assert len({p.tobytes() for p in partitions}) == bell
        for p in partitions[:: max(1, bell // 50)]:
            _, first = np.unique(p, return_index=True)
            assert np.array_equal(p[np.sort(first)], np.arange(len(first)))


def test_brute_force_against_itertools_on_a_tiny_graph():
    edges = np.array([[0, 1], [1, 2], [0, 2], [2, 3]])
    costs = np.array([3.0, -1.0, -2.0, 0.5])
    best, partition = brute_force_optimum(4, edges, costs)
    energies = [multicut_energy(edges, costs, np.array(p))
                for p in itertools.product(range(4), repeat=4)]
    assert best == min(energies)
    assert multicut_energy(edges, costs, partition) == best


@pytest.fixture(scope="module")
def exactness():
    rng = np.random.default_rng(20190927)
    reached = {"gaec": [], "gaec+kl": [], "kl": []}
    for trial in range(NUM_GRAPHS):
        n, edges, costs = random_small_graph(rng, trial)
        optimum, _ = brute_force_optimum(n, edges, costs)
        for solver in reached:
            labels = multicut(n, edges, costs, solver=solver)
            energy = multicut_energy(edges, costs, labels)
            assert energy >= optimum - TOLERANCE, (
                "%s went below the optimum %.6f with %.6f on n=%d edges=%s costs=%s"
                % (solver, optimum, energy, n, edges.tolist(), costs.tolist()))
            reached[solver].append(energy <= optimum + TOLERANCE)
    return {solver: float(np.mean(hits)) for solver, hits in reached.items()}


def test_gaec_kl_reaches_the_optimum_on_the_large_majority(exactness):
    print("\nshare of %d random graphs (n <= 9) solved optimally: %s"
          % (NUM_GRAPHS, ", ".join("%s %.4f" % kv for kv in exactness.items())))
    assert exactness["gaec+kl"] >= 0.95
    assert exactness["gaec+kl"] >= exactness["gaec"]
    assert exactness["kl"] >= 0.9
