"""One forward pass: an image in, the semantic and affinity pyramid out.

The network returns logits; inference works with probabilities (softmax over
classes, sigmoid over the r*r affinities), which is what Eq. 2 averages and
what test-time augmentation averages (docs/INFERENCE.md).

Level sampling (docs/MODEL.md §3): level pixel ``i`` of stride ``s`` is input
pixel ``s*i``. :func:`upsample_level` brings a level back to the input grid
under that convention.
"""
import mxnet as mx
import numpy as np
from mxnet import autograd

__all__ = ["forward_probabilities", "upsample_level", "predict_semantic"]


def forward_probabilities(net, x):
    """``net`` on the batch ``x`` (NDArray (B, 3, H, W)) in inference mode ->
    a :class:`~ssap_gluon.inference.Pyramid` of float32 probability NDArrays."""
    with autograd.predict_mode():
        outputs = net(x)
    return net.activate(outputs)


def upsample_level(maps, stride, out_size):
    """Bilinear upsampling of level maps ``(B, C, h, w)`` (NDArray) to ``out_size``.

    Exact for the offset-0 sampling: output pixel ``y`` reads level coordinate
    ``y / stride``. ``align_corners`` resizing to ``stride*(h-1)+1`` rows gives
    precisely that; rows past the last level pixel repeat it (edge padding).
    """
    b, c, h, w = maps.shape
    out_h, out_w = out_size
    if stride == 1:
        up = maps
    else:
        up = mx.nd.contrib.BilinearResize2D(maps, height=stride * (h - 1) + 1,
                                            width=stride * (w - 1) + 1, align_corners=True)
    pad_h, pad_w = out_h - up.shape[2], out_w - up.shape[3]
    if pad_h < 0 or pad_w < 0:
        up = up[:, :, :out_h, :out_w]
        pad_h, pad_w = max(pad_h, 0), max(pad_w, 0)
    if pad_h or pad_w:
        up = mx.nd.pad(up, mode="edge", pad_width=(0, 0, 0, 0, 0, pad_h, 0, pad_w))
    return up


def predict_semantic(net, image, ctx):
    """Class-index map ``(H, W)`` int64 of one normalised image ``(3, H, W)``
    (numpy) from the finest semantic level: its class probabilities upsampled
    to the input size (:func:`upsample_level`), argmax -- the same map the
    instance pipeline's semantic output is (``instances.semantic_at_full_resolution``),
    so validation and ``scripts/test.py`` report the same mIoU."""
    x = mx.nd.array(image[None], ctx=ctx)
    pyramid = forward_probabilities(net, x)
    if not pyramid.has_semantic:
        raise ValueError("the network has no semantic head (MODEL.TASKS affinity)")
    probs = pyramid.semantic_at(pyramid.finest).astype("float32")
    up = upsample_level(probs, pyramid.finest, image.shape[1:])
    return up.argmax(axis=1)[0].asnumpy().astype(np.int64)
