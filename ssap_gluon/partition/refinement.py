"""Segmentation refinement of paper Sec. 3.2 (Eq. 6-8).

The last partition of the cascade joins the pixels of all thing classes in one
graph, so an instance whose pixels the semantic head split between two classes
(a car partly called "truck") can still come out whole. Each pair's average
affinity is refined by how much the two pixels' class distributions differ:

    alpha'_uv = alpha_uv * exp(-D_JS(s_u || s_v))                      (Eq. 6)
    D_JS(P || Q) = (D_KL(P || M) + D_KL(Q || M)) / 2,  M = (P + Q) / 2   (Eq. 7)
    D_KL(P || Q) = sum_i P_i log(P_i / Q_i)                              (Eq. 8)

``s_u`` is the semantic distribution of pixel u over the c thing classes
(the softmax probabilities of those classes, renormalised to sum to 1).
D_JS lies in [0, log 2], so the factor lies in [1/2, 1].
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["thing_distributions", "js_divergence", "refinement_factor", "PixelDistributions"]


def thing_distributions(probs, thing_classes):
    """``(c, ...)`` distributions over the thing classes from ``(C, ...)``
    semantic probabilities: the thing rows, renormalised to sum to 1 (a pixel
    with no thing probability at all gets the uniform distribution)."""
    probs = np.asarray(probs)
    sub = probs[list(thing_classes)].astype(np.float64)
    total = sub.sum(axis=0, keepdims=True)
    c = sub.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, sub / np.where(total > 0, total, 1.0), 1.0 / c)
    return out


def _kl_to_mean(p, m):
    # 0 * log(0 / m) = 0; m >= p / 2 > 0 wherever p > 0, so no division by 0
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.where(m > 0, m, 1.0)),
                         0.0)
    return terms.sum(axis=-1)


def js_divergence(p, q):
    """Eq. 7-8 row-wise: ``D_JS(p[e] || q[e])`` for ``(E, c)`` distributions,
    natural log (so the maximum is log 2)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError("js_divergence: p %s and q %s differ in shape" % (p.shape, q.shape))
    m = (p + q) / 2.0
    return np.maximum(0.5 * (_kl_to_mean(p, m) + _kl_to_mean(q, m)), 0.0)


def refinement_factor(p, q):
    """Eq. 6's factor ``exp(-D_JS(p || q))`` per row, in [1/2, 1]."""
    return np.exp(-js_divergence(p, q))


@dataclass
class PixelDistributions:
    """The thing-class distributions of some pixels of a level, as the compiled
    graph builder reads them (``csrc/pixel_graph.pyx``).

    rows : float64 (n, c) C-contiguous, one distribution per pixel;
    index : int64 (h*w,) the row of every pixel of the level, -1 without one;
    top : int32 (n,) argmax of every row; uncertainty : float64 (n,) 1 - its max.
    """

    rows: np.ndarray
    index: np.ndarray
    top: np.ndarray
    uncertainty: np.ndarray

    @classmethod
    def of(cls, probs, thing_classes, mask):
        """Distributions of the pixels of ``mask`` (h, w) from ``(C, h, w)``
        probabilities (only those pixels are computed)."""
        probs = np.asarray(probs)
        pixels = np.flatnonzero(np.asarray(mask).ravel())
        flat = probs.reshape(probs.shape[0], -1)
        rows = np.ascontiguousarray(thing_distributions(flat[:, pixels], thing_classes).T)
        index = np.full(flat.shape[1], -1, np.int64)
        index[pixels] = np.arange(pixels.size)
        top = rows.argmax(axis=1).astype(np.int32) if rows.size else np.zeros(0, np.int32)
        uncertainty = 1.0 - (rows.max(axis=1) if rows.size else np.zeros(0))
        return cls(rows, index, top, np.ascontiguousarray(uncertainty, np.float64))
