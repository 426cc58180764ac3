"""The SSAP network (Sec. 3.1, Fig. 3 (a)) and ``build_model(cfg)``.

One HybridBlock: ResNet backbone -> U-shape decoder (1/4 ... 1/64) -> at every
level a semantic head (C logits) and an affinity head (r*r logits).

Output (a flat tuple, so the net hybridizes and exports): the semantic logits
of every level, fine to coarse, then the affinity logits of every level, fine
to coarse; a semantic-only model returns only the first group, an
affinity-only model only the second. ``net.split_outputs(outputs)`` reads it
as a :class:`~ssap_gluon.inference.Pyramid` indexed by stride. Level i has shape (B, C or r*r, H/s_i,
W/s_i) with s_i = ``net.strides[i]``; affinity channel j is the window offset
(dy, dx) = (j // r - r // 2, j % r - r // 2) (docs/DESIGN.md).
"""
import mxnet as mx
from mxnet.gluon import HybridBlock, nn

from ..config import CHOICES, stride_problem
from ..inference.pyramid import split_outputs
from .backbone import ResNetBackbone, resolve_pretrained
from .decoder import UShapeDecoder
from .heads import PredictionHead

# allowed values live once, in the config (which does not import mxnet)
TASKS = CHOICES["MODEL.TASKS"]
AFFINITY_FEATURES = CHOICES["MODEL.AFFINITY_FEATURE"]
HEAD_CONVS = CHOICES["MODEL.HEAD_CONV"]


class SSAPNet(HybridBlock):
    """Semantic segmentation + affinity pyramid from one backbone.

    Parameters
    ----------
    num_classes : int
        C of the semantic heads.
    window : int
        r; the affinity heads predict r*r channels. Ignored for ``tasks="semantic"``.
    strides : sequence of int
        Output strides of the levels (paper: 4, 8, 16, 32, 64); increasing
        powers of two, at least 4.
    tasks : "joint" | "semantic" | "affinity"
        Which heads exist (Table 2 r = 0 and Table 3 "w/o JL" use one task).
    affinity_feature : "hierarchical" | "single"
        Hierarchical: level i's heads read decoder level i (Fig. 3). Single
        (Table 3): every level's heads read the 1/4 decoder map, with stride s/4.
    dilated : bool
        Dilated backbone (res4, res5 at stride 8); only with "single".
    """

    def __init__(self, backbone="resnet50_v1b", num_classes=19, window=5,
                 strides=(4, 8, 16, 32, 64), tasks="joint", affinity_feature="hierarchical",
                 dilated=False, decoder_channels=256, head_channels=128, head_kernel=3,
                 head_conv="separable", norm_layer=nn.BatchNorm, norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        strides = tuple(int(s) for s in strides)
        _check_structure(tasks, affinity_feature, dilated, window, strides, head_conv,
                         num_classes)
        self.strides = strides
        self.num_levels = len(strides)
        self.num_classes = int(num_classes)
        self.has_semantic = tasks in ("joint", "semantic")
        self.has_affinity = tasks in ("joint", "affinity")
        self.window = int(window) if self.has_affinity else 0
        self.tasks = tasks
        self.affinity_feature = affinity_feature
        self.dilated = bool(dilated)
        # H and W must be multiples of this (docs/MODEL.md "Input size").
        self.input_multiple = max(max(strides), 32)
        single = affinity_feature == "single"
        with self.name_scope():
            self.backbone = ResNetBackbone(backbone, dilated=dilated, norm_layer=norm_layer,
                                           norm_kwargs=norm_kwargs, prefix="backbone_")
            max_stride = max(self.backbone.strides) if single else max(strides)
            self.decoder = UShapeDecoder(self.backbone.channels, self.backbone.strides,
                                         max_stride, channels=decoder_channels,
                                         norm_layer=norm_layer, norm_kwargs=norm_kwargs,
                                         prefix="decoder_")
            if single:
                self._feature_index = [0] * self.num_levels
                head_strides = [s // self.decoder.out_strides[0] for s in strides]
            else:
                self._feature_index = [self.decoder.out_strides.index(s) for s in strides]
                head_strides = [1] * self.num_levels

            def heads(prefix, out_channels):
                block = nn.HybridSequential(prefix=prefix)
                with block.name_scope():
                    for s in head_strides:
                        block.add(PredictionHead(
                            out_channels, decoder_channels, head_channels, head_kernel,
                            stride=s, separable=head_conv == "separable",
                            norm_layer=norm_layer, norm_kwargs=norm_kwargs))
                return block

            self.semantic_heads = heads("semantic_", num_classes) if self.has_semantic else None
            self.affinity_heads = (heads("affinity_", self.window * self.window)
                                   if self.has_affinity else None)

    def forward(self, x, *args):
        if isinstance(x, mx.nd.NDArray):
            self.check_input_shape(x.shape)
        return super().forward(x, *args)

    def check_input_shape(self, shape):
        """Raise ValueError unless ``shape`` is (B, 3, H, W) with H, W multiples
        of ``input_multiple``."""
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError("SSAPNet input: expected (B, 3, H, W), got %s" % (tuple(shape),))
        m = self.input_multiple
        if shape[2] % m or shape[3] % m:
            raise ValueError(
                "SSAPNet input: H and W must be multiples of %d (the coarsest stride), "
                "got %dx%d; pad or crop (e.g. to %dx%d)"
                % (m, shape[2], shape[3], -(-shape[2] // m) * m, -(-shape[3] // m) * m))

    def hybrid_forward(self, F, x):
        maps = self.decoder(*self.backbone(x))
        feats = [maps[i] for i in self._feature_index]
        out = []
        if self.has_semantic:
            out.extend(head(f) for head, f in zip(self.semantic_heads, feats))
        if self.has_affinity:
            out.extend(head(f) for head, f in zip(self.affinity_heads, feats))
        return tuple(out)

    def split_outputs(self, outputs):
        """The flat output tuple as a :class:`~ssap_gluon.inference.Pyramid` of
        logits, indexed by stride."""
        return split_outputs(outputs, self.strides, self.has_semantic, self.has_affinity)

    def activate(self, outputs):
        """Logits -> a Pyramid of probabilities: softmax over classes, sigmoid
        over affinities."""
        return activate(self.split_outputs(outputs))


def activate(pyramid):
    """A Pyramid of logits (NDArrays) -> one of probabilities; also for the
    outputs of an exported (SymbolBlock) network, split with
    :func:`~ssap_gluon.inference.split_outputs`."""
    return pyramid.map(lambda x: mx.nd.softmax(x, axis=1), mx.nd.sigmoid)


def _check_structure(tasks, affinity_feature, dilated, window, strides, head_conv,
                     num_classes):
    if tasks not in TASKS:
        raise ValueError("MODEL.TASKS: %r is not one of %s" % (tasks, TASKS))
    if affinity_feature not in AFFINITY_FEATURES:
        raise ValueError("MODEL.AFFINITY_FEATURE: %r is not one of %s"
                         % (affinity_feature, AFFINITY_FEATURES))
    if head_conv not in HEAD_CONVS:
        raise ValueError("MODEL.HEAD_CONV: %r is not one of %s" % (head_conv, HEAD_CONVS))
    why = stride_problem(strides)
    if why:
        raise ValueError("AFFINITY.STRIDES: %r: %s" % (list(strides), why))
    if tasks == "semantic" and window:
        raise ValueError("MODEL.TASKS semantic trains no affinities: set AFFINITY.WINDOW 0 "
                         "(Table 2 r = 0), got %d" % window)
    if tasks != "semantic" and (window <= 0 or window % 2 == 0):
        raise ValueError("AFFINITY.WINDOW: MODEL.TASKS %s needs an odd window r >= 1 "
                         "(0 means semantic-only: set MODEL.TASKS semantic), got %d"
                         % (tasks, window))
    if tasks != "affinity" and num_classes < 1:
        raise ValueError("MODEL.NUM_CLASSES must be >= 1, got %d" % num_classes)
    if dilated and affinity_feature != "single":
        raise ValueError("MODEL.DILATED needs MODEL.AFFINITY_FEATURE single: a dilated "
                         "backbone has no 1/16 and 1/32 levels for the hierarchical "
                         "pyramid (Table 3 uses dilation only with the single feature)")


def norm_layer_from_config(norm, num_devices=1):
    """(norm_layer, norm_kwargs) for MODEL.NORM: BatchNorm, or SyncBatchNorm
    over ``num_devices`` devices (as gluoncv threads it)."""
    if norm == "bn":
        return nn.BatchNorm, {}
    if norm == "syncbn":
        from mxnet.gluon.contrib.nn import SyncBatchNorm

        return SyncBatchNorm, {"num_devices": int(num_devices)}
    raise ValueError("MODEL.NORM: %r is not 'bn' or 'syncbn'" % (norm,))


def default_initializer():
    """He-normal (fan-in) for conv weights; zero biases, unit BN scales."""
    return mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)


def build_model(cfg, num_devices=1, ctx=None, model_store_root=None):
    """Build and initialise the SSAPNet a config describes.

    Parameters
    ----------
    cfg : CfgNode
        ``MODEL.*`` and ``AFFINITY.WINDOW`` / ``AFFINITY.STRIDES`` are read.
    num_devices : int
        Devices SyncBatchNorm reduces over (``MODEL.NORM syncbn``).
    ctx : Context or list of Context, default ``mx.cpu()``
        Where the parameters live.
    model_store_root : str, optional
        gluoncv model-store folder for ``MODEL.PRETRAINED model_store``
        (default ``~/.mxnet/models``; ``$MXNET_HOME/models`` wins).

    The backbone is loaded from MODEL.PRETRAINED (never downloaded) or
    initialised like the rest with :func:`default_initializer`. Not
    hybridized: call ``net.hybridize()`` (the trainer decides).
    """
    m = cfg.MODEL
    if ctx is None:
        ctx = [mx.cpu()]
    elif isinstance(ctx, mx.Context):
        ctx = [ctx]
    norm_layer, norm_kwargs = norm_layer_from_config(m.NORM, num_devices)
    net = SSAPNet(backbone=m.BACKBONE, num_classes=m.NUM_CLASSES, window=cfg.AFFINITY.WINDOW,
                  strides=cfg.AFFINITY.STRIDES, tasks=m.TASKS,
                  affinity_feature=m.AFFINITY_FEATURE, dilated=m.DILATED,
                  decoder_channels=m.DECODER_CHANNELS, head_channels=m.HEAD_CHANNELS,
                  head_kernel=m.HEAD_KERNEL, head_conv=m.HEAD_CONV,
                  norm_layer=norm_layer, norm_kwargs=norm_kwargs)
    weights = resolve_pretrained(m.BACKBONE, m.PRETRAINED, model_store_root)
    init = default_initializer()
    if weights:
        net.backbone.load_pretrained(weights, ctx=ctx)
    else:
        net.backbone.initialize(init, ctx=ctx)
    for part in (net.decoder, net.semantic_heads, net.affinity_heads):
        if part is not None:
            part.initialize(init, ctx=ctx)
    return net
