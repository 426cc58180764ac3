"""Cascaded graph partition (paper Sec. 3.2, Fig. 3 (b)) on plain numpy arrays.

>>> result = cascaded_partition(semantic_probs, affinities, strides=[4, 8, 16, 32, 64],
...                             window=5, thing_classes=range(11, 19), init_stride=16)
>>> result.labels          # instance id per 1/4 pixel, -1 = no instance

Steps (docs/INFERENCE.md walks through them with the choices made where the
paper is silent):

1. At the initial level, within each thing class (pixels whose semantic
   argmax is that class), build the Eq. 2-3 graph and partition it with the
   multicut (Eq. 4-5).
2. Each segment's inner region (eroded by ``erosion`` pixels, 4-connectivity)
   is upsampled to the next finer level and becomes *one* node there (a
   proposal); every other pixel of the class is a node of its own; the cost
   between two nodes is the sum of the pixel-pair costs between them,
   ``w(t_i, t_j) = sum w(u, v)``. Partition again; repeat down to the finest
   level. Classes are independent: a level's graph only joins pixels of one
   class, and each class's part is solved in its own thread (the solver
   releases the GIL).
3. Segmentation refinement (Eq. 6-8): the pixels of all thing classes at the
   finest level in one graph, pair affinities scaled by ``exp(-D_JS)`` of the
   two pixels' thing-class distributions, partitioned once more, seeded by the
   per-class result (``refinement_seed``).

Which affinities take part (``affinity_strides``, Table 5): the cascade visits
the used levels from ``init_stride`` (or the coarsest used level below it) down
to the finest, which must be used; at every visited level the graph holds the
level's own window pairs plus, with ``long_range_edges``, the window pairs of
every used coarser level as long-range edges between lattice pixels
(:mod:`ssap_gluon.partition.graph`). A level whose affinities are not used is
not visited: proposals skip it (upsampled by the larger factor).

The graph of a level is built in one compiled pass over its node pixels
(``csrc/pixel_graph.pyx``): pairs inside one proposal are skipped before any
arithmetic, which is where the cascade saves its time.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict

import numpy as np

from .multicut import multicut
from .refinement import PixelDistributions

__all__ = ["cascaded_partition", "CascadeResult", "erode_labels", "upsample_proposals",
           "check_proposals", "contracted_graph", "thing_groups",
           "REFINEMENT_SEEDS", "check_pyramid"]

#: How segmentation refinement is seeded: "coarser_proposals" = refinement *is*
#: the finest level's step -- the previous level's proposals become supernodes of
#: the all-thing graph and no per-class partition is made at the finest level;
#: "proposals" = the per-class partition of the finest level, eroded, gives the
#: supernodes; "warm_start" = the all-thing pixel graph is solved from the
#: per-class labels as the initial partition.
REFINEMENT_SEEDS = ("coarser_proposals", "proposals", "warm_start")

_kernels = None


def _ext():
    global _kernels
    if _kernels is None:
        try:
            from .._ext import pixel_graph
        except ImportError as error:  # pragma: no cover - depends on the build
            raise ImportError(
                "the compiled graph builder ssap_gluon._ext.pixel_graph is missing; build it "
                "with `pip install -e .` or `python setup.py build_ext --inplace` (%s)"
                % error) from error
        _kernels = pixel_graph
    return _kernels


@dataclass
class CascadeResult:
    """What :func:`cascaded_partition` returns.

    labels : int32 (h, w) at the finest level: instance id ``0..K-1`` per pixel
        (numbered in order of each instance's first pixel, row-major), ``-1``
        where there is no instance (not a thing pixel).
    proposals : {stride: int32 (h_s, w_s)} the proposals each visited level
        handed on (all classes, ``-1`` = none), for Fig. 6 panels.
    segments : {stride: int32 (h_s, w_s)} each visited level's partition (all
        classes), before erosion.
    timings : seconds per stage -- "graph" (building the contracted graphs,
        Eq. 2-3 and 6), "solve" (multicuts, summed over threads), "proposals"
        (erosion, upsampling, checks), "refine" (thing distributions) -- and
        "total" (wall time).
    num_nodes : {stride: nodes of the level's graph} ("refinement" for the
        refinement graph).
    """

    labels: np.ndarray
    proposals: Dict[int, np.ndarray] = field(default_factory=dict)
    segments: Dict[int, np.ndarray] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    num_nodes: Dict = field(default_factory=dict)

    @property
    def num_instances(self):
        return int(self.labels.max()) + 1 if self.labels.size else 0


# ---------------------------------------------------------------------------
# proposals: erosion, upsampling, agreement with the finer level
# ---------------------------------------------------------------------------
def erode_labels(labels, iterations=1):
    """Inner regions of the segments of ``labels`` (``-1`` = none): a pixel keeps
    its label only if its 4 neighbours inside the map carry the same label,
    ``iterations`` times. The map border does not erode (a segment at the frame
    edge is not less certain there)."""
    out = np.array(labels, dtype=np.int32, copy=True)
    for _ in range(int(iterations)):
        keep = out >= 0
        keep[1:, :] &= out[1:, :] == out[:-1, :]
        keep[:-1, :] &= out[:-1, :] == out[1:, :]
        keep[:, 1:] &= out[:, 1:] == out[:, :-1]
        keep[:, :-1] &= out[:, :-1] == out[:, 1:]
        out[~keep] = -1
    return out


def _nearest_coarse(n_fine, n_coarse, factor):
    """Per fine index the nearest coarse indices (lo, hi): fine pixel y stands at
    coarse coordinate y / factor (level pixel i is input pixel s*i); at a tie
    (y / factor = i + 1/2) both neighbours are nearest, else lo == hi."""
    y = np.arange(n_fine)
    lo = -((factor - 2 * y) // (2 * factor))
    hi = (2 * y + factor) // (2 * factor)
    return np.minimum(lo, n_coarse - 1), np.minimum(hi, n_coarse - 1)


def upsample_proposals(labels, shape, factor):
    """Proposals of a coarse level on the ``factor`` times finer grid ``shape``:
    a fine pixel belongs to a proposal only if every nearest coarse pixel does
    (no direction is favoured; past the coarse map the edge pixel counts)."""
    labels = np.asarray(labels)
    ylo, yhi = _nearest_coarse(shape[0], labels.shape[0], factor)
    xlo, xhi = _nearest_coarse(shape[1], labels.shape[1], factor)
    out = labels[ylo][:, xlo]
    for ys, xs in ((ylo, xhi), (yhi, xlo), (yhi, xhi)):
        other = labels[ys][:, xs]
        out = np.where(other == out, out, -1)
    return out.astype(np.int32)


def check_proposals(seeds, affinity, window, refine=None):
    """Keep of each proposal only what the level's own affinities agree with.

    A pixel that forms a window pair of (refined) affinity below 1/2 -- a
    negative Eq. 3 cost -- with a pixel of its own proposal is released (it
    becomes a node of its own); a proposal may stay in several separate parts
    (an occluded object's). Why: a thin object next to a larger one of the same
    class can fall between the lattice pixels of a coarse level; the larger
    one's proposal then covers it at the finer level, and a supernode cannot be
    cut. The paper's proposals as they are: ``TEST.PROPOSAL_CHECK False``.

    ``affinity``: the level's own (r*r, h, w); ``refine``: the
    :class:`~ssap_gluon.partition.refinement.PixelDistributions` of the seed
    pixels for Eq. 6 (the refinement graph), or None.
    """
    seeds = np.ascontiguousarray(seeds, dtype=np.int32)
    h, w = seeds.shape
    if not (seeds >= 0).any():
        return seeds
    flat_aff = np.ascontiguousarray(affinity, dtype=np.float32).reshape(affinity.shape[0], -1)
    extra = () if refine is None else (refine.rows, refine.index, refine.top, refine.uncertainty)
    released = _ext().release_disagreeing(seeds.ravel(), h, w, flat_aff, int(window), *extra)
    out = seeds.ravel().copy()
    out[released] = -1
    return out.reshape(h, w)


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------
def _is_pow2(s):
    return s > 0 and not s & (s - 1)


def check_pyramid(semantic_probs, affinities, strides, window):
    """Validate a prediction pyramid; return ``(strides, semantic, affinity)`` as
    lists of C-contiguous float32 arrays (``None`` where a level is absent).
    Errors name the level and what was expected."""
    strides = [int(s) for s in strides]
    if not strides or any(not _is_pow2(s) for s in strides) or sorted(set(strides)) != strides:
        raise ValueError("strides must be increasing powers of two, got %r" % (strides,))
    if len(semantic_probs) != len(strides) or len(affinities) != len(strides):
        raise ValueError("need one semantic map and one affinity map (or None) per stride %r; "
                         "got %d and %d" % (strides, len(semantic_probs), len(affinities)))
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 3 \
            or window % 2 == 0:
        raise ValueError("window must be an odd integer >= 3, got %r" % (window,))
    s0 = strides[0]
    if semantic_probs[0] is None:
        raise ValueError("semantic level 1/%d (the finest) is required" % s0)
    sem0 = np.asarray(semantic_probs[0])
    if sem0.ndim != 3:
        raise ValueError("semantic level 1/%d: expected (C, h, w) probabilities, got shape %s"
                         % (s0, sem0.shape))
    num_classes, h0, w0 = sem0.shape
    sems, affs = [], []
    for s, sem, aff in zip(strides, semantic_probs, affinities):
        k = s // s0
        want = (-(-h0 // k), -(-w0 // k))
        if sem is not None:
            sem = np.ascontiguousarray(sem, dtype=np.float32)
            if sem.shape != (num_classes,) + want:
                raise ValueError("semantic level 1/%d has shape %s; expected %s (C, ceil(h/%d), "
                                 "ceil(w/%d)) for a finest level 1/%d of %dx%d"
                                 % (s, sem.shape, (num_classes,) + want, k, k, s0, h0, w0))
            _check_probabilities(sem, "semantic level 1/%d" % s)
        sems.append(sem)
        if aff is not None:
            aff = np.ascontiguousarray(aff, dtype=np.float32)
            if aff.shape != (window * window,) + want:
                raise ValueError("affinity level 1/%d has shape %s; expected %s (r*r = %d "
                                 "channels at the level's size)"
                                 % (s, aff.shape, (window * window,) + want, window * window))
            _check_probabilities(aff, "affinity level 1/%d" % s)
        affs.append(aff)
    return strides, sems, affs


def _check_probabilities(x, what):
    if x.size == 0:
        return
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError("%s holds a non-finite value at index %s; expected probabilities in "
                         "[0, 1]" % (what, tuple(int(i) for i in bad)))
    if lo < 0.0 or hi > 1.0:
        raise ValueError("%s holds values in [%g, %g]; expected probabilities in [0, 1] (apply "
                         "softmax / sigmoid to logits first)" % (what, lo, hi))


# ---------------------------------------------------------------------------
# one level's graph
# ---------------------------------------------------------------------------
class _Stopwatch:
    def __init__(self):
        self.seconds = {}

    def add(self, key, start):
        self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start


def _node_map(group, seeds):
    """Nodes of a level: every pixel with ``group >= 0``; pixels sharing a seed
    label (>= 0) are one node, every other one a node of its own. Node ids are
    ordered by group, so each group's nodes are one contiguous range.

    Returns ``(node (h*w,) int64, node_group (N,) int32)``.
    """
    g = group.ravel()
    pixels = np.flatnonzero(g >= 0)
    seed = seeds.ravel()[pixels] if seeds is not None else np.full(pixels.size, -1)
    # one key per future node: a seed label, or a unique negative per lone pixel
    key = np.where(seed >= 0, seed.astype(np.int64), -1 - pixels.astype(np.int64))
    order = np.lexsort((key, g[pixels]))
    sorted_key = key[order]
    first = np.ones(order.size, bool)
    first[1:] = sorted_key[1:] != sorted_key[:-1]
    ids = np.cumsum(first) - 1
    node = np.full(g.size, -1, np.int64)
    node[pixels[order]] = ids
    node_group = g[pixels[order]][first].astype(np.int32)
    return node, node_group


def contracted_graph(node, group, shape, levels, window, eps, refine=None):
    """The contracted graph of a level's nodes: ``(edges (S, 2), costs (S,))``.

    ``node``: (h*w,) node id per pixel (-1 none); ``group``: (h*w,) pairs only
    join pixels of equal group; ``levels``: ``[(lift, affinity (r*r, h', w'))]``
    (lift 1: the level's own window; lift k: a coarser level on the lattice);
    ``refine``: the :class:`~ssap_gluon.partition.refinement.PixelDistributions`
    of every node pixel for Eq. 6, or None. Costs: Eq. 2, (6), 3, summed over the
    pixel pairs between two nodes.
    """
    h, w = shape
    lv = [(int(lift), np.ascontiguousarray(a, np.float32).reshape(a.shape[0], -1),
           int(a.shape[1]), int(a.shape[2])) for lift, a in levels]
    extra = () if refine is None else (refine.rows, refine.index)
    return _ext().contracted_graph(np.ascontiguousarray(node, np.int64).ravel(),
                                   np.ascontiguousarray(group, np.int32).ravel(), int(h), int(w),
                                   lv, int(window), float(eps), *extra)


def thing_groups(probs, is_thing):
    """The semantic argmax of every pixel if it is a thing class, else -1, as
    int32 (h, w). A running maximum over the class planes (ties keep the lower
    class, as ``argmax``), a few times faster than ``argmax(axis=0)`` on the
    (C, h, w) layout."""
    best = probs[0].copy()
    index = np.zeros(best.shape, np.int32)
    for c in range(1, probs.shape[0]):
        greater = probs[c] > best
        np.copyto(best, probs[c], where=greater)
        index[greater] = c
    return np.where(is_thing[index], index, -1).astype(np.int32)


def _labels_of_pixels(node, labels, shape):
    """Per-pixel segment label (``-1`` where there is no node)."""
    out = np.full(node.size, -1, np.int32)
    inside = node >= 0
    out[inside] = labels[node[inside]]
    return out.reshape(shape)


def _solve_groups(node_group, edges, costs, options, pool, watch, initial=None):
    """Multicut of a graph whose groups are not joined by any edge: each group's
    part (a contiguous node range, its edges a contiguous run of the sorted
    edge list) is solved separately, in the pool's threads. Returns per-node
    labels, unique across groups."""
    n = node_group.size
    if n == 0:
        return np.zeros(0, np.int64)
    bounds = np.flatnonzero(np.diff(node_group)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n]])
    edge_cut = np.searchsorted(edges[:, 0], starts) if edges.size else np.zeros(starts.size, int)
    edge_end = np.append(edge_cut[1:], edges.shape[0])

    def solve(i):
        lo, hi = int(starts[i]), int(ends[i])
        e = edges[edge_cut[i]:edge_end[i]] - lo
        init = None if initial is None else initial[lo:hi]
        t = time.perf_counter()
        labels = multicut(hi - lo, e, costs[edge_cut[i]:edge_end[i]], initial_labels=init,
                          **options)
        return labels, time.perf_counter() - t

    parts = list(pool.map(solve, range(starts.size))) if pool is not None and starts.size > 1 \
        else [solve(i) for i in range(starts.size)]
    out = np.empty(n, np.int64)
    offset = 0
    for i, (labels, seconds) in enumerate(parts):
        out[starts[i]:ends[i]] = labels + offset
        offset += int(labels.max()) + 1 if labels.size else 0
        watch.seconds["solve"] = watch.seconds.get("solve", 0.0) + seconds
    return out


# ---------------------------------------------------------------------------
# the cascade
# ---------------------------------------------------------------------------
def _visited_levels(strides, init_stride, affinity_strides):
    used = sorted(set(int(s) for s in affinity_strides))
    bad = [s for s in used if s not in strides]
    if bad:
        raise ValueError("affinity_strides %r are not levels of the pyramid %r" % (bad, strides))
    if strides[0] not in used:
        raise ValueError("affinity_strides %r must include the finest level %d: instances are "
                         "made there" % (used, strides[0]))
    if init_stride not in strides:
        raise ValueError("init_stride %r is not a level of the pyramid %r" % (init_stride, strides))
    return sorted((s for s in used if s <= init_stride), reverse=True), used


def _renumber(labels):
    """Labels ``-1`` stay; the others become 0..K-1 in order of first pixel."""
    flat = labels.ravel()
    inside = np.flatnonzero(flat >= 0)
    out = np.full(flat.shape, -1, np.int32)
    if inside.size:
        values = flat[inside]
        uniq, first = np.unique(values, return_index=True)
        order = np.argsort(first)
        rank = np.empty(uniq.size, np.int64)
        rank[order] = np.arange(uniq.size)
        out[inside] = rank[np.searchsorted(uniq, values)]
    return out.reshape(labels.shape)


def cascaded_partition(semantic_probs, affinities, strides, window, thing_classes, *,
                       init_stride=16, affinity_strides=None, long_range_edges=True,
                       erosion=1, proposal_check=True, refinement=True,
                       refinement_seed="proposals", eps=1e-3, multicut_options=None,
                       num_threads=1):
    """Instances from a semantic + affinity pyramid by the cascaded multicut.

    Parameters
    ----------
    semantic_probs : list of float (C, h_s, w_s) or None, one per stride
        Class probabilities (softmax) at every level, finest first. Level
        ``s`` must have ``ceil(h / (s / s_0))`` rows (and columns) for a finest
        level of ``h`` rows. Needed at the visited levels.
    affinities : list of float (r*r, h_s, w_s) or None, one per stride
        Same-instance probabilities (sigmoid), channel ``j`` = window offset
        ``(j // r - r // 2, j % r - r // 2)``. ``None`` for a level not used.
    strides : increasing powers of two, e.g. ``[4, 8, 16, 32, 64]``.
    window : r.
    thing_classes : indices into C of the classes that have instances.
    init_stride : the level the cascade starts at (Table 4; the finest =
        non-cascaded).
    affinity_strides : levels whose affinities are used (Table 5); default all
        levels with affinities. Must include the finest.
    long_range_edges : add the window pairs of every used level coarser than a
        graph's level to that graph (module docstring).
    erosion : pixels a segment is eroded by before it becomes a proposal.
    proposal_check : release proposal pixels the finer level's affinities
        disagree with (:func:`check_proposals`).
    refinement : segmentation refinement (Eq. 6-8) at the finest level.
    refinement_seed : "coarser_proposals", "proposals" or "warm_start"
        (:data:`REFINEMENT_SEEDS`).
    eps : affinities are clipped to [eps, 1 - eps] before Eq. 3.
    multicut_options : keyword arguments of :func:`ssap_gluon.partition.multicut`
        (solver, KL settings); default ``gaec+kl`` with its defaults.
    num_threads : classes solved at once (1: in the calling thread).

    Returns a :class:`CascadeResult`.
    """
    wall = time.perf_counter()
    strides, sems, affs = check_pyramid(semantic_probs, affinities, strides, window)
    if affinity_strides is None:
        affinity_strides = [s for s, a in zip(strides, affs) if a is not None]
    visited, used = _visited_levels(strides, int(init_stride), affinity_strides)
    missing = [s for s in used if affs[strides.index(s)] is None]
    if missing:
        raise ValueError("affinity levels 1/%s are to be used but are None"
                         % ", 1/".join(map(str, missing)))
    missing = [s for s in visited if sems[strides.index(s)] is None]
    if missing:
        raise ValueError("semantic levels 1/%s are needed by the cascade but are None"
                         % ", 1/".join(map(str, missing)))
    num_classes = sems[0].shape[0]
    thing_classes = sorted(set(int(c) for c in thing_classes))
    if any(not 0 <= c < num_classes for c in thing_classes):
        raise ValueError("thing_classes %r are not all in 0..%d" % (thing_classes, num_classes - 1))
    if refinement_seed not in REFINEMENT_SEEDS:
        raise ValueError("refinement_seed must be one of %s, got %r"
                         % (REFINEMENT_SEEDS, refinement_seed))
    options = dict(multicut_options or {})
    is_thing = np.zeros(num_classes, bool)
    is_thing[thing_classes] = True
    watch = _Stopwatch()
    result = CascadeResult(labels=None)
    finest = strides[0]
    pool = ThreadPoolExecutor(max_workers=int(num_threads)) if num_threads > 1 else None
    # "coarser_proposals": with refinement, the finest level is the refinement
    # step itself -- its graph (all thing classes) is seeded by the previous
    # level's proposals, and no per-class partition is made there
    refine_at_finest = refinement and refinement_seed == "coarser_proposals"
    try:
        seeds, seed_class, prev = None, None, None
        for s in visited:
            start = time.perf_counter()
            group = thing_groups(sems[strides.index(s)], is_thing)
            shape = group.shape
            levels = [(1, affs[strides.index(s)])]
            if long_range_edges:
                levels += [(t // s, affs[strides.index(t)]) for t in used if t > s]
            if seeds is not None:
                # a proposal only holds pixels of its own class at this level
                seeds = upsample_proposals(seeds, shape, prev // s)
                inside = seeds >= 0
                seeds[inside] = np.where(seed_class[seeds[inside]] == group[inside],
                                         seeds[inside], -1)
                if proposal_check and not (refine_at_finest and s == finest):
                    seeds = check_proposals(seeds, levels[0][1], window)
            watch.add("proposals", start)
            if refine_at_finest and s == finest:
                fine_seeds = seeds if seeds is not None else np.full(shape, -1, np.int32)
                result.proposals[s] = fine_seeds
                seg = _refine(sems[0], thing_classes, group >= 0, fine_seeds, None, levels,
                              window, eps, options, "proposals", proposal_check, watch, result)
                result.segments[s] = seg
                break
            node, node_group = _node_map(group, seeds)
            start = time.perf_counter()
            edges, costs = contracted_graph(node, group, shape, levels, window, eps)
            watch.add("graph", start)
            labels = _solve_groups(node_group, edges, costs, options, pool, watch)
            seg = _labels_of_pixels(node, labels, shape)
            start = time.perf_counter()
            # the class of every segment (a segment never mixes classes here)
            seed_class = np.zeros(int(seg.max()) + 1 if seg.size else 0, np.int32)
            seed_class[seg[seg >= 0]] = group[seg >= 0]
            last = s == visited[-1]
            erode = erosion if not last or (refinement and refinement_seed == "proposals") else 0
            seeds = erode_labels(seg, erode)
            watch.add("proposals", start)
            result.segments[s] = seg
            result.proposals[s] = seeds
            result.num_nodes[s] = int(node_group.size)
            prev = s
        labels = result.segments[finest]
        if refinement and not refine_at_finest:
            labels = _refine(sems[0], thing_classes, labels >= 0, result.proposals[finest],
                             labels, levels, window, eps, options, refinement_seed,
                             proposal_check, watch, result)
    finally:
        if pool is not None:
            pool.shutdown()
    result.labels = _renumber(labels)
    result.timings = dict(watch.seconds, total=time.perf_counter() - wall)
    return result


def _refine(sem, thing_classes, fg, proposals, per_class, levels, window, eps, options, seed,
            proposal_check, watch, result):
    """Segmentation refinement: all thing pixels ``fg`` of the finest level in
    one graph with Eq. 6-8 refined affinities, seeded by ``proposals``
    (supernodes) or, for ``seed == "warm_start"``, solved from the per-class
    labels ``per_class``."""
    start = time.perf_counter()
    shape = fg.shape
    group = np.where(fg, 0, -1).astype(np.int32)
    dist = PixelDistributions.of(sem, thing_classes, fg)
    watch.add("refine", start)
    start = time.perf_counter()
    initial = seeds = None
    if seed == "warm_start":
        node, node_group = _node_map(group, None)
        # one node per pixel: the node's initial label is its pixel's segment
        initial = np.empty(node_group.size, np.int64)
        initial[node[fg.ravel()]] = per_class.ravel()[fg.ravel()]
    else:
        seeds = proposals
        if proposal_check:
            seeds = check_proposals(seeds, levels[0][1], window, refine=dist)
        node, node_group = _node_map(group, seeds)
    watch.add("proposals", start)
    start = time.perf_counter()
    edges, costs = contracted_graph(node, group, shape, levels, window, eps, refine=dist)
    watch.add("graph", start)
    result.num_nodes["refinement"] = int(node_group.size)
    labels = _solve_groups(node_group, edges, costs, options, None, watch, initial=initial)
    return _labels_of_pixels(node, labels, shape)
