"""Per-level prediction heads of Fig. 3 (a) (docs/REPRODUCTION.md, "Branch heads").

A head is one KxK conv-BN-ReLU (K = 3, or 5 for Table 6 "Kernel 5"; dense or
depthwise-separable, ``MODEL.HEAD_CONV``) and a 1x1 predictor with bias. The
predictor outputs *logits*: the losses apply log-softmax / sigmoid themselves
(numerically stabler), ``SSAPNet.activate`` turns them into probabilities.
"""
from mxnet.gluon import HybridBlock, nn

from .layers import conv_norm_relu


class PredictionHead(HybridBlock):
    """KxK conv-BN-ReLU then a 1x1 conv to ``out_channels`` logits.

    ``stride`` > 1 subsamples (the "single" variant of Table 3 predicts the
    1/s level from the 1/4 map with stride s/4).
    """

    def __init__(self, out_channels, in_channels, head_channels=128, kernel=3, stride=1,
                 separable=True, norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv = conv_norm_relu(head_channels, kernel, stride=stride,
                                       norm_layer=norm_layer, norm_kwargs=norm_kwargs,
                                       separable=separable, in_channels=in_channels)
            self.predict = nn.Conv2D(out_channels, 1, in_channels=head_channels)

    def hybrid_forward(self, F, x):
        return self.predict(self.conv(x))
