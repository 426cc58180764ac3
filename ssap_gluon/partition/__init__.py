"""Graph partition (paper Sec. 3.2), on plain numpy arrays (no mxnet).

The graph (Eq. 2-3) and its refinement (Eq. 6-8):

* :mod:`~ssap_gluon.partition.graph` -- window pairs of a level, long-range
  pairs of coarser levels, Eq. 2-3 costs;
* :mod:`~ssap_gluon.partition.refinement` -- Jensen-Shannon refinement of
  affinities (Eq. 6-8).

The cascade (Fig. 3 (b)):

* :func:`cascaded_partition` -- semantic + affinity pyramid -> instance labels
  at the finest level (``csrc/pixel_graph.pyx`` builds the contracted graphs).

The multicut (Eq. 4-5):

* :func:`multicut` -- GAEC, GAEC + Kernighan-Lin with joins, or KL from a
  warm start; compiled (``csrc/multicut.pyx``), runs without the GIL.
* :func:`multicut_energy` -- the objective of Eq. 4 for a given partition.
* :func:`multicut_options` -- :func:`multicut`'s keyword arguments from a config.
* :func:`contract_graph` -- merge nodes into supernodes, summing parallel edges.
* :class:`GraphInputError` -- raised for malformed graphs.
"""
from .cascade import CascadeResult, cascaded_partition
from .checks import GraphInputError
from .contraction import contract_graph
from .multicut import multicut, multicut_energy, multicut_options

__all__ = ["cascaded_partition", "CascadeResult", "multicut", "multicut_energy",
           "multicut_options", "contract_graph", "GraphInputError"]
