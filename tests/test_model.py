"""The SSAP network: shapes at every level, variants, export/reload, pretrained
weights, norm layers and input checks."""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from ssap_gluon.config import load_config
from ssap_gluon.model import (PretrainedWeightsError, activate, build_model, model_store_path,
                              split_outputs)
from ssap_gluon.model.backbone import ResNetBackbone

THIN = ["MODEL.DECODER_CHANNELS", "16", "MODEL.HEAD_CHANNELS", "8", "MODEL.PRETRAINED", "",
        "MODEL.NORM", "bn"]
STRIDES = (4, 8, 16, 32, 64)


def _cfg(*opts, backbone="resnet18_v1b"):
    return load_config(None, THIN + ["MODEL.BACKBONE", backbone] + list(opts))


def _expected_shapes(b, h, w, classes, window, semantic=True, affinity=True):
    shapes = []
    if semantic:
        shapes += [(b, classes, h // s, w // s) for s in STRIDES]
    if affinity:
        shapes += [(b, window * window, h // s, w // s) for s in STRIDES]
    return shapes


@pytest.mark.parametrize("backbone", ["resnet50_v1b", "resnet101_v1b"])
@pytest.mark.parametrize("window", [3, 5, 7, 9])
def test_output_shapes_every_level_hybridized_and_not(backbone, window):
    net = build_model(_cfg("AFFINITY.WINDOW", str(window), backbone=backbone))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 128))
    out = net(x)
    assert [o.shape for o in out] == _expected_shapes(1, 64, 128, 19, window)
    assert net.strides == STRIDES and net.window == window
    assert net.has_semantic and net.has_affinity
    net.hybridize()
    out_h = net(x)
    assert [o.shape for o in out_h] == [o.shape for o in out]
    for a, b in zip(out, out_h):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Cannot decide type")  # mxnet, about the input
def test_export_and_reload_give_identical_outputs(tmp_path):
    net = build_model(_cfg("MODEL.HEAD_KERNEL", "5"))
    x = mx.nd.random.uniform(shape=(2, 3, 128, 128))
    net.hybridize()
    net(x)  # builds the graph export writes
    prefix = str(tmp_path / "ssap")
    net.export(prefix, epoch=0)
    loaded = gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"],
                                       prefix + "-0000.params")
    ref, got = net(x), loaded(x)
    assert len(got) == len(ref) == 10
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    # the module-level activate serves the exported net (no SSAPNet attributes)
    probs = activate(split_outputs(got, (4, 8, 16, 32, 64)))
    probs_ref = net.activate(ref)
    np.testing.assert_array_equal(probs.semantic_at(16).asnumpy(),
                                  probs_ref.semantic_at(16).asnumpy())
    np.testing.assert_array_equal(probs.affinity_at(64).asnumpy(),
                                  probs_ref.affinity_at(64).asnumpy())


def test_variant_single_feature_with_and_without_dilation():
    x = mx.nd.random.uniform(shape=(1, 3, 128, 64))
    for dilated in (False, True):
        net = build_model(_cfg("MODEL.AFFINITY_FEATURE", "single",
                               "MODEL.DILATED", str(dilated)))
        assert net.backbone.strides == ((4, 8, 8, 8) if dilated else (4, 8, 16, 32))
        # every head reads the 1/4 map; the head conv strides are s / 4
        head_strides = [h.conv[0]._kwargs["stride"][0] for h in net.affinity_heads]
        assert head_strides == [1, 2, 4, 8, 16]
        assert [o.shape for o in net(x)] == _expected_shapes(1, 128, 64, 19, 5)
    hier = build_model(_cfg())
    assert [h.conv[0]._kwargs["stride"][0] for h in hier.affinity_heads] == [1] * 5


def test_variant_single_task_models():
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    sem = build_model(_cfg("MODEL.TASKS", "semantic", "AFFINITY.WINDOW", "0"))
    assert sem.has_semantic and not sem.has_affinity and sem.window == 0
    assert sem.affinity_heads is None
    assert [o.shape for o in sem(x)] == _expected_shapes(1, 64, 64, 19, 0, affinity=False)
    aff = build_model(_cfg("MODEL.TASKS", "affinity", "AFFINITY.WINDOW", "7"))
    assert aff.semantic_heads is None and not aff.has_semantic
    assert [o.shape for o in aff(x)] == _expected_shapes(1, 64, 64, 19, 7, semantic=False)
    # no parameter of a missing branch exists
    assert not any("semantic" in k for k in aff.collect_params().keys())
    assert not any("affinity" in k for k in sem.collect_params().keys())


def test_head_kernel_and_conv_kind():
    full = build_model(_cfg("MODEL.HEAD_KERNEL", "5", "MODEL.HEAD_CONV", "full"))
    conv = full.semantic_heads[0].conv[0]
    assert conv.weight.shape == (8, 16, 5, 5)  # dense 5x5, decoder 16 -> head 8
    sep = build_model(_cfg("MODEL.HEAD_KERNEL", "5"))
    dw, pw = sep.semantic_heads[0].conv[0], sep.semantic_heads[0].conv[3]
    assert dw.weight.shape == (16, 1, 5, 5) and pw.weight.shape == (8, 16, 1, 1)
    assert sep.semantic_heads[4].predict.weight.shape == (19, 8, 1, 1)
    assert sep.affinity_heads[4].predict.weight.shape == (25, 8, 1, 1)


def test_syncbn_is_threaded_with_num_devices():
    from mxnet.gluon.contrib.nn import SyncBatchNorm

    net = build_model(_cfg("MODEL.NORM", "syncbn"), num_devices=3)
    norms = [b for b in _blocks(net) if isinstance(b, gluon.nn.BatchNorm)]
    assert norms and all(isinstance(b, SyncBatchNorm) for b in norms)
    assert {b._kwargs["ndev"] for b in norms} == {3}
    # backbone, decoder and heads all use it
    assert any(isinstance(b, SyncBatchNorm) for b in _blocks(net.backbone.layer4))
    assert any(isinstance(b, SyncBatchNorm) for b in _blocks(net.decoder))
    assert any(isinstance(b, SyncBatchNorm) for b in _blocks(net.affinity_heads))
    one = build_model(_cfg("MODEL.NORM", "syncbn"), num_devices=1)
    assert len(one(mx.nd.zeros((2, 3, 64, 64)))) == 10


def _blocks(block):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


def test_every_parameter_gets_a_gradient():
    net = build_model(_cfg())
    net.hybridize()
    x = mx.nd.random.uniform(shape=(2, 3, 64, 64))
    with autograd.record():
        out = net(x)
        loss = sum((o * mx.nd.random.normal(shape=o.shape)).sum() for o in out)
    loss.backward()
    for name, p in net.collect_params().items():
        if p.grad_req != "null":
            assert np.abs(p.grad().asnumpy()).sum() > 0, name


def test_activate_gives_probabilities():
    net = build_model(_cfg())
    probs = net.activate(net(mx.nd.random.uniform(shape=(1, 3, 64, 64))))
    sem, aff = probs.semantic, probs.affinity
    assert len(sem) == len(aff) == 5 and probs.strides == (4, 8, 16, 32, 64)
    np.testing.assert_allclose(sem[0].sum(axis=1).asnumpy(), 1.0, rtol=1e-5)
    # (random weights in inference mode saturate some logits, so 0 and 1 occur)
    assert all(((a >= 0) * (a <= 1)).min().asscalar() == 1 for a in aff)
    assert aff[0].shape == (1, 25, 16, 16)


def test_input_size_must_be_multiple_of_coarsest_stride():
    net = build_model(_cfg())
    with pytest.raises(ValueError, match="multiples of 64.*got 96x64.*128x64"):
        net(mx.nd.zeros((1, 3, 96, 64)))
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\)"):
        net(mx.nd.zeros((1, 1, 64, 64)))


@pytest.mark.parametrize("opts,match", [
    (["MODEL.DILATED", "True"], "MODEL.DILATED needs MODEL.AFFINITY_FEATURE single"),
    (["MODEL.TASKS", "semantic"], "set AFFINITY.WINDOW 0"),
    (["AFFINITY.WINDOW", "0"], "set MODEL.TASKS semantic"),
    (["MODEL.BACKBONE", "resnet_nope"], "MODEL.BACKBONE: 'resnet_nope' is not a gluoncv"),
    (["MODEL.BACKBONE", "mobilenet1.0"], "needs a ResNetV1b"),
    (["MODEL.BACKBONE", "vgg11"], "needs a ResNetV1b"),
])
def test_bad_model_configs_name_the_key(opts, match):
    with pytest.raises(ValueError, match=match):
        build_model(_cfg(*opts))


def test_pretrained_from_params_file(tmp_path):
    from gluoncv.model_zoo import get_model

    # a whole gluoncv classifier, as the model store holds it (with fc)
    full = get_model("resnet18_v1b", pretrained=False)
    full.initialize(mx.init.Uniform(0.5))
    full(mx.nd.zeros((1, 3, 64, 64)))
    path = str(tmp_path / "r18.params")
    full.save_parameters(path)
    net = build_model(_cfg("MODEL.PRETRAINED", path))
    np.testing.assert_array_equal(net.backbone.layer3[1].conv2.weight.data().asnumpy(),
                                  full.layer3[1].conv2.weight.data().asnumpy())
    np.testing.assert_array_equal(net.backbone.conv1.weight.data().asnumpy(),
                                  full.conv1.weight.data().asnumpy())
    # a file of another architecture is refused with the path in the message
    other = get_model("resnet34_v1b", pretrained=False)
    other.initialize()
    other(mx.nd.zeros((1, 3, 64, 64)))
    bad = str(tmp_path / "r34.params")
    other.save_parameters(bad)
    with pytest.raises(PretrainedWeightsError, match="r34.params does not hold resnet18_v1b"):
        build_model(_cfg("MODEL.PRETRAINED", bad))


def test_pretrained_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    missing = str(tmp_path / "nope.params")
    with pytest.raises(PretrainedWeightsError, match="nope.params not found"):
        build_model(_cfg("MODEL.PRETRAINED", missing))
    # model store: never a download, the expected path in the message
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    expected = model_store_path("resnet18_v1b")
    assert expected.startswith(str(tmp_path / "mxhome" / "models"))
    with pytest.raises(PretrainedWeightsError, match="%s not found.*does not download"
                       % expected.replace(".", r"\.")):
        build_model(_cfg("MODEL.PRETRAINED", "model_store"))
    os.makedirs(os.path.dirname(expected))
    with open(expected, "wb") as f:
        f.write(b"truncated")
    with pytest.raises(PretrainedWeightsError, match="does not match gluoncv's SHA-1"):
        build_model(_cfg("MODEL.PRETRAINED", "model_store"))


def test_backbone_stage_outputs():
    bb = ResNetBackbone("resnet50_v1b")
    bb.initialize()
    c2, c3, c4, c5 = bb(mx.nd.zeros((1, 3, 64, 64)))
    assert bb.channels == (256, 512, 1024, 2048)
    assert [c.shape[1:] for c in (c2, c3, c4, c5)] == [(256, 16, 16), (512, 8, 8),
                                                       (1024, 4, 4), (2048, 2, 2)]


def test_a_few_steps_fit_one_batch():
    """Network, targets and loss together: the loss of one batch goes down."""
    from ssap_gluon.losses import SSAPLoss
    from ssap_gluon.targets import build_targets

    mx.random.seed(0)
    cfg = _cfg("LOSS.AFFINITY_ALPHA", "0.1", "AFFINITY.DROP_ALL_ONE_PROB", "0.0")
    net = build_model(cfg)
    net.hybridize()
    loss_fn = SSAPLoss(cfg)
    rng = np.random.default_rng(0)
    sem = np.zeros((2, 64, 128), np.int32)
    inst = np.zeros((2, 64, 128), np.int32)
    sem[:, 16:48, 20:60], inst[:, 16:48, 20:60] = 13, 26001
    sem[:, 8:40, 70:120], inst[:, 8:40, 70:120] = 13, 26002
    targets = build_targets(cfg, sem, inst, list(range(11, 19)), rng)
    x = mx.nd.array(np.random.default_rng(1).normal(size=(2, 3, 64, 128)))
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-2})
    losses = []
    for _ in range(12):
        with autograd.record():
            total, _ = loss_fn(net(x), targets)
        total.backward()
        trainer.step(1)
        losses.append(total.asscalar())
    assert losses[-1] < 0.5 * losses[0]


def test_two_devices_targets_split_and_loss_per_slice():
    """Data-parallel use as the trainer does it, on two CPU contexts."""
    from ssap_gluon.losses import SSAPLoss
    from ssap_gluon.targets import build_targets

    ctx = [mx.cpu(0), mx.cpu(1)]
    cfg = _cfg()
    net = build_model(cfg, num_devices=2, ctx=ctx)
    rng = np.random.default_rng(0)
    sem = rng.integers(0, 19, (3, 64, 64))
    inst = np.where(np.isin(sem, range(11, 19)), 26001, 0)
    targets = build_targets(cfg, sem, inst, list(range(11, 19)), rng)
    images = mx.nd.array(rng.normal(size=(3, 3, 64, 64)))
    loss_fn = SSAPLoss(cfg)
    slices = gluon.utils.split_and_load(images, ctx, even_split=False)
    totals = []
    for x, t in zip(slices, targets.split(len(ctx))):
        with autograd.record():
            total, terms = loss_fn(net(x), t)
        total.backward()
        assert total.context == x.context and terms["affinity_s64"].context == x.context
        totals.append(total.asscalar())
    # the slice on cpu(1) gives the same loss computed alone on cpu(0)
    with autograd.train_mode():  # batch statistics in BN, as above
        alone, _ = loss_fn(net(slices[1].as_in_context(mx.cpu(0))), targets.split(2)[1])
    assert alone.asscalar() == pytest.approx(totals[1], rel=1e-5)
