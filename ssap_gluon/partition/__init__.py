"""Graph partition (paper Sec. 3.2): the multicut solvers and graph contraction.

* :func:`multicut` -- GAEC, GAEC + Kernighan-Lin with joins, or KL from a
  warm start; compiled (``csrc/multicut.pyx``), runs without the GIL.
* :func:`multicut_energy` -- the objective of Eq. 4 for a given partition.
* :func:`multicut_options` -- :func:`multicut`'s keyword arguments from a config.
* :func:`contract_graph` -- merge nodes into supernodes, summing parallel edges.
* :class:`GraphInputError` -- raised for malformed graphs.
"""
from .checks import GraphInputError
from .contraction import contract_graph
from .multicut import multicut, multicut_energy, multicut_options

__all__ = ["multicut", "multicut_energy", "multicut_options", "contract_graph", "GraphInputError"]
