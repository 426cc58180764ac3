"""The multicut of paper Sec. 3.2 (Eq. 4-5): API around the compiled solvers.

Given a graph with edge costs c_e (the logits of Eq. 3: positive means the two
pixels probably belong to one instance), find the partition of the nodes that
minimises the summed cost of the edges it cuts. The paper solves it "by a
search-based algorithm [26]" (Keuper et al., ICCV 2015): greedy additive edge
contraction followed by Kernighan-Lin with joins. See docs/MULTICUT.md.
"""
import math
import numbers

import numpy as np

from .checks import GraphInputError, check_costs, check_edges, check_labels, check_num_nodes

__all__ = ["multicut", "multicut_energy", "multicut_options", "SOLVERS", "KL_OUTER_ITERATIONS", "KL_EPSILON",
           "KL_DEPTH_FRACTION", "KL_UNIMPROVED_SLACK"]

# "gaec": greedy additive edge contraction only; "gaec+kl": GAEC then
# Kernighan-Lin with joins; "kl": Kernighan-Lin from the initial partition.
SOLVERS = ("gaec", "gaec+kl", "kl")
# bjoern-andres/graph's defaults (docs/MULTICUT.md).
KL_OUTER_ITERATIONS = 100
KL_EPSILON = 1e-6
# A KL move sequence stops once its cumulative gain falls to this fraction of
# andres/graph's bound (1.0 reproduces andres exactly). Chosen from the
# benchmark, see docs/MULTICUT.md "Choices and deviations".
KL_DEPTH_FRACTION = 1.0
# ... and also after this many + (nodes of the smaller cluster) moves in a row
# without a new best prefix (None: no such limit, as in andres/graph).
KL_UNIMPROVED_SLACK = 1000

# The compiled solver takes its counts as int64.
_INT64_MAX = 2 ** 63 - 1

_extension = None


def _describe(value):
    return "%r (%s)" % (value, type(value).__name__)


def _check_integer(name, value, allowed):
    """An int (or numpy integer, not bool) in [0, 2**63 - 1]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or not 0 <= int(value) <= _INT64_MAX:
        raise GraphInputError("%s must be %s in [0, 2**63 - 1]; got %s"
                              % (name, allowed, _describe(value)))
    return int(value)


def _check_real(name, value, low, high, low_open, rule):
    """A real number (int, float, numpy scalar; not bool or str) in the
    interval, as a float."""
    number = None
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError):
            number = None
    if number is None or not math.isfinite(number) or number > high or number < low \
            or (low_open and number == low):
        raise GraphInputError("%s must be %s; got %s" % (name, rule, _describe(value)))
    return number


def _solve(*args):
    global _extension
    if _extension is None:
        try:
            from .._ext import multicut as extension
        except ImportError as error:  # pragma: no cover - depends on the build
            raise ImportError(
                "the compiled multicut solver ssap_gluon._ext.multicut is missing; build it with "
                "`pip install -e .` or `python setup.py build_ext --inplace` in the repository "
                "root (%s)" % error) from error
        _extension = extension
    return _extension.solve(*args)


def multicut(num_nodes, edges, costs, *, solver="gaec+kl", initial_labels=None,
             kl_outer_iterations=KL_OUTER_ITERATIONS, kl_epsilon=KL_EPSILON,
             kl_depth_fraction=KL_DEPTH_FRACTION, kl_unimproved_slack=KL_UNIMPROVED_SLACK,
             return_info=False):
    """Partition a graph by minimising the multicut energy (Eq. 4-5).

    Args:
        num_nodes: number of nodes; nodes are ``0 .. num_nodes - 1``.
        edges: (E, 2) integer endpoints. Self-loops are ignored (a node is
            never cut from itself); repeated edges, in either orientation,
            act as one edge with the summed cost.
        costs: (E,) finite costs; positive = "join", negative = "cut".
        solver: ``"gaec"``, ``"gaec+kl"`` (default) or ``"kl"``.
        initial_labels: optional (num_nodes,) integer labels to start from
            (warm start). Each label's connected parts become the starting
            clusters: ``"gaec"`` contracts further from them, ``"gaec+kl"``
            runs GAEC from them and then KL, ``"kl"`` runs KL from them
            directly. Default: every node on its own.
        kl_outer_iterations: at most this many KL outer iterations (100).
        kl_epsilon: KL applies only changes that lower the energy by more
            than this (1e-6).
        kl_depth_fraction: a KL move sequence stops once its cumulative
            gain has fallen to this fraction (in (0, 1]) of
            bjoern-andres/graph's bound, minus twice the negative cost inside
            the two clusters minus the negative cost between them; 1.0 is
            andres' rule exactly, smaller is faster.
        kl_unimproved_slack: a KL move sequence also stops after
            ``kl_unimproved_slack + min(|A|, |B|)`` moves in a row that did
            not improve its best prefix (A, B: the two clusters; a new
            cluster counts 0); ``None``: no such limit (andres' rule).
        return_info: ``True`` to also return a dict with ``start_energy``,
            ``gaec_energy``, ``energy``, ``kl_outer_iterations``,
            ``kl_rolled_back`` and ``num_clusters``.

    Returns:
        int64 (num_nodes,) labels ``0 .. K-1``, numbered by the smallest node
        of each cluster; every cluster is connected in the graph. With
        ``return_info``, ``(labels, info)``.

    Raises:
        GraphInputError: malformed input (shape, dtype, range, non-finite
            cost, sum of |costs| above ``MAX_ABS_COST_SUM``), an unknown
            solver, or a keyword argument of the wrong type or out of range.
    """
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise GraphInputError("solver must be one of %s; got %s"
                              % (", ".join(SOLVERS), _describe(solver)))
    num_nodes = check_num_nodes(num_nodes)
    edges = check_edges(edges, num_nodes)
    costs = check_costs(costs, edges)
    if initial_labels is not None:
        initial_labels = check_labels(initial_labels, num_nodes, "initial_labels")
    outer = _check_integer("kl_outer_iterations", kl_outer_iterations, "an integer")
    epsilon = _check_real("kl_epsilon", kl_epsilon, 0.0, math.inf, False,
                          "a finite real number >= 0")
    fraction = _check_real("kl_depth_fraction", kl_depth_fraction, 0.0, 1.0, True,
                           "a real number in (0, 1]")
    if kl_unimproved_slack is None:
        slack = -1
    else:
        slack = _check_integer("kl_unimproved_slack", kl_unimproved_slack, "None or an integer")
    if not isinstance(return_info, (bool, np.bool_)):
        raise GraphInputError("return_info must be True or False; got %s" % _describe(return_info))
    labels, info = _solve(num_nodes, edges, costs, initial_labels, solver, outer, epsilon,
                          fraction, slack)
    return (labels, info) if return_info else labels


def multicut_energy(edges, costs, labels):
    """The multicut energy of a partition: the sum of the costs of the edges
    whose endpoints have different labels (Eq. 4). The solvers minimise it.

    ``labels`` (N,) gives the cluster of every node; ``edges`` (E, 2) must
    index into it. Every row of ``edges`` counts (a repeated edge counts each
    time it appears; a self-loop never, as it is never cut).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise GraphInputError("labels must be a 1-d array (one label per node); got shape %s"
                              % (labels.shape,))
    labels = check_labels(labels, labels.shape[0])
    edges = check_edges(edges, labels.shape[0])
    costs = check_costs(costs, edges)
    cut = labels[edges[:, 0]] != labels[edges[:, 1]]
    return float(np.sum(costs[cut]))


def multicut_options(cfg):
    """The keyword arguments of :func:`multicut` set by a config's
    ``TEST.MULTICUT_*`` keys, e.g. ``multicut(n, edges, costs, **multicut_options(cfg))``.
    ``TEST.MULTICUT_KL_UNIMPROVED_SLACK = -1`` stands for ``None`` (no limit)."""
    test = cfg.TEST
    slack = int(test.MULTICUT_KL_UNIMPROVED_SLACK)
    return {
        "solver": test.MULTICUT_SOLVER,
        "kl_outer_iterations": int(test.MULTICUT_KL_OUTER_ITERATIONS),
        "kl_epsilon": float(test.MULTICUT_KL_EPSILON),
        "kl_depth_fraction": float(test.MULTICUT_KL_DEPTH_FRACTION),
        "kl_unimproved_slack": None if slack < 0 else slack,
    }
