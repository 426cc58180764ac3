"""Focal loss, the Eq. 1 affinity loss and the Eq. 10 total, against hand values,
cross-entropy and finite differences."""
import math

import mxnet as mx
import numpy as np
import pytest

from ssap_gluon.config import load_config
from ssap_gluon.losses import AffinityLoss, FocalLoss, SSAPLoss
from ssap_gluon.targets import build_targets

THINGS = list(range(11, 19))


def nd64(x):
    return mx.nd.array(np.asarray(x, np.float64), dtype="float64")


def _tiny_focal_inputs():
    # 2 classes, 3 pixels: logits (0, 0) label 0 -> p_t = 1/2; (ln 3, 0) label 0
    # -> p_t = 3/4; third pixel ignored.
    logits = nd64([[[[0.0, math.log(3.0), 5.0]], [[0.0, 0.0, -2.0]]]])
    label = nd64([[[0, 0, 255]]])
    return logits, label


def test_focal_loss_hand_values():
    logits, label = _tiny_focal_inputs()
    # gamma 2: ((1/2)^2 ln 2 + (1/4)^2 ln(4/3)) / 2 valid pixels
    expected = (0.25 * math.log(2.0) + 0.0625 * math.log(4.0 / 3.0)) / 2
    assert FocalLoss(2.0)(logits, label).asscalar() == pytest.approx(expected, rel=1e-12)
    # gamma 0: cross-entropy
    expected_ce = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert FocalLoss(0.0)(logits, label).asscalar() == pytest.approx(expected_ce, rel=1e-12)


def test_focal_gamma0_equals_gluon_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 4, 6)).astype(np.float32)
    label = rng.integers(0, 5, (2, 4, 6)).astype(np.float32)
    label[0, 0, :3] = 255
    valid = label != 255
    ce = mx.gluon.loss.SoftmaxCrossEntropyLoss(axis=1, sparse_label=True)
    per_pixel = ce(mx.nd.array(logits).transpose((0, 2, 3, 1)).reshape((-1, 5)),
                   mx.nd.array(np.where(valid, label, 0)).reshape((-1,))).asnumpy()
    expected = per_pixel[valid.reshape(-1)].mean()
    got = FocalLoss(0.0)(mx.nd.array(logits), mx.nd.array(label)).asscalar()
    assert got == pytest.approx(expected, rel=1e-5)


def test_focal_all_ignored_is_zero_with_zero_gradient():
    logits = nd64(np.ones((1, 3, 2, 2)))
    logits.attach_grad()
    with mx.autograd.record():
        loss = FocalLoss(2.0)(logits, nd64(np.full((1, 2, 2), 255)))
    loss.backward()
    assert loss.asscalar() == 0.0 and not logits.grad.asnumpy().any()


def _finite_difference_check(fn, x, eps=1e-6, rtol=1e-5, atol=1e-9):
    """Autograd gradient of scalar fn(x) against central differences (float64)."""
    xn = nd64(x)
    xn.attach_grad()
    with mx.autograd.record():
        y = fn(xn)
    y.backward()
    grad = xn.grad.asnumpy()
    num = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = fn(nd64(x)).asscalar()
        flat[i] = old - eps
        minus = fn(nd64(x)).asscalar()
        flat[i] = old
        num.reshape(-1)[i] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=rtol, atol=atol)
    return grad


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.0])
def test_focal_gradient_matches_finite_differences(gamma):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 2, 3)) * 2
    label = rng.integers(0, 4, (2, 2, 3)).astype(np.float64)
    label[1, 0, 0] = 255
    loss = FocalLoss(gamma)
    grad = _finite_difference_check(lambda v: loss(v, nd64(label)), x)
    assert not grad[1, :, 0, 0].any()  # the ignored pixel gets no gradient


def test_affinity_loss_hand_values():
    # logits 0 -> a = 1/2, (y - a)^2 = 1/4 for every pair; 2x2 pixels, r = 3;
    # one pixel weighted 3 (OL), one pair masked.
    logits = nd64(np.zeros((1, 9, 2, 2)))
    target = nd64(np.ones((1, 9, 2, 2)))
    valid = np.ones((1, 9, 2, 2))
    valid[0, 0, 1, 1] = 0
    weight = nd64([[[3.0, 1.0], [1.0, 1.0]]])
    valid = nd64(valid)
    # image_sum: sum over pixels of (1/9) sum_j w (y-a)^2 = (3*9 + 9 + 9 + 8) / 9 / 4
    assert AffinityLoss("image_sum")(logits, target, valid, weight).asscalar() == \
        pytest.approx(53 / 36)
    # count: sum of terms / 35 kept pairs
    assert AffinityLoss("count")(logits, target, valid, weight).asscalar() == \
        pytest.approx(53 / 4 / 35)
    # weight_sum: sum of terms / sum of weights (27 + 9 + 9 + 8 = 53)
    assert AffinityLoss("weight_sum")(logits, target, valid, weight).asscalar() == \
        pytest.approx(0.25)


@pytest.mark.parametrize("normalization", ["image_sum", "count", "weight_sum"])
def test_affinity_loss_matches_numpy_and_finite_differences(normalization):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 9, 3, 2))
    target = rng.integers(0, 2, x.shape).astype(np.float64)
    valid = (rng.random(x.shape) > 0.2).astype(np.float64)
    target *= valid
    weight = rng.choice([0.0, 1.0, 3.0], (2, 3, 2))
    a = 1 / (1 + np.exp(-x))
    w = valid * weight[:, None]
    err = w * (target - a) ** 2
    expected = {"image_sum": err.mean(axis=1).sum(axis=(1, 2)).mean(),
                "count": err.sum() / (w > 0).sum(),
                "weight_sum": err.sum() / w.sum()}[normalization]
    loss = AffinityLoss(normalization)
    args = [nd64(target), nd64(valid), nd64(weight)]
    assert loss(nd64(x), *args).asscalar() == pytest.approx(expected, rel=1e-12)
    grad = _finite_difference_check(lambda v: loss(v, *args), x)
    assert not grad[w == 0].any()


def test_affinity_loss_rejects_unknown_normalization():
    with pytest.raises(ValueError, match="AFFINITY_NORMALIZATION"):
        AffinityLoss("sum")


def _cfg(*opts):
    return load_config(None, ["MODEL.NUM_CLASSES", "6", "AFFINITY.WINDOW", "3",
                              "AFFINITY.STRIDES", "[4, 8, 16]",
                              "TEST.AFFINITY_STRIDES", "[4, 8, 16]",
                              "TEST.CASCADE_INIT_STRIDE", "16",
                              "LOSS.LEVEL_WEIGHTS", "[0.1, 0.3, 1.0]",
                              "LOSS.SEMANTIC_LEVEL_WEIGHTS", "[1.0, 0.5, 2.0]"] + list(opts))


def _batch(cfg, rng, b=2, h=32, w=48):
    sem = rng.integers(0, 6, (b, h, w))
    sem[:, :4] = 255
    inst = np.zeros((b, h, w), np.int32)
    inst[:, 8:20, 10:30] = 3
    sem[:, 8:20, 10:30] = 5
    return build_targets(cfg, sem, inst, [5], rng)


def _outputs(cfg, rng, b=2, h=32, w=48, semantic=True, affinity=True):
    out = []
    if semantic:
        out += [mx.nd.array(rng.normal(size=(b, 6, h // s, w // s))) for s in (4, 8, 16)]
    if affinity:
        out += [mx.nd.array(rng.normal(size=(b, 9, h // s, w // s))) for s in (4, 8, 16)]
    return out


def test_ssap_loss_is_eq10_of_its_terms():
    cfg = _cfg("LOSS.AFFINITY_ALPHA", "0.01", "LOSS.FOCAL_GAMMA", "1.0")
    rng = np.random.default_rng(3)
    targets, outputs = _batch(cfg, rng), _outputs(cfg, rng)
    total, terms = SSAPLoss(cfg)(outputs, targets)
    assert list(terms) == ["semantic_s4", "semantic_s8", "semantic_s16",
                           "affinity_s4", "affinity_s8", "affinity_s16"]
    focal, aff = FocalLoss(1.0), AffinityLoss("image_sum")
    for i, s in enumerate((4, 8, 16)):
        ref_s = focal(outputs[i], mx.nd.array(targets.semantic[i])).asscalar()
        ref_a = aff(outputs[3 + i], mx.nd.array(targets.affinity[i]),
                    mx.nd.array(targets.affinity_valid[i]),
                    mx.nd.array(targets.affinity_weight[i])).asscalar()
        assert terms["semantic_s%d" % s].asscalar() == pytest.approx(ref_s, rel=1e-6)
        assert terms["affinity_s%d" % s].asscalar() == pytest.approx(ref_a, rel=1e-6)
    t = {k: v.asscalar() for k, v in terms.items()}
    expected = (1.0 * t["semantic_s4"] + 0.5 * t["semantic_s8"] + 2.0 * t["semantic_s16"]
                + 0.01 * (0.1 * t["affinity_s4"] + 0.3 * t["affinity_s8"]
                          + 1.0 * t["affinity_s16"]))
    assert total.asscalar() == pytest.approx(expected, rel=1e-6)
    # the progress bar's weighted parts add up to the loss
    from ssap_gluon.training.progress import ProgressBar

    bar = ProgressBar(0, 1, enabled=False, term_weights=SSAPLoss(cfg).term_weights)
    parts = bar.weighted_parts(t)
    assert parts["Ls"] == pytest.approx(t["semantic_s4"] + 0.5 * t["semantic_s8"]
                                        + 2.0 * t["semantic_s16"], rel=1e-9)
    assert parts["Ls"] + parts["La"] == pytest.approx(total.asscalar(), rel=1e-6)


def test_ssap_loss_single_task_models():
    rng = np.random.default_rng(4)
    cfg = _cfg("MODEL.TASKS", "semantic", "AFFINITY.WINDOW", "0")
    total, terms = SSAPLoss(cfg)(_outputs(cfg, rng, affinity=False), _batch(cfg, rng))
    assert list(terms) == ["semantic_s4", "semantic_s8", "semantic_s16"]
    assert total.asscalar() == pytest.approx(
        terms["semantic_s4"].asscalar() + 0.5 * terms["semantic_s8"].asscalar()
        + 2.0 * terms["semantic_s16"].asscalar(), rel=1e-6)
    cfg = _cfg("MODEL.TASKS", "affinity")
    total, terms = SSAPLoss(cfg)(_outputs(cfg, rng, semantic=False), _batch(cfg, rng))
    assert list(terms) == ["affinity_s4", "affinity_s8", "affinity_s16"]


def test_ssap_loss_clear_errors():
    rng = np.random.default_rng(5)
    cfg = _cfg()
    loss = SSAPLoss(cfg)
    targets = _batch(cfg, rng)
    with pytest.raises(ValueError, match="expected 6 network outputs"):
        loss(_outputs(cfg, rng)[:5], targets)
    with pytest.raises(ValueError, match="semantic level 1/4.*does not match targets"):
        loss(_outputs(cfg, rng, h=64), targets)
    with pytest.raises(ValueError, match="AFFINITY.WINDOW 0"):
        SSAPLoss(_cfg("AFFINITY.WINDOW", "0"))
    sem_only = build_targets(_cfg("MODEL.TASKS", "semantic", "AFFINITY.WINDOW", "0"),
                             targets.semantic[0][:, :1, :1].repeat(32, 1).repeat(48, 2),
                             np.zeros((2, 32, 48), np.int32), [5], rng)
    with pytest.raises(ValueError, match="no affinities"):
        loss(_outputs(cfg, rng), sem_only)


def test_image_sum_is_the_normalisation_the_paper_lambdas_balance():
    """The claim of docs/MODEL.md §5, via the benchmark script: at initialisation
    alpha * lambda_i * L_a^i is of one size at every level with "image_sum" and
    spans two orders of magnitude with "count"."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "scripts", "bench_model.py")
    spec = importlib.util.spec_from_file_location("bench_model", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.loss_balance(load_config(None), 512, 1024)["normalizations"]
    image_sum = np.array(result["image_sum"]["alpha_lambda_L"])
    count = np.array(result["count"]["alpha_lambda_L"])
    assert image_sum.max() / image_sum.min() < 1.5
    assert count.max() / count.min() > 30
