"""Optimizer and schedule: the two Nadam variants against a numpy reference,
the step schedule's iteration boundaries, the weight-decay policy."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.training.optim import (NadamPerStep, apply_weight_decay_policy,
                                       build_lr_scheduler, build_optimizer, learning_rate_at,
                                       optimizer_name)


def cfg_with(*opts):
    return load_config(None, list(opts))


# ---------------------------------------------------------------------------
# numpy reference of Nadam (Dozat 2016 / mxnet formulas), written out by hand
# ---------------------------------------------------------------------------
def nadam_reference(weights, curvatures, steps, lr, per_step, b1=0.9, b2=0.999, eps=1e-8,
                    decay=0.004):
    """Minimise sum_k 0.5 * c_k * |w_k|^2 (grad c_k * w_k) with Nadam.

    per_step=False: mxnet's quirk -- one scalar m_schedule multiplied by mu_t at
    every parameter update (parameters updated in index order);
    per_step=True: m_schedule_t = prod_{i<=t} mu_i, shared by the step's parameters.
    """
    w = [np.array(x, dtype=np.float64) for x in weights]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    mu = lambda t: b1 * (1 - 0.5 * 0.96 ** (t * decay))  # noqa: E731
    m_schedule = 1.0
    trajectory = []
    for t in range(1, steps + 1):
        step_product = np.prod([mu(i) for i in range(1, t + 1)])
        for k in range(len(w)):
            g = curvatures[k] * w[k]
            if per_step:
                ms = step_product
            else:
                m_schedule *= mu(t)
                ms = m_schedule
            ms_next = ms * mu(t + 1)
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            m_bar = (1 - mu(t)) * g / (1 - ms) + mu(t + 1) * m[k] / (1 - ms_next)
            w[k] = w[k] - lr * m_bar / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
        trajectory.append([x.copy() for x in w])
    return trajectory


def run_mxnet_optimizer(opt, weights, curvatures, steps):
    updater = mx.optimizer.get_updater(opt)
    w = [mx.nd.array(x, dtype="float32") for x in weights]
    trajectory = []
    for _ in range(steps):
        for k in range(len(w)):
            updater(k, mx.nd.array(curvatures[k] * w[k].asnumpy()), w[k])
        trajectory.append([x.asnumpy().astype(np.float64) for x in w])
    return trajectory


WEIGHTS = [np.array([1.0, -2.0]), np.array([0.5, 3.0, -1.5])]
CURVATURES = [2.0, 0.5]


@pytest.mark.parametrize("schedule,name", [("mxnet", "nadam"), ("per_step", "nadam_per_step")])
def test_nadam_variants_match_numpy_reference(schedule, name):
    cfg = cfg_with("SOLVER.NADAM_SCHEDULE", schedule, "SOLVER.BASE_LR", 0.01,
                   "SOLVER.STEPS", [])
    assert optimizer_name(cfg) == name
    opt = build_optimizer(cfg)
    got = run_mxnet_optimizer(opt, WEIGHTS, CURVATURES, steps=5)
    want = nadam_reference(WEIGHTS, CURVATURES, 5, lr=0.01, per_step=schedule == "per_step")
    for step_got, step_want in zip(got, want):
        for g, w in zip(step_got, step_want):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)


def test_the_two_variants_differ_where_the_reference_says():
    mxnet_traj = nadam_reference(WEIGHTS, CURVATURES, 3, 0.01, per_step=False)
    step_traj = nadam_reference(WEIGHTS, CURVATURES, 3, 0.01, per_step=True)
    # first parameter of the first step: both have m_schedule = mu_1, identical
    np.testing.assert_allclose(mxnet_traj[0][0], step_traj[0][0], rtol=1e-12)
    # second parameter: mxnet's m_schedule already holds mu_1 * mu_1
    assert not np.allclose(mxnet_traj[0][1], step_traj[0][1], rtol=1e-6)
    opt = build_optimizer(cfg_with("SOLVER.NADAM_SCHEDULE", "mxnet", "SOLVER.STEPS", []))
    run_mxnet_optimizer(opt, WEIGHTS, CURVATURES, steps=3)
    mu = [0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in (1, 2, 3)]
    # 2 parameters x 3 steps = 6 factors in mxnet's running product
    np.testing.assert_allclose(opt.m_schedule, (mu[0] * mu[1] * mu[2]) ** 2, rtol=1e-12)


def test_per_step_nadam_is_registered_and_caches_the_product():
    opt = mx.optimizer.create("nadam_per_step", learning_rate=0.1)
    assert isinstance(opt, NadamPerStep)
    expected = 1.0
    for t in range(1, 6):
        expected *= opt.momentum(t)
    assert opt.schedule_product(5) == pytest.approx(expected, rel=1e-15)
    assert opt.schedule_product(2) == pytest.approx(opt.momentum(1) * opt.momentum(2),
                                                    rel=1e-15)
    assert opt.schedule_product(0) == 1.0


def _toy_net(ctx):
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize(mx.init.Constant(0.3), ctx=ctx)
    return net


def test_per_step_nadam_does_not_depend_on_the_number_of_devices():
    """Textbook Nadam through gluon.Trainer: 1 device == 2 devices with one updater
    each (update_on_kvstore=False), where mxnet's running product would advance twice."""
    x = mx.nd.array(np.arange(12).reshape(4, 3) / 10.0)
    results = {}
    for n in (1, 2):
        ctx = [mx.cpu(i) for i in range(n)]
        net = _toy_net(ctx)
        opt = mx.optimizer.create("nadam_per_step", learning_rate=0.05)
        trainer = gluon.Trainer(net.collect_params(), opt, kvstore="device",
                                update_on_kvstore=False)
        for _ in range(4):
            losses = []
            with autograd.record():
                for xs in gluon.utils.split_and_load(x, ctx):
                    losses.append((net(xs) ** 2).sum())
            autograd.backward(losses)
            trainer.step(4)
        results[n] = net.weight.data(ctx[0]).asnumpy()
    np.testing.assert_allclose(results[1], results[2], rtol=1e-5)


# ---------------------------------------------------------------------------
# schedule
# ---------------------------------------------------------------------------
def test_scaled_schedule_boundaries_exact():
    """MAX_ITER 7, STEPS [3, 5]: iterations (0-based) 0-2 at 1e-4, 3-4 at 1e-5, 5-6 at 1e-6."""
    cfg = cfg_with("SOLVER.MAX_ITER", 7, "SOLVER.STEPS", [3, 5], "SOLVER.BASE_LR", 1e-4)
    opt = build_optimizer(cfg)
    updater = mx.optimizer.get_updater(opt)
    w = mx.nd.ones((2,))
    seen = []
    for _ in range(7):
        updater(0, mx.nd.ones((2,)), w)
        seen.append(opt.learning_rate)  # the lr the update just used
    want = [1e-4 * f for f in (1, 1, 1, 0.1, 0.1, 0.01, 0.01)]
    np.testing.assert_allclose(seen, want, rtol=1e-12)
    np.testing.assert_allclose([learning_rate_at(cfg, i) for i in range(7)], want, rtol=1e-12)


def test_paper_schedule_is_divided_at_30k_and_50k():
    cfg = cfg_with()
    assert learning_rate_at(cfg, 29999) == pytest.approx(1e-4)
    assert learning_rate_at(cfg, 30000) == pytest.approx(1e-5)
    assert learning_rate_at(cfg, 49999) == pytest.approx(1e-5)
    assert learning_rate_at(cfg, 50000) == pytest.approx(1e-6)
    sched = build_lr_scheduler(cfg)
    assert sched(30000) == pytest.approx(1e-4)  # num_update 30000 = iteration 29999
    assert sched(30001) == pytest.approx(1e-5)


def test_learning_rate_is_passed_to_the_scheduler():
    cfg = cfg_with("SOLVER.BASE_LR", 3e-3, "SOLVER.STEPS", [10])
    opt = build_optimizer(cfg)
    assert opt.lr_scheduler.base_lr == pytest.approx(3e-3)
    assert opt.learning_rate == pytest.approx(3e-3)


def test_empty_steps_mean_constant_lr():
    assert build_lr_scheduler(cfg_with("SOLVER.STEPS", [])) is None


def test_bad_solver_values_are_refused_with_the_key():
    with pytest.raises(ConfigError, match="SOLVER.BASE_LR"):
        build_optimizer(cfg_with("SOLVER.BASE_LR", 0.0))
    with pytest.raises(ConfigError, match="SOLVER.STEPS"):
        build_lr_scheduler(cfg_with("SOLVER.STEPS", [0, 5]))
    with pytest.raises(ConfigError, match="WEIGHT_DECAY"):
        build_optimizer(cfg_with("SOLVER.WEIGHT_DECAY", -1.0))


# ---------------------------------------------------------------------------
# weight decay policy
# ---------------------------------------------------------------------------
def _conv_bn():
    net = gluon.nn.HybridSequential(prefix="toy_")
    with net.name_scope():
        net.add(gluon.nn.Conv2D(2, 3, in_channels=1, use_bias=True), gluon.nn.BatchNorm(in_channels=2))
    net.initialize()
    for p in net.collect_params().values():
        p.set_data(mx.nd.full(p.shape, 0.5))  # (biases and BN have their own inits)
    return net


def test_no_weight_decay_on_bias_and_norm():
    net = _conv_bn()
    exempt = apply_weight_decay_policy(net.collect_params(), True)
    assert sorted(n.split("_", 1)[1] for n in exempt) == [
        "batchnorm0_beta", "batchnorm0_gamma", "conv0_bias"]
    mults = {n: p.wd_mult for n, p in net.collect_params().items()}
    assert mults["toy_conv0_weight"] == 1.0 and mults["toy_conv0_bias"] == 0.0
    apply_weight_decay_policy(net.collect_params(), False)
    assert all(p.wd_mult == 1.0 for p in net.collect_params().values())


def test_weight_decay_reaches_weights_only():
    """Zero gradients, wd > 0, SGD without momentum: weights shrink by lr*wd, the
    bias and BN scale/shift stay."""
    net = _conv_bn()
    cfg = cfg_with("SOLVER.OPTIMIZER", "sgd", "SOLVER.MOMENTUM", 0.0, "SOLVER.BASE_LR", 0.1,
                   "SOLVER.WEIGHT_DECAY", 0.5, "SOLVER.STEPS", [])
    trainer = gluon.Trainer(net.collect_params(), build_optimizer(cfg, net.collect_params()))
    with autograd.record():
        loss = 0 * net(mx.nd.ones((1, 1, 4, 4))).sum()  # zero gradients, all fresh
    loss.backward()
    trainer.step(1)
    params = net.collect_params()
    np.testing.assert_allclose(params["toy_conv0_weight"].data().asnumpy(), 0.5 * (1 - 0.05),
                               rtol=1e-6)
    np.testing.assert_allclose(params["toy_conv0_bias"].data().asnumpy(), 0.5)
    np.testing.assert_allclose(params["toy_batchnorm0_gamma"].data().asnumpy(), 0.5)
