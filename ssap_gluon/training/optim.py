"""Optimizer and learning-rate schedule of Sec. 4: Nadam, lr 1e-4 divided by 10
at 30k and 50k iterations.

Two Nadam variants (``SOLVER.NADAM_SCHEDULE``):

* ``"mxnet"`` (default, faithful): mxnet 1.9's own ``Nadam``. Its momentum
  schedule product ``m_schedule`` is a single scalar of the optimizer that is
  multiplied by ``mu_t`` on *every parameter update*, so after one step of a
  network with P parameter arrays it holds a product of P factors (and of
  ``P x devices`` when each device runs its own updater). ``1 - m_schedule``
  is therefore ~1 from the first step on: the bias correction of the
  Nesterov term vanishes almost at once. The paper trained with MXNet, so this
  is what its numbers were made with.
* ``"per_step"``: :class:`NadamPerStep`, registered as ``nadam_per_step``, is
  Dozat's textbook Nadam (and Keras'): ``m_schedule_t = prod_{i<=t} mu_i`` with
  ``t`` the step, shared by all parameters of one step. It only differs from
  ``"mxnet"`` in ``m_schedule``; everything else (``mu_t``, the moment
  estimates, ``wd``, clipping) is mxnet's code.

The schedule is mxnet's ``MultiFactorScheduler``. The optimizer reads it with
``num_update`` = the number of the update being made (1 for the first step),
and the scheduler divides once ``num_update > step``. With steps given as
0-based *iteration indices* that is exactly "divided at 30k": iteration
``i`` (0-based) has ``num_update = i + 1``, so iterations ``i >= 30000`` use
``BASE_LR * GAMMA``. :func:`learning_rate_at` gives the same value without an
optimizer.
"""
import mxnet as mx
from mxnet import optimizer as mx_optimizer
from mxnet.lr_scheduler import MultiFactorScheduler

from ..config import ConfigError

#: Parameter name suffixes that get no weight decay when SOLVER.NO_WD_BIAS_NORM:
#: biases and the scale/shift of (Sync)BatchNorm. Running statistics have no
#: gradient and are never updated anyway.
NO_WD_SUFFIXES = ("_bias", "_gamma", "_beta")


class NadamPerStep(mx_optimizer.Nadam):
    """Textbook Nadam: the momentum schedule advances once per *step*.

    ``m_schedule`` is recomputed from the update count ``t`` of the parameter
    being updated (= the step number, the same for all parameters of a step
    and for every device) instead of being a running product over update
    calls. Registered under the name ``nadam_per_step``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # (t, prod_{i<=t} mu_i): the product of the last step asked for, so
        # the next step costs one multiplication; other t are recomputed.
        self._schedule_cache = (0, 1.0)

    def momentum(self, t):
        """mu_t of Dozat's schedule (mxnet's formula)."""
        return self.beta1 * (1.0 - 0.5 * (0.96 ** (t * self.schedule_decay)))

    def schedule_product(self, t):
        """prod_{i=1..t} mu_i (1.0 for t = 0)."""
        cached_t, cached = self._schedule_cache
        if t == cached_t:
            return cached
        if t == cached_t + 1:
            value = cached * self.momentum(t)
        else:
            value = 1.0
            for i in range(1, t + 1):
                value *= self.momentum(i)
        self._schedule_cache = (t, value)
        return value

    def update(self, index, weight, grad, state):
        # mxnet's update multiplies self.m_schedule by mu_t once; start it from
        # the product up to the previous step so it ends at prod_{i<=t} mu_i.
        t = self._index_update_count.get(index, self.begin_num_update) + 1
        self.m_schedule = self.schedule_product(t - 1)
        super().update(index, weight, grad, state)


# mxnet's @register would file it under the class name ("nadamperstep").
mx_optimizer.Optimizer.opt_registry["nadam_per_step"] = NadamPerStep


def build_lr_scheduler(cfg):
    """MultiFactorScheduler of SOLVER.STEPS / GAMMA (``None``: constant lr)."""
    s = cfg.SOLVER
    steps = [int(x) for x in s.STEPS]
    if not steps:
        return None
    if steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ConfigError("config key SOLVER.STEPS: expected strictly increasing positive "
                          "iterations, got %r" % steps)
    return MultiFactorScheduler(step=steps, factor=float(s.GAMMA), base_lr=float(s.BASE_LR))


def learning_rate_at(cfg, iteration):
    """The lr of 0-based ``iteration``: BASE_LR * GAMMA^(number of steps <= iteration)."""
    s = cfg.SOLVER
    return float(s.BASE_LR) * float(s.GAMMA) ** sum(1 for step in s.STEPS if iteration >= step)


def optimizer_name(cfg):
    """The registered mxnet optimizer name for SOLVER.OPTIMIZER / NADAM_SCHEDULE."""
    s = cfg.SOLVER
    if s.OPTIMIZER == "nadam":
        return "nadam" if s.NADAM_SCHEDULE == "mxnet" else "nadam_per_step"
    return s.OPTIMIZER


def apply_weight_decay_policy(params, no_wd_bias_norm):
    """Set ``wd_mult`` = 0 on biases and BN scale/shift (or 1 everywhere).

    Returns the names that got no weight decay.
    """
    exempt = []
    for name, param in params.items():
        if no_wd_bias_norm and name.endswith(NO_WD_SUFFIXES):
            param.wd_mult = 0.0
            exempt.append(name)
        else:
            param.wd_mult = 1.0
    return exempt


def build_optimizer(cfg, params=None):
    """The mxnet Optimizer of ``cfg.SOLVER`` (with its lr scheduler).

    ``params`` (a ParameterDict), when given, gets the weight-decay policy of
    SOLVER.NO_WD_BIAS_NORM. The learning rate is passed explicitly: mxnet's
    Optimizer overwrites the scheduler's ``base_lr`` with ``learning_rate``.
    """
    s = cfg.SOLVER
    if s.BASE_LR <= 0:
        raise ConfigError("config key SOLVER.BASE_LR: must be positive, got %r" % s.BASE_LR)
    if s.WEIGHT_DECAY < 0 or s.CLIP_GRADIENT < 0:
        raise ConfigError("config keys SOLVER.WEIGHT_DECAY / SOLVER.CLIP_GRADIENT must not be "
                          "negative, got %r / %r" % (s.WEIGHT_DECAY, s.CLIP_GRADIENT))
    if params is not None:
        apply_weight_decay_policy(params, s.NO_WD_BIAS_NORM)
    kwargs = dict(learning_rate=float(s.BASE_LR), wd=float(s.WEIGHT_DECAY),
                  lr_scheduler=build_lr_scheduler(cfg))
    if s.CLIP_GRADIENT > 0:
        kwargs["clip_gradient"] = float(s.CLIP_GRADIENT)
    if s.OPTIMIZER in ("nadam", "adam"):
        kwargs.update(beta1=float(s.NADAM_BETA1), beta2=float(s.NADAM_BETA2),
                      epsilon=float(s.NADAM_EPSILON))
    if s.OPTIMIZER == "nadam":
        kwargs["schedule_decay"] = float(s.NADAM_SCHEDULE_DECAY)
    elif s.OPTIMIZER == "sgd":
        kwargs["momentum"] = float(s.MOMENTUM)
    return mx.optimizer.create(optimizer_name(cfg), **kwargs)
