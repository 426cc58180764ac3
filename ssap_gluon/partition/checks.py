"""Input checks shared by the multicut solvers and the contraction helper.

Every check converts what it accepts to the exact dtype and layout the
compiled code reads (int64 / float64, C-contiguous) and raises
:class:`GraphInputError` naming the argument, the offending edge and what was
expected otherwise. The checks are vectorised: the cascade calls the solver
many times per frame on small graphs.
"""
import numbers

import numpy as np

__all__ = ["GraphInputError", "check_num_nodes", "check_edges", "check_costs",
           "check_labels", "MAX_ABS_COST_SUM"]

# Node and edge ids are 32-bit inside the compiled solvers.
MAX_INDEX = 2 ** 31 - 2

# The largest accepted sum of |cost| over all edges: a quarter of the largest
# float64 (4.4942e+307). Every value the solvers and multicut_energy compute
# is a signed sum of distinct edges' costs (at most this), or such a sum plus
# twice one cost, so nothing can overflow to inf (and then NaN, on which KL's
# move heap used to spin for ever). docs/MULTICUT.md "Cost range".
MAX_ABS_COST_SUM = float(np.finfo(np.float64).max / 4)


class GraphInputError(ValueError):
    """A graph given to the multicut API is malformed (shape, dtype, range,
    non-finite cost). The message names the argument and, where there is
    one, the first offending edge or node."""


def check_num_nodes(num_nodes, name="num_nodes"):
    if isinstance(num_nodes, (bool, np.bool_)) or not isinstance(num_nodes, numbers.Integral):
        raise GraphInputError("%s must be a non-negative integer; got %r" % (name, num_nodes))
    num_nodes = int(num_nodes)
    if num_nodes < 0:
        raise GraphInputError("%s must be a non-negative integer; got %d" % (name, num_nodes))
    if num_nodes > MAX_INDEX:
        raise GraphInputError("%s=%d is larger than the supported maximum %d"
                              % (name, num_nodes, MAX_INDEX))
    return num_nodes


def check_edges(edges, num_nodes, name="edges"):
    """``edges`` as a C-contiguous int64 (E, 2) array with endpoints in
    [0, num_nodes). An empty input of any numeric dtype is accepted."""
    array = np.asarray(edges)
    if array.size == 0 and array.ndim <= 2 and (array.ndim < 2 or array.shape[1] in (0, 2)):
        return np.zeros((0, 2), np.int64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise GraphInputError("%s must have shape (E, 2); got shape %s" % (name, array.shape))
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise GraphInputError("%s must hold integer node ids; got dtype %s" % (name, array.dtype))
    if array.shape[0] > MAX_INDEX:
        raise GraphInputError("%s has %d rows; at most %d are supported"
                              % (name, array.shape[0], MAX_INDEX))
    if array.size and (array.min() < 0 or array.max() >= num_nodes):
        bad = (array < 0) | (array >= num_nodes)
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise GraphInputError(
            "%s[%d] = (%d, %d) has an endpoint outside [0, num_nodes) = [0, %d)"
            % (name, row, array[row, 0], array[row, 1], num_nodes))
    return np.ascontiguousarray(array, dtype=np.int64)


def check_costs(costs, edges, name="costs"):
    """``costs`` as a C-contiguous float64 (E,) array of finite values,
    one per row of the already checked ``edges``, with sum |cost| <=
    MAX_ABS_COST_SUM."""
    array = np.asarray(costs)
    num_edges = edges.shape[0]
    if array.shape != (num_edges,):
        if array.size == 0 and num_edges == 0:
            return np.zeros(0, np.float64)
        raise GraphInputError("%s must have shape (E,) = (%d,), one cost per edge; got shape %s"
                              % (name, num_edges, array.shape))
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating)
                                       or np.issubdtype(array.dtype, np.integer)):
        raise GraphInputError("%s must be real numbers; got dtype %s" % (name, array.dtype))
    original = array
    with np.errstate(over="ignore"):          # a wider float beyond float64 becomes inf
        array = np.ascontiguousarray(array, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        if np.isfinite(original[row]):
            raise GraphInputError(
                "%s[%d] = %s for edge (%d, %d) is outside the float64 range; costs are "
                "solved in float64" % (name, row, np.format_float_scientific(
                                           original[row], precision=4, trim="-").replace(".e", "e"),
                                       edges[row, 0], edges[row, 1]))
        raise GraphInputError(
            "%s[%d] = %r for edge (%d, %d) is not finite; every cost must be a finite number"
            % (name, row, float(array[row]), edges[row, 0], edges[row, 1]))
    with np.errstate(over="ignore"):
        total = float(np.sum(np.abs(array)))
    if not total <= MAX_ABS_COST_SUM:
        row = int(np.argmax(np.abs(array)))
        raise GraphInputError(
            "%s: the sum of |%s| is %s, above the limit %.4e = (largest float64) / 4 that keeps "
            "every partial sum of the solvers finite; the largest is %s[%d] = %.5g for edge "
            "(%d, %d)" % (name, name, "inf (beyond float64)" if total == np.inf else repr(total),
                          MAX_ABS_COST_SUM, name, row, array[row], edges[row, 0], edges[row, 1]))
    return array


def check_labels(labels, num_nodes, name="labels"):
    """``labels`` as a C-contiguous int64 (num_nodes,) array (any integer
    values: only equality between them matters)."""
    array = np.asarray(labels)
    if array.shape != (num_nodes,):
        raise GraphInputError("%s must have shape (num_nodes,) = (%d,); got shape %s"
                              % (name, num_nodes, array.shape))
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        if num_nodes == 0:
            return np.zeros(0, np.int64)
        raise GraphInputError("%s must hold integers; got dtype %s" % (name, array.dtype))
    if array.dtype == np.uint64 and num_nodes and int(array.max()) > np.iinfo(np.int64).max:
        raise GraphInputError("%s holds values above the int64 range" % name)
    return np.ascontiguousarray(array, dtype=np.int64)
