"""Affinity loss of one pyramid level: the average L2 loss of Eq. 1."""
from mxnet.gluon import HybridBlock

from ..config import CHOICES

NORMALIZATIONS = CHOICES["LOSS.AFFINITY_NORMALIZATION"]


class AffinityLoss(HybridBlock):
    """Eq. 1 with masking and BD/OL weights, normalised by ``normalization``.

    Per pixel p and window pair j: ``w_pj = valid_pj * weight_p``, the loss
    term is ``w_pj * (y_pj - sigmoid(logit_pj))^2``. Then

    * ``"image_sum"``: sum over pixels of Eq. 1 (mean over the r^2 pairs),
      averaged over the images of the batch;
    * ``"count"``: sum of the terms / number of pairs with ``w > 0``;
    * ``"weight_sum"``: sum of the terms / sum of ``w`` (a weighted mean).

    Inputs: ``logits`` (B, r*r, H, W), ``target`` and ``valid`` (B, r*r, H, W)
    0/1, ``weight`` (B, H, W). Output: shape (1,).
    """

    def __init__(self, normalization="image_sum", **kwargs):
        super().__init__(**kwargs)
        if normalization not in NORMALIZATIONS:
            raise ValueError("LOSS.AFFINITY_NORMALIZATION: %r is not one of %s"
                             % (normalization, NORMALIZATIONS))
        self.normalization = normalization

    def hybrid_forward(self, F, logits, target, valid, weight):
        pair_weight = F.broadcast_mul(valid, F.expand_dims(weight, axis=1))
        err = F.square(target - F.sigmoid(logits)) * pair_weight
        if self.normalization == "image_sum":
            # mean over the r^2 pairs (Eq. 1), sum over pixels, mean over images
            return F.mean(F.sum(F.mean(err, axis=1), axis=(1, 2)))
        if self.normalization == "count":
            return F.sum(err) / F.maximum(F.sum(pair_weight > 0), 1)
        return F.sum(err) / F.maximum(F.sum(pair_weight), 1e-12)
