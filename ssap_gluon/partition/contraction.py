"""Contraction of a graph along a node -> supernode map.

The cascade (paper Sec. 3.2) turns every segment found at a coarser level into
one node of the finer graph: the cost between two supernodes is the sum of the
costs of the pixel edges between them, w(t_i, t_j) = sum w(u, v), and edges
inside one supernode disappear.
"""
import numpy as np

from .checks import GraphInputError, check_costs, check_edges, check_num_nodes

__all__ = ["contract_graph"]


def contract_graph(edges, costs, node_to_super, num_super=None):
    """Contract ``edges`` / ``costs`` by ``node_to_super``.

    Args:
        edges: (E, 2) integer node ids in [0, len(node_to_super)).
        costs: (E,) finite costs.
        node_to_super: (N,) integer supernode of every node, in [0, num_super).
        num_super: number of supernodes; default ``node_to_super.max() + 1``.

    Returns:
        ``(super_edges, super_costs)``: int64 (S, 2) with ``a < b`` in every
        row, rows sorted lexicographically, one row per pair of supernodes
        joined by at least one edge; float64 (S,) the summed costs. Parallel
        edges of the input are summed as well; self-loops and edges inside a
        supernode are dropped. Pairs whose costs sum to exactly 0 are kept.
    """
    mapping = np.asarray(node_to_super)
    if mapping.ndim != 1:
        raise GraphInputError("node_to_super must be a 1-d array (one supernode per node); "
                              "got shape %s" % (mapping.shape,))
    if mapping.size and (mapping.dtype == np.bool_ or not np.issubdtype(mapping.dtype, np.integer)):
        raise GraphInputError("node_to_super must hold integer supernode ids; got dtype %s"
                              % mapping.dtype)
    mapping = mapping.astype(np.int64, copy=False)
    if num_super is None:
        num_super = int(mapping.max()) + 1 if mapping.size else 0
    num_super = check_num_nodes(num_super, "num_super")
    if mapping.size:
        bad = (mapping < 0) | (mapping >= num_super)
        if bad.any():
            node = int(np.flatnonzero(bad)[0])
            raise GraphInputError("node_to_super[%d] = %d is outside [0, num_super) = [0, %d)"
                                  % (node, mapping[node], num_super))
    edges = check_edges(edges, mapping.shape[0])
    costs = check_costs(costs, edges)

    a = mapping[edges[:, 0]]
    b = mapping[edges[:, 1]]
    between = a != b
    a, b = a[between], b[between]
    key = np.minimum(a, b) * num_super + np.maximum(a, b)
    unique_keys, inverse = np.unique(key, return_inverse=True)
    # float64 weights: bincount returns float64
    super_costs = np.bincount(inverse, weights=costs[between], minlength=unique_keys.size)
    super_edges = np.stack(np.divmod(unique_keys, max(num_super, 1)), axis=1)
    return super_edges, super_costs
