"""Synthetic multicut problems on pixel grids, for tests and benchmarks (a
fixture: production code never imports it).

A problem is built like the graphs of the cascade (paper Sec. 3.2): every
pixel is a node and is joined to the pixels of a ``window x window``
neighbourhood; the edge cost is the logit of a same-instance probability
(Eq. 3). Here the probability comes from a generated instance layout plus
Gaussian noise instead of a network, so the problems are reproducible from a
seed and have a known "true" partition.
"""
import numpy as np

from .graph import forward_offsets, grid_edges

__all__ = ["forward_offsets", "grid_edges", "random_instance_layout",
           "pixel_multicut_problem"]


def random_instance_layout(height, width, rng, pixels_per_instance=1500):
    """An int32 (H, W) map: 0 is background, 1..N are elliptic instances
    (later ones drawn on top of earlier ones), N ~ H * W / pixels_per_instance."""
    layout = np.zeros((height, width), np.int32)
    count = max(1, int(round(height * width / float(pixels_per_instance))))
    yy, xx = np.mgrid[0:height, 0:width]
    for k in range(1, count + 1):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry = rng.uniform(0.04, 0.2) * height
        rx = rng.uniform(0.02, 0.1) * width
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        layout[inside] = k
    return layout


def pixel_multicut_problem(height, width, seed=0, window=5, noise=0.25,
                           p_same=0.8, eps=0.001):
    """A multicut problem on an ``height x width`` pixel graph.

    The same-instance probability of an edge is ``p_same`` (``1 - p_same``
    across instances) plus N(0, noise), clipped to [eps, 1 - eps]; the cost is
    its logit, so a positive cost means "join" (Eq. 3).

    Returns ``(num_nodes, edges, costs, layout)``.
    """
    rng = np.random.default_rng(seed)
    layout = random_instance_layout(height, width, rng)
    edges = grid_edges(height, width, window)
    flat = layout.ravel()
    same = flat[edges[:, 0]] == flat[edges[:, 1]]
    prob = np.where(same, p_same, 1.0 - p_same) + rng.normal(0.0, noise, len(edges))
    prob = np.clip(prob, eps, 1.0 - eps)
    costs = np.log(prob / (1.0 - prob))
    return height * width, edges, costs, layout
