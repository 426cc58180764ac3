"""The graph of paper Sec. 3.2: pixels are nodes, affinity-window pairs are edges.

Eq. 2: the affinity of a pair is the mean of the two directed predictions,
``alpha_uv = (a_uv + a_vu) / 2`` (pixel u predicts ``a_uv`` in the channel of
offset v - u, pixel v predicts ``a_vu`` in the channel of the opposite offset).
Eq. 3: its edge cost is the logit ``w_uv = log(alpha / (1 - alpha))``, with
alpha clipped to ``[eps, 1 - eps]`` first (``TEST.AFFINITY_EPS``) so the cost
stays finite. Positive cost = "join", negative = "cut" (the multicut of
Eq. 4-5 minimises the summed cost of cut edges).

Conventions (docs/DESIGN.md): channel ``j`` of an ``r x r`` window is the
offset ``(j // r - r // 2, j % r - r // 2)``; level pixel ``(i, j)`` of stride
``s`` is input pixel ``(s*i, s*j)``. A pixel map of a level is flattened
row-major: node/pixel index ``y * width + x``.

Long-range edges. A level coarser than the graph's level contributes its own
window pairs as *lifted* edges: level ``s'`` pixel ``(i, j)`` is level ``s``
pixel ``(k*i, k*j)`` with ``k = s'/s`` (both stand for input pixel
``(s'*i, s'*j)``), so every window pair of level ``s'`` joins two lattice
pixels of level ``s`` that are ``k`` times further apart
(docs/INFERENCE.md, "Which affinities take part").
"""
import numpy as np

from ..targets.affinity import window_offsets

__all__ = ["forward_offsets", "grid_edges", "pair_channels", "edge_costs",
           "affinity_logits", "level_pairs"]


def forward_offsets(window):
    """The offsets (dy, dx) of a ``window x window`` neighbourhood that point
    "forward" (dy > 0, or dy == 0 and dx > 0), so each undirected pixel pair
    appears once. A 5x5 window gives the 12 forward neighbours."""
    if not isinstance(window, (int, np.integer)) or window < 3 or window % 2 == 0:
        raise ValueError("window must be an odd integer >= 3, got %r" % (window,))
    # the affinity channels' row-major order (targets.affinity), forward half only
    return [(dy, dx) for dy, dx in window_offsets(window) if dy > 0 or (dy == 0 and dx > 0)]


def pair_channels(window):
    """``[(dy, dx, j, j_back)]`` for every forward offset: ``j`` is the channel
    in which pixel u predicts its affinity to ``u + (dy, dx)``, ``j_back`` the
    channel in which that neighbour predicts its affinity back to u (the
    opposite offset). Eq. 2 averages the two."""
    r, half = window, window // 2
    out = []
    for dy, dx in forward_offsets(window):
        j = (dy + half) * r + (dx + half)
        j_back = (-dy + half) * r + (-dx + half)
        out.append((dy, dx, j, j_back))
    return out


def grid_edges(height, width, window=5):
    """Edges (E, 2) int64 of the full pixel graph of a ``height x width`` map,
    grouped by offset in ``forward_offsets(window)`` order; nodes are
    ``y * width + x``."""
    index = np.arange(height * width, dtype=np.int64).reshape(height, width)
    parts = []
    for dy, dx in forward_offsets(window):
        y0, y1 = 0, height - dy
        x0, x1 = max(0, -dx), min(width, width - dx)
        if y1 <= y0 or x1 <= x0:
            continue
        u = index[y0:y1, x0:x1]
        v = index[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
        parts.append(np.stack([u.ravel(), v.ravel()], axis=1))
    if not parts:
        return np.zeros((0, 2), np.int64)
    return np.concatenate(parts, axis=0)


def affinity_logits(alpha, eps):
    """Eq. 3: ``log(alpha / (1 - alpha))`` of ``alpha`` clipped to [eps, 1 - eps]
    (float64, so the solver's sums stay exact at these magnitudes)."""
    a = np.clip(np.asarray(alpha, dtype=np.float64), eps, 1.0 - eps)
    return np.log(a) - np.log1p(-a)


def edge_costs(a_uv, a_vu, eps):
    """Eq. 2 then Eq. 3 for arrays of directed affinities: the cost of each pair."""
    return affinity_logits((np.asarray(a_uv, np.float64) + np.asarray(a_vu, np.float64)) / 2.0,
                           eps)


def level_pairs(pixels, width, height, window, lift=1, coarse_shape=None):
    """Window pairs of one affinity level among given pixels of a graph level.

    Parameters
    ----------
    pixels : int64 (N,)
        Flat indices (``y * width + x``) of the graph level's pixels to start
        pairs from (every node pixel; each undirected pair is produced once,
        from its "backward" end, as offsets are forward only).
    width, height : int
        Size of the graph level.
    window : int
        r of the affinity level.
    lift : int
        ``s' / s`` for an affinity level ``s'`` coarser than the graph level
        ``s`` (1: the level's own affinities). Only lattice pixels (both
        coordinates multiples of ``lift``) start pairs; the pair's other end is
        ``lift`` times further away.
    coarse_shape : (h', w')
        Size of the affinity level (default: ``ceil(height / lift)`` ...).

    Returns
    -------
    u, v : int64 (M,)
        Flat graph-level indices of both ends (``v`` inside the map).
    cu, j, cv, j_back : int64 (M,)
        Flat affinity-level indices of both ends and the channels to read
        (``affinity[j].flat[cu]`` is a_uv, ``affinity[j_back].flat[cv]`` is a_vu).
    """
    pixels = np.asarray(pixels, dtype=np.int64)
    if coarse_shape is None:
        coarse_shape = (-(-height // lift), -(-width // lift))
    ch, cw = coarse_shape
    ys, xs = np.divmod(pixels, width)
    if lift > 1:
        on = (ys % lift == 0) & (xs % lift == 0)
        ys, xs = ys[on] // lift, xs[on] // lift
        pixels = pixels[on]
    keep_in = (ys < ch) & (xs < cw)
    ys, xs, pixels = ys[keep_in], xs[keep_in], pixels[keep_in]
    cu = ys * cw + xs
    outs = ([], [], [], [], [], [])
    for dy, dx, j, j_back in pair_channels(window):
        ny, nx = ys + dy, xs + dx
        inside = (ny < ch) & (nx >= 0) & (nx < cw)
        fy, fx = ny * lift, nx * lift
        inside &= (fy < height) & (fx < width)
        if not inside.any():
            continue
        outs[0].append(pixels[inside])
        outs[1].append(fy[inside] * width + fx[inside])
        outs[2].append(cu[inside])
        outs[3].append(np.full(int(inside.sum()), j, np.int64))
        outs[4].append(ny[inside] * cw + nx[inside])
        outs[5].append(np.full(int(inside.sum()), j_back, np.int64))
    if not outs[0]:
        empty = np.zeros(0, np.int64)
        return (empty,) * 6
    return tuple(np.concatenate(o) for o in outs)
