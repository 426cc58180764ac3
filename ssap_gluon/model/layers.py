"""Conv-norm-ReLU building blocks shared by the decoder and the heads."""
from mxnet.gluon import nn


def conv_norm_relu(channels, kernel, stride=1, norm_layer=nn.BatchNorm, norm_kwargs=None,
                   separable=False, in_channels=0, relu=True):
    """A KxK conv (dense, or depthwise KxK + pointwise 1x1), norm, ReLU.

    Padding is K // 2, so a stride-s conv maps output pixel i to input pixel
    s*i: the same "offset 0" sampling the targets use (docs/DESIGN.md).
    ``separable`` needs ``in_channels`` (the depthwise conv has one group per
    input channel).
    """
    norm_kwargs = norm_kwargs or {}
    block = nn.HybridSequential(prefix="")
    pad = kernel // 2
    if separable:
        if not in_channels:
            raise ValueError("a separable conv needs in_channels")
        block.add(nn.Conv2D(in_channels, kernel, strides=stride, padding=pad,
                            groups=in_channels, use_bias=False, in_channels=in_channels))
        block.add(norm_layer(in_channels=in_channels, **norm_kwargs))
        block.add(nn.Activation("relu"))
        block.add(nn.Conv2D(channels, 1, use_bias=False, in_channels=in_channels))
    else:
        block.add(nn.Conv2D(channels, kernel, strides=stride, padding=pad, use_bias=False,
                            in_channels=in_channels))
    block.add(norm_layer(in_channels=channels, **norm_kwargs))
    if relu:
        block.add(nn.Activation("relu"))
    return block
