# distutils: language = c++
# cython: language_level=3
"""Compiled multicut solvers (GAEC, Kernighan-Lin with joins).

The algorithms live in ``multicut_solvers.hpp``; this module only hands
validated numpy buffers to them and runs them with the GIL released, so
several graphs can be partitioned from Python threads at once. Use the checked
API in :mod:`ssap_gluon.partition` rather than calling this directly.
"""
from libc.stdint cimport int64_t

import numpy as np
cimport numpy as cnp

cnp.import_array()


cdef extern from "multicut_solvers.hpp" namespace "ssap_mc":
    const double kMaxAbsCostSum

    cdef struct SolveStats:
        double start_energy
        double gaec_energy
        double energy
        int64_t kl_outer_iterations
        int64_t kl_rolled_back
        int64_t num_clusters

    void c_solve "ssap_mc::solve"(
        int64_t n, int64_t m, const int64_t* edges, const double* costs,
        const int64_t* initial_labels, int mode, int64_t kl_outer_iterations,
        double kl_epsilon, double kl_depth_fraction, int64_t kl_unimproved_slack,
        int64_t* out_labels, SolveStats* stats) except + nogil


MODES = {"gaec": 0, "gaec+kl": 1, "kl": 2}
# The largest accepted sum of |cost| (DBL_MAX / 4); solve() refuses more
# (ValueError). ssap_gluon.partition.checks applies the same limit first.
MAX_ABS_COST_SUM = kMaxAbsCostSum


def solve(int64_t num_nodes, cnp.ndarray edges, cnp.ndarray costs, initial_labels,
          str solver, int64_t kl_outer_iterations, double kl_epsilon,
          double kl_depth_fraction, int64_t kl_unimproved_slack):
    """Partition a validated graph.

    ``edges``: C-contiguous int64 (E, 2) with endpoints in [0, num_nodes);
    ``costs``: C-contiguous finite float64 (E,) with sum |c| <=
    MAX_ABS_COST_SUM (checked again here: ValueError); ``initial_labels``: None or
    C-contiguous int64 (num_nodes,); ``kl_depth_fraction`` in (0, 1] and
    ``kl_unimproved_slack`` (< 0: none) bound a KL move sequence (1 and -1:
    bjoern-andres/graph's rule). Returns ``(labels, stats)``: int64 labels
    numbered 0..K-1 by each cluster's smallest node, and a dict of energies and
    iteration counts.
    """
    cdef int mode = MODES[solver]
    cdef int64_t m = edges.shape[0]
    cdef cnp.ndarray labels = np.empty(num_nodes, dtype=np.int64)
    cdef const int64_t* edge_ptr = <const int64_t*> cnp.PyArray_DATA(edges)
    cdef const double* cost_ptr = <const double*> cnp.PyArray_DATA(costs)
    cdef const int64_t* init_ptr = NULL
    cdef int64_t* out_ptr = <int64_t*> cnp.PyArray_DATA(labels)
    cdef SolveStats stats
    if initial_labels is not None:
        init_ptr = <const int64_t*> cnp.PyArray_DATA(initial_labels)
    with nogil:
        c_solve(num_nodes, m, edge_ptr, cost_ptr, init_ptr, mode,
                kl_outer_iterations, kl_epsilon, kl_depth_fraction, kl_unimproved_slack,
                out_ptr, &stats)
    return labels, {
        "start_energy": stats.start_energy,
        "gaec_energy": stats.gaec_energy,
        "energy": stats.energy,
        "kl_outer_iterations": stats.kl_outer_iterations,
        "kl_rolled_back": bool(stats.kl_rolled_back),
        "num_clusters": stats.num_clusters,
    }
