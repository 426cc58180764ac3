"""Multi-class focal loss [35] for the semantic branch (L_s^i of Eq. 10)."""
from mxnet.gluon import HybridBlock


class FocalLoss(HybridBlock):
    """FL = -(1 - p_t)^gamma * log(p_t), averaged over non-ignored pixels.

    ``p_t`` is the softmax probability of the true class. ``gamma = 0`` is
    the cross-entropy. Pixels labelled ``ignore_label`` carry no loss and are
    not counted; the mean is over the non-ignored pixels of the whole batch
    (0 when there are none). No class-balancing alpha (the paper mentions
    none; RetinaNet's alpha is for its binary form).

    Inputs: ``logits`` (B, C, H, W), ``label`` (B, H, W) float train ids.
    Output: shape (1,).
    """

    def __init__(self, gamma=2.0, ignore_label=255, **kwargs):
        super().__init__(**kwargs)
        if gamma < 0:
            raise ValueError("LOSS.FOCAL_GAMMA must be >= 0, got %r" % (gamma,))
        self.gamma = float(gamma)
        self.ignore_label = ignore_label

    def hybrid_forward(self, F, logits, label):
        log_p = F.log_softmax(logits, axis=1)
        valid = label != self.ignore_label
        log_pt = F.pick(log_p, label * valid, axis=1)  # ignored pixels pick class 0
        loss = -log_pt
        if self.gamma > 0:
            # (1 - p_t)^gamma; the epsilon keeps d/dp finite at p_t = 1 when gamma < 1.
            eps = 0.0 if self.gamma >= 1 else 1e-6
            loss = loss * (F.relu(1 - F.exp(log_pt)) + eps) ** self.gamma
        return F.sum(loss * valid) / F.maximum(F.sum(valid), 1)
