"""Invariants of the multicut solvers on random graphs of up to a few thousand
nodes (hypothesis), and cross-checks against bioimage-cpp's solvers.

* every output is a partition into connected clusters, numbered 0..K-1 by
  their smallest node;
* GAEC stops only when no two adjacent clusters have a positive cut weight;
* energy(gaec+kl) <= energy(gaec), and KL never raises a warm start's energy;
* after KL no single-node move (to an adjacent cluster or to a cluster of its
  own) and no join of two adjacent clusters lowers the energy by more than
  epsilon.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from ssap_gluon.partition import multicut, multicut_energy
from ssap_gluon.partition.synthetic import grid_edges, pixel_multicut_problem

EPSILON = 1e-6
OUTER = 100000          # high enough that KL always stops by converging


@st.composite
def graphs(draw):
    """(num_nodes, edges, costs) from a few families, built from a drawn seed."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["pixels", "grid", "random", "multigraph"]))
    if kind == "pixels":      # the benchmark's family: instance layout + noisy logits
        height, width = draw(st.integers(4, 48)), draw(st.integers(4, 64))
        noise = draw(st.sampled_from([0.15, 0.3, 0.45]))
        num_nodes, edges, costs, _ = pixel_multicut_problem(height, width, seed=seed, noise=noise)
    elif kind == "grid":      # grid with Gaussian or integer (tied) costs
        height, width = draw(st.integers(2, 40)), draw(st.integers(2, 70))
        num_nodes = height * width
        edges = grid_edges(height, width, draw(st.sampled_from([3, 5])))
        if draw(st.booleans()):
            costs = rng.normal(draw(st.floats(-1, 1)), 1.0, len(edges))
        else:
            costs = rng.integers(-3, 4, len(edges)).astype(float)
    else:                     # sparse random graphs; "multigraph" repeats edges, adds loops
        num_nodes = draw(st.integers(1, 3000))
        num_edges = draw(st.integers(0, 4 * num_nodes))
        edges = rng.integers(0, num_nodes, (num_edges, 2))
        if kind == "random":
            edges = edges[edges[:, 0] != edges[:, 1]]
        else:
            edges = np.concatenate([edges, edges[: num_edges // 3, ::-1]])
        costs = rng.normal(draw(st.floats(-1, 1)), 2.0, len(edges))
    return int(num_nodes), np.asarray(edges, np.int64), np.asarray(costs, np.float64)


def cluster_sums(num_nodes, edges, costs, labels):
    """S[v, k]: summed cost from node v to cluster k (self-loops left out) and
    W[k, l]: summed cost between clusters k and l (both sparse)."""
    keep = edges[:, 0] != edges[:, 1]
    u, v, c = edges[keep, 0], edges[keep, 1], costs[keep]
    num_clusters = int(labels.max()) + 1 if num_nodes else 0
    node_cluster = sp.coo_matrix(
        (np.concatenate([c, c]), (np.concatenate([u, v]), labels[np.concatenate([v, u])])),
        shape=(num_nodes, num_clusters)).tocsr()
    onehot = sp.coo_matrix((np.ones(num_nodes), (np.arange(num_nodes), labels)),
                           shape=(num_nodes, num_clusters)).tocsr()
    between = (onehot.T @ node_cluster).tocoo()
    return node_cluster, between


def assert_partition_into_connected_clusters(num_nodes, edges, labels):
    assert labels.dtype == np.int64 and labels.shape == (num_nodes,)
    if num_nodes == 0:
        return
    _, first = np.unique(labels, return_index=True)
    assert np.array_equal(labels[np.sort(first)], np.arange(len(first))), \
        "labels are not 0..K-1 in order of the clusters' smallest nodes"
    inside = labels[edges[:, 0]] == labels[edges[:, 1]]
    graph = sp.coo_matrix((np.ones(inside.sum()), (edges[inside, 0], edges[inside, 1])),
                          shape=(num_nodes, num_nodes))
    num_components, _ = connected_components(graph, directed=False)
    assert num_components == len(first), "a cluster is not connected"


def assert_kl_local_optimum(num_nodes, edges, costs, labels):
    if num_nodes == 0:
        return
    node_cluster, between = cluster_sums(num_nodes, edges, costs, labels)
    scale = 1e-9 * max(1.0, float(np.abs(costs).sum()))
    own = np.asarray(node_cluster[np.arange(num_nodes), labels]).ravel()
    # a node on its own: gain -own; to an adjacent cluster k: S[v, k] - own
    assert np.all(-own <= EPSILON + scale), "moving a node to a new cluster lowers the energy"
    coo = node_cluster.tocoo()
    other = coo.col != labels[coo.row]
    gains = coo.data[other] - own[coo.row[other]]
    assert gains.size == 0 or gains.max() <= EPSILON + scale, \
        "moving a node to a neighbouring cluster lowers the energy by %g" % gains.max()
    joins = between.data[between.row != between.col]
    assert joins.size == 0 or joins.max() <= EPSILON + scale, \
        "joining two adjacent clusters lowers the energy by %g" % joins.max()


SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(graphs(), st.one_of(st.none(), st.integers(1, 50)))
def test_gaec_gives_connected_clusters_with_no_attractive_pair_left(graph, num_labels):
    num_nodes, edges, costs = graph
    start = None
    if num_labels is not None:      # warm start from random (disconnected) labels
        start = np.random.default_rng(num_labels).integers(0, num_labels, num_nodes)
    labels = multicut(num_nodes, edges, costs, solver="gaec", initial_labels=start)
    assert_partition_into_connected_clusters(num_nodes, edges, labels)
    if num_nodes:
        _, between = cluster_sums(num_nodes, edges, costs, labels)
        joins = between.data[between.row != between.col]
        assert joins.size == 0 or joins.max() <= 1e-9 * max(1.0, np.abs(costs).sum())
    if start is not None:
        assert multicut_energy(edges, costs, labels) <= multicut_energy(edges, costs, start) + 1e-9
        inside = start[edges[:, 0]] == start[edges[:, 1]]    # start clusters are never split
        assert np.all(labels[edges[inside, 0]] == labels[edges[inside, 1]])


@SETTINGS
@given(graphs())
def test_gaec_kl_is_a_local_optimum_no_worse_than_gaec(graph):
    num_nodes, edges, costs = graph
    gaec = multicut(num_nodes, edges, costs, solver="gaec")
    labels, info = multicut(num_nodes, edges, costs, solver="gaec+kl",
                            kl_outer_iterations=OUTER, return_info=True)
    assert info["kl_outer_iterations"] < OUTER and not info["kl_rolled_back"]
    assert_partition_into_connected_clusters(num_nodes, edges, labels)
    assert multicut_energy(edges, costs, labels) <= multicut_energy(edges, costs, gaec) + 1e-9
    assert info["gaec_energy"] == pytest.approx(multicut_energy(edges, costs, gaec), abs=1e-6)
    assert_kl_local_optimum(num_nodes, edges, costs, labels)


@SETTINGS
@given(graphs(), st.integers(1, 50), st.sampled_from([1.0, 0.1]), st.sampled_from([None, 0, 1000]))
def test_kl_from_a_warm_start_never_raises_its_energy(graph, num_labels, depth, slack):
    num_nodes, edges, costs = graph
    start = np.random.default_rng(num_labels).integers(0, num_labels, num_nodes)
    labels, info = multicut(num_nodes, edges, costs, solver="kl", initial_labels=start,
                            kl_outer_iterations=OUTER, kl_depth_fraction=depth,
                            kl_unimproved_slack=slack, return_info=True)
    assert not info["kl_rolled_back"]
    assert_partition_into_connected_clusters(num_nodes, edges, labels)
    assert multicut_energy(edges, costs, labels) <= multicut_energy(edges, costs, start) + 1e-9
    assert_kl_local_optimum(num_nodes, edges, costs, labels)


# ---------------------------------------------------------------------------
# bioimage-cpp (optional): same objective; the same GAEC partition when no
# two summed costs tie
# ---------------------------------------------------------------------------

def _bioimage():
    pytest.importorskip("bioimage_cpp")
    from bioimage_cpp.graph import UndirectedGraph
    from bioimage_cpp.graph import multicut as bmc
    return UndirectedGraph, bmc


def _unique_sorted(edges, costs):
    low, high = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
    keep = low != high
    key, index = np.unique(np.stack([low[keep], high[keep]], 1), axis=0, return_index=True)
    return key, costs[keep][index]


@pytest.mark.parametrize("seed", range(6))
def test_energy_matches_bioimage_cpp(seed):
    UndirectedGraph, bmc = _bioimage()
    rng = np.random.default_rng(seed)
    edges, costs = _unique_sorted(rng.integers(0, 300, (1500, 2)), rng.normal(size=1500))
    graph = UndirectedGraph.from_unique_edges(300, edges.astype(np.uint64))
    labels = rng.integers(0, 20, 300)
    objective = bmc.MulticutObjective(graph, costs, initial_labels=labels.astype(np.uint64))
    assert multicut_energy(edges, costs, labels) == pytest.approx(objective.energy())


@pytest.mark.parametrize("seed", range(6))
def test_gaec_partition_matches_bioimage_cpp_without_ties(seed):
    UndirectedGraph, bmc = _bioimage()
    num_nodes, edges, _, _ = pixel_multicut_problem(30, 40, seed=seed)
    costs = np.random.default_rng(seed).normal(0.3, 1.0, len(edges))   # continuous: no ties
    edges, costs = _unique_sorted(edges, costs)
    graph = UndirectedGraph.from_unique_edges(num_nodes, edges.astype(np.uint64))
    theirs = np.asarray(bmc.GreedyAdditiveMulticut().optimize(bmc.MulticutObjective(graph, costs)))
    ours = multicut(num_nodes, edges, costs, solver="gaec")
    # same partition: the pairs (ours, theirs) are a bijection
    pairs = np.unique(np.stack([ours, theirs], 1), axis=0)
    assert len(pairs) == len(np.unique(ours)) == len(np.unique(theirs))


@pytest.mark.parametrize("noise, seed", [(0.25, 0), (0.45, 1), (0.45, 2)])
def test_invariants_on_a_3000_node_pixel_graph(noise, seed):
    num_nodes, edges, costs, _ = pixel_multicut_problem(50, 60, seed=seed, noise=noise)
    gaec = multicut(num_nodes, edges, costs, solver="gaec")
    for depth, slack in [(1.0, None), (1.0, 1000), (0.1, 0)]:
        labels, info = multicut(num_nodes, edges, costs, kl_outer_iterations=OUTER,
                                kl_depth_fraction=depth, kl_unimproved_slack=slack,
                                return_info=True)
        assert info["kl_outer_iterations"] < OUTER and not info["kl_rolled_back"]
        assert_partition_into_connected_clusters(num_nodes, edges, labels)
        assert multicut_energy(edges, costs, labels) <= multicut_energy(edges, costs, gaec) + 1e-9
        assert_kl_local_optimum(num_nodes, edges, costs, labels)
