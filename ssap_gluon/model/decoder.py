"""U-shape decoder of Fig. 3 (a): feature levels at 1/4 ... 1/64.

Top-down path (docs/REPRODUCTION.md, "Decoder fusion"): every backbone stage
gets a lateral 1x1 conv-BN-ReLU to ``channels``; the coarser decoder level is
upsampled (nearest, x2, or not at
all where a dilated backbone keeps the stride) and added element-wise ("Elem.
Sum" in the Fig. 3 legend). Levels coarser than res5 (1/64 for the paper)
come from extra stride-2 3x3 conv-BN-ReLU blocks on top of res5, as
RetinaNet builds P6 from C5; each is the top of the top-down path.
"""
from mxnet.gluon import HybridBlock, nn

from .layers import conv_norm_relu


class UShapeDecoder(HybridBlock):
    """Fuse backbone stages (strides ``in_strides``) into levels ``out_strides``.

    ``out_strides`` is 4, 8, ... up to the coarsest level; the levels above
    ``max(in_strides)`` are extra stride-2 blocks. Returns the decoder maps
    fine to coarse. ``in_strides`` may repeat a stride (dilated backbone); then
    only the finest map of that stride is returned per level, and coarser
    extra levels are not allowed.
    """

    def __init__(self, in_channels, in_strides, max_stride, channels=256,
                 norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        self.in_strides = tuple(in_strides)
        top = max(self.in_strides)
        if max_stride < top and max_stride not in self.in_strides:
            raise ValueError("decoder: stride %d is not a backbone stage %r"
                             % (max_stride, self.in_strides))
        extra = []
        s = top
        while s < max_stride:
            s *= 2
            extra.append(s)
        if extra and len(set(self.in_strides)) != len(self.in_strides):
            raise ValueError("decoder: levels coarser than the backbone (%r) need an "
                             "undilated backbone (strides %r)" % (extra, self.in_strides))
        self.extra_strides = tuple(extra)
        with self.name_scope():
            self.laterals = nn.HybridSequential(prefix="lateral_")
            for c in in_channels:
                self.laterals.add(conv_norm_relu(channels, 1, norm_layer=norm_layer,
                                                 norm_kwargs=norm_kwargs, in_channels=c))
            self.extras = nn.HybridSequential(prefix="extra_")
            prev = in_channels[-1]
            for _ in extra:
                self.extras.add(conv_norm_relu(channels, 3, stride=2, norm_layer=norm_layer,
                                               norm_kwargs=norm_kwargs, in_channels=prev))
                prev = channels
        # Strides of the returned maps, fine to coarse.
        self.out_strides = tuple(sorted(set(self.in_strides))) + self.extra_strides

    def hybrid_forward(self, F, *feats):
        # Extra (coarser than res5) levels, bottom-up from res5.
        extra_maps = []
        x = feats[-1]
        for block in self.extras:
            x = block(x)
            extra_maps.append(x)
        # Top-down from the first extra level (or res5): each finer level is its
        # lateral + the upsampled coarser level. Further extra levels stay
        # bottom-up only (they have nothing coarser to receive).
        top = extra_maps[0] if extra_maps else None
        top_stride = self.extra_strides[0] if extra_maps else None
        fused = {}
        for i in range(len(feats) - 1, -1, -1):
            lat = self.laterals[i](feats[i])
            s = self.in_strides[i]
            if top is not None:
                if top_stride == 2 * s:
                    top = F.UpSampling(top, scale=2, sample_type="nearest")
                lat = lat + top
            top, top_stride = lat, s
            fused[s] = lat  # the finest stage of a repeated stride wins
        out = [fused[s] for s in sorted(fused)] + extra_maps
        return tuple(out)
