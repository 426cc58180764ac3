"""ResNet backbone from gluoncv's model zoo, cut before the classifier.

The paper's network is "a unified U-shape framework based on ResNet-50"
(Sec. 4); the U-shape decoder reads the outputs of the four residual stages
res2..res5 (strides 4, 8, 16, 32; with ``dilated=True`` gluoncv keeps res4 and
res5 at stride 8, as DeepLab [6] does).

Pretrained weights come from a local file only -- this project never
downloads: ``pretrained=""`` is random init, ``"model_store"`` is gluoncv's
local model store (``$MXNET_HOME/models`` or ``~/.mxnet/models``, the file
``<name>-<short hash>.params``), anything else is a path to a ``.params`` file
saved from a gluoncv ResNetV1b (classifier weights in it are ignored).
"""
import hashlib
import os

from mxnet.gluon import HybridBlock

# Stage names of gluoncv's ResNetV1b we keep; the classifier (avgpool, flat,
# drop, fc) is left out so it is neither initialised nor exported.
_STEM = ("conv1", "bn1", "relu", "maxpool")
_STAGES = ("layer1", "layer2", "layer3", "layer4")


class PretrainedWeightsError(FileNotFoundError):
    """Pretrained backbone weights are missing or do not match; names the path."""


def model_store_path(name, root=None):
    """Where gluoncv's model store keeps ``name`` (the same rule as gluoncv's
    ``get_model_file``: ``$MXNET_HOME/models`` wins over ``root``)."""
    from gluoncv.model_zoo.model_store import short_hash

    if root is None:
        root = os.path.join("~", ".mxnet", "models")
    if "MXNET_HOME" in os.environ:
        root = os.path.join(os.environ["MXNET_HOME"], "models")
    try:
        digest = short_hash(name)
    except ValueError:
        raise PretrainedWeightsError(
            "MODEL.PRETRAINED model_store: gluoncv's model store has no weights for "
            "backbone %r; give a .params path instead" % name) from None
    return os.path.join(os.path.expanduser(root), "%s-%s.params" % (name, digest))


def _sha1(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_pretrained(name, pretrained, root=None):
    """Path of the weights file for MODEL.PRETRAINED, or None for random init.

    Never downloads: a missing file is an error naming the path.
    """
    if not pretrained:
        return None
    if pretrained == "model_store":
        from gluoncv.model_zoo.model_store import _model_sha1

        path = model_store_path(name, root)
        if not os.path.isfile(path):
            raise PretrainedWeightsError(
                "MODEL.PRETRAINED model_store: %s not found. This project does not "
                "download; copy gluoncv's %s weights there (or set MXNET_HOME), or "
                "set MODEL.PRETRAINED to a .params path or \"\" for random init"
                % (path, name))
        if _sha1(path) != _model_sha1[name]:
            raise PretrainedWeightsError(
                "MODEL.PRETRAINED model_store: %s does not match gluoncv's SHA-1 for "
                "%s (corrupt or partial copy?)" % (path, name))
        return path
    path = os.path.expanduser(pretrained)
    if not os.path.isfile(path):
        raise PretrainedWeightsError(
            "MODEL.PRETRAINED: weights file %s not found (expected a .params file of "
            "a gluoncv %s, \"model_store\", or \"\" for random init)" % (path, name))
    return path


class ResNetBackbone(HybridBlock):
    """res1..res5 of a gluoncv ResNetV1b; returns the four stage outputs.

    Parameters
    ----------
    name : str
        gluoncv model-zoo name of a ResNetV1b (``resnet18_v1b``,
        ``resnet50_v1b``, ``resnet101_v1b``, ...).
    dilated : bool
        Keep res4/res5 at stride 8 (dilation 2/4) instead of 16/32.
    norm_layer, norm_kwargs
        Normalisation block and its extra arguments (e.g. SyncBatchNorm with
        ``{"num_devices": n}``), threaded into every residual block as gluoncv does.
    """

    def __init__(self, name="resnet50_v1b", dilated=False, norm_layer=None,
                 norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        from gluoncv.model_zoo import get_model
        from gluoncv.model_zoo.resnetv1b import ResNetV1b

        extra = {}
        if norm_layer is not None:
            extra["norm_layer"] = norm_layer
        if norm_kwargs:
            extra["norm_kwargs"] = dict(norm_kwargs)
        not_resnet = ("MODEL.BACKBONE: %r is not a ResNetV1b; SSAP needs a ResNetV1b family "
                      "model (resnet18_v1b, resnet50_v1b, resnet101_v1b, ...)" % name)
        try:
            base = get_model(name, pretrained=False, dilated=dilated, **extra)
        except ValueError as e:
            raise ValueError("MODEL.BACKBONE: %r is not a gluoncv model-zoo name (%s)"
                             % (name, str(e).splitlines()[0])) from None
        except TypeError:  # another family: no dilated / norm_layer arguments
            raise ValueError(not_resnet) from None
        if not isinstance(base, ResNetV1b):
            raise ValueError(not_resnet)
        self.backbone_name = name
        self.dilated = bool(dilated)
        # The stage blocks keep their gluoncv names so that a .params file of the
        # whole classifier loads by structure (conv1.weight, layer1.0.bn1.gamma, ...).
        for attr in _STEM + _STAGES:
            setattr(self, attr, getattr(base, attr))
        self.strides = (4, 8, 8, 8) if dilated else (4, 8, 16, 32)
        self.channels = tuple(_stage_channels(getattr(base, s)) for s in _STAGES)

    def load_pretrained(self, path, ctx=None):
        """Load backbone weights from a gluoncv ResNetV1b .params file.

        Every backbone parameter must be in the file with its shape; the only
        extra entries allowed are the classifier's (``fc.*``), so the weights of
        a different depth (whose names overlap) are refused.
        """
        import mxnet as mx

        def refuse(why):
            return PretrainedWeightsError("MODEL.PRETRAINED: %s does not hold %s weights: %s"
                                          % (path, self.backbone_name, why))

        try:
            loaded = mx.nd.load(path)
        except mx.base.MXNetError:
            raise refuse("not an mxnet .params file") from None
        if not isinstance(loaded, dict):
            raise refuse("expected named parameters, got a list")
        params = self._collect_params_with_prefix()
        missing = sorted(set(params) - set(loaded))
        extra = sorted(k for k in set(loaded) - set(params) if not k.startswith("fc."))
        wrong = sorted(k for k in set(params) & set(loaded)
                       if params[k].shape and loaded[k].shape != params[k].shape
                       and 0 not in params[k].shape)
        problems = ["%d %s (e.g. %s)" % (len(names), what, ", ".join(names[:2]))
                    for names, what in ((missing, "missing"), (extra, "unexpected"),
                                        (wrong, "of another shape")) if names]
        if problems:
            raise refuse("; ".join(problems))
        # Checked above: the only entries left out are the classifier's.
        self.load_parameters(path, ctx=ctx, allow_missing=False, ignore_extra=True)

    def hybrid_forward(self, F, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5


def _stage_channels(stage):
    """Output channels of a ResNetV1b stage (its last block's last conv)."""
    last = stage[len(stage) - 1]
    conv = last.conv3 if hasattr(last, "conv3") else last.conv2
    return conv._channels
