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
import numpy as np

__all__ = ["thing_distributions", "js_divergence", "refinement_factor"]


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
