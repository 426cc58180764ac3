# distutils: language = c++
# cython: language_level=3
"""Compiled inner loops of the cascade's graph construction (paper Sec. 3.2).

One pass over the node pixels of a level builds the *contracted* graph
directly: for every window pair (u, v) whose ends are nodes a != b of the same
group, Eq. 2 averages the two directed affinities, Eq. 6 optionally refines
them, Eq. 3 turns them into a cost, and the cost is added to the edge
{a, b}. Pairs inside one node are skipped before any arithmetic -- that is
where the cascade's proposals save the time. Everything runs without the GIL.
The checked Python API is :mod:`ssap_gluon.partition.graph` /
:mod:`ssap_gluon.partition.cascade`; conventions (channel order, lattice
lifting of coarser levels) are documented there.
"""
from libc.math cimport exp, log
from libc.stdint cimport int32_t, int64_t

import numpy as np
cimport numpy as cnp

cnp.import_array()


cdef extern from "pixel_graph.hpp" namespace "ssap_pg":
    cdef cppclass EdgeAccumulator:
        EdgeAccumulator(int64_t num_nodes, int64_t expected) except + nogil
        void add(int64_t a, int64_t b, double cost) except + nogil
        int64_t size() nogil
        int64_t low(int64_t i) nogil
        int64_t high(int64_t i) nogil
        double cost(int64_t i) nogil


cdef inline double _js(const double* p, const double* q, Py_ssize_t c) noexcept nogil:
    """Eq. 7-8: Jensen-Shannon divergence (natural log) of two distributions of
    ``c`` entries; 0 without a logarithm when they are equal bit for bit."""
    cdef double total = 0.0, a, b, m
    cdef Py_ssize_t k
    cdef bint equal = True
    for k in range(c):
        if p[k] != q[k]:
            equal = False
            break
    if equal:
        return 0.0
    for k in range(c):
        a = p[k]
        b = q[k]
        m = 0.5 * (a + b)
        if a > 0.0:
            total += a * log(a / m)
        if b > 0.0:
            total += b * log(b / m)
    total *= 0.5
    return total if total > 0.0 else 0.0


cdef inline double _total_variation(const double* p, const double* q, Py_ssize_t c) noexcept nogil:
    cdef double total = 0.0, d
    cdef Py_ssize_t k
    for k in range(c):
        d = p[k] - q[k]
        total += d if d > 0.0 else -d
    return 0.5 * total


cdef inline double _logit(double alpha, double eps) noexcept nogil:
    """Eq. 3 with alpha clipped to [eps, 1 - eps] (one logarithm)."""
    if alpha < eps:
        alpha = eps
    elif alpha > 1.0 - eps:
        alpha = 1.0 - eps
    return log(alpha / (1.0 - alpha))


def _offsets(int window):
    """Forward offsets with their channel and the opposite offset's channel."""
    cdef int r = window, half = window // 2
    out = []
    for j in range(r * r):
        dy, dx = j // r - half, j % r - half
        if dy > 0 or (dy == 0 and dx > 0):
            out.append((dy, dx, j, (-dy + half) * r + (-dx + half)))
    return np.asarray(out, dtype=np.int64).reshape(-1, 4)


def contracted_graph(cnp.ndarray node, cnp.ndarray group, int height, int width, list levels,
                     int window, double eps, refine=None, refine_index=None):
    """The contracted graph of the nodes of one level.

    node : int64 (h*w,) node id per pixel, -1 = not a node; ids 0..N-1.
    group : int32 (h*w,) pairs only join pixels of equal group (the class of a
        per-class graph; one value for the refinement graph).
    levels : [(lift, affinity float32 (r*r, h'*w') C-contiguous, h', w')]:
        lift 1 is the level's own window, lift k > 1 a coarser level whose
        pixels are the lattice pixels (k*i, k*j) of this level.
    refine, refine_index : None, or float64 (n, c) C-contiguous thing-class
        distributions and int64 (h*w,) the row of every pixel (-1: none): Eq. 6
        is applied to every pair (both pixels must have a row).

    Returns ``(edges int64 (S, 2), costs float64 (S,))``: ``a < b`` in every
    row, rows ordered by ``a`` (so the edges of a contiguous range of nodes are
    one contiguous run), parallel pairs summed in a fixed order (deterministic).
    """
    cdef int64_t num_nodes = int(node.max()) + 1 if node.size else 0
    cdef EdgeAccumulator* acc = new EdgeAccumulator(max(num_nodes, 1), max(num_nodes, 16))
    try:
        _accumulate(acc, node, group, height, width, levels, _offsets(window), eps, refine,
                    refine_index)
        return _ordered_by_low(acc, num_nodes)
    finally:
        del acc


cdef _accumulate(EdgeAccumulator* acc, const int64_t[::1] nd, const int32_t[::1] gr,
                 int height, int width, list levels, const int64_t[:, ::1] of, double eps,
                 refine, refine_index):
    """Adds the cost of every window pair between two nodes to ``acc`` (see
    :func:`contracted_graph`)."""
    cdef Py_ssize_t n_off = of.shape[0]
    cdef const double[:, ::1] dist
    cdef const int64_t[::1] row
    cdef bint use_refine = refine is not None
    cdef Py_ssize_t c = 0
    if use_refine:
        dist = refine
        row = refine_index
        c = dist.shape[1]
    cdef Py_ssize_t p, q, t, cu, cv
    cdef int64_t a, b
    cdef int cy, cx, ny, nx, fy, fx, lift, ch, cw
    cdef double alpha, cost
    cdef const float[:, ::1] aff
    for item in levels:
        lift, aff_array, ch, cw = item
        aff = aff_array
        with nogil:
            # lift 1: every pixel; lift k: the lattice pixels (k*i, k*j) only
            for cy in range(min(ch, (height + lift - 1) // lift)):
                for cx in range(min(cw, (width + lift - 1) // lift)):
                    p = <Py_ssize_t>(cy * lift) * width + cx * lift
                    a = nd[p]
                    if a < 0:
                        continue
                    cu = <Py_ssize_t>cy * cw + cx
                    for t in range(n_off):
                        ny = cy + <int>of[t, 0]
                        nx = cx + <int>of[t, 1]
                        if ny >= ch or nx < 0 or nx >= cw:
                            continue
                        fy = ny * lift
                        fx = nx * lift
                        if fy >= height or fx >= width:
                            continue
                        q = <Py_ssize_t>fy * width + fx
                        b = nd[q]
                        if b < 0 or b == a or gr[q] != gr[p]:
                            continue
                        cv = <Py_ssize_t>ny * cw + nx
                        alpha = 0.5 * (<double>aff[of[t, 2], cu] + <double>aff[of[t, 3], cv])  # Eq. 2
                        if use_refine:
                            alpha *= exp(-_js(&dist[row[p], 0], &dist[row[q], 0], c))      # Eq. 6
                        cost = _logit(alpha, eps)                                               # Eq. 3
                        acc.add(a, b, cost)


cdef _ordered_by_low(EdgeAccumulator* acc, int64_t num_nodes):
    """The accumulated edges as arrays, counting-sorted by their lower node
    (stable: first-seen order within one node)."""
    cdef Py_ssize_t m = acc.size(), i
    edges = np.empty((m, 2), dtype=np.int64)
    costs = np.empty(m, dtype=np.float64)
    start_arr = np.zeros(num_nodes + 1, dtype=np.int64)
    cdef int64_t[:, ::1] e = edges
    cdef double[::1] cs = costs
    cdef int64_t[::1] start = start_arr
    cdef int64_t lo, pos
    with nogil:
        for i in range(m):
            start[acc.low(i) + 1] += 1
        for i in range(num_nodes):
            start[i + 1] += start[i]
        for i in range(m):
            lo = acc.low(i)
            pos = start[lo]
            start[lo] += 1
            e[pos, 0] = lo
            e[pos, 1] = acc.high(i)
            cs[pos] = acc.cost(i)
    return edges, costs


def release_disagreeing(cnp.ndarray seeds, int height, int width, cnp.ndarray affinity,
                        int window, refine=None, refine_index=None, top=None,
                        uncertainty=None):
    """Proposal pixels the level's own affinities disagree with: every pixel
    that forms a window pair of (refined) affinity < 1/2 with a pixel of the
    same seed label. Returns a bool (h*w,) mask of them.

    seeds : int32 (h*w,) proposal label per pixel, -1 = none.
    affinity : float32 (r*r, h*w) C-contiguous, the level's own.
    refine, refine_index : as in :func:`contracted_graph` (Eq. 6), with
    top : int32 (n,) the argmax class of every distribution row and
    uncertainty : float64 (n,) 1 - its maximum.

    With refinement, most pairs are decided without a logarithm, by exact
    bounds (every decision equals the one from Eq. 6-8 computed in full):
    ``exp(-D_JS) <= 1``, so alpha < 1/2 releases; ``D_JS <= ln 2 * TV`` (Lin
    1991; TV = half the L1 distance) and ``2^TV <= 1 + TV`` give
    ``alpha' >= alpha / (1 + TV)``, so ``2 alpha > 1 + TV`` keeps; and for two
    distributions with the same argmax k, ``TV <= (1 - p_k) + (1 - q_k)``
    (through the one-hot of k), so ``2 alpha > 1 + u_p + u_q`` keeps with two
    loads. Margins of 1e-12 stay far above rounding.
    """
    cdef const int32_t[::1] sd = seeds
    cdef const float[:, ::1] aff = affinity
    cdef cnp.ndarray offs = _offsets(window)
    cdef const int64_t[:, ::1] of = offs
    cdef Py_ssize_t n_off = offs.shape[0]
    cdef Py_ssize_t n_pix = <Py_ssize_t>height * width
    released_arr = np.zeros(n_pix, dtype=np.uint8)
    cdef unsigned char[::1] rel = released_arr
    cdef const double[:, ::1] dist
    cdef const int64_t[::1] row
    cdef const int32_t[::1] tp
    cdef const double[::1] unc
    cdef bint use_refine = refine is not None
    cdef Py_ssize_t c = 0
    if use_refine:
        dist = refine
        row = refine_index
        tp = top
        unc = uncertainty
        c = dist.shape[1]
    cdef Py_ssize_t p, q, t, rp, rq
    cdef int y, x, ny, nx
    cdef int32_t s
    cdef double alpha
    cdef bint release
    with nogil:
        for p in range(n_pix):
            s = sd[p]
            if s < 0:
                continue
            y = p // width
            x = p - <Py_ssize_t>y * width
            for t in range(n_off):
                ny = y + <int>of[t, 0]
                nx = x + <int>of[t, 1]
                if ny >= height or nx < 0 or nx >= width:
                    continue
                q = <Py_ssize_t>ny * width + nx
                if sd[q] != s:
                    continue
                alpha = 0.5 * (<double>aff[of[t, 2], p] + <double>aff[of[t, 3], q])
                release = alpha < 0.5
                if use_refine and not release:
                    rp = row[p]
                    rq = row[q]
                    if tp[rp] == tp[rq] and 1.0 + unc[rp] + unc[rq] + 1e-12 < 2.0 * alpha:
                        release = False
                    elif 1.0 + _total_variation(&dist[rp, 0], &dist[rq, 0], c) + 1e-12 \
                            < 2.0 * alpha:
                        release = False
                    else:
                        release = alpha * exp(-_js(&dist[rp, 0], &dist[rq, 0], c)) < 0.5
                if release:
                    rel[p] = 1
                    rel[q] = 1
    return released_arr.view(bool)
