"""The training loop: data -> targets -> network -> Eq. 10 loss -> Nadam step.

>>> from ssap_gluon.training import SSAPTrainer
>>> summary = SSAPTrainer(cfg, resume="auto").train()

One iteration: a batch of ``SOLVER.IMS_PER_BATCH`` images (over all workers)
is split evenly over the devices; the affinity-pyramid targets (with BD drawn
from the run's numpy Generator) are built on the host; every device runs
forward + backward in its own thread (required by SyncBatchNorm, see
devices.py); ``trainer.step(number of slices)`` averages the slices' batch-mean
losses. Iteration ``i`` (0-based) uses ``learning_rate_at(cfg, i)``.

After each iteration the trainer's *hooks* run, in order (:class:`TrainingHook`;
each sees an :class:`IterationResult`): :class:`LogHook` (tqdm bar, metrics
JSONL), :class:`CheckpointHook` (every ``TRAIN.CHECKPOINT_PERIOD`` and at the
end), :class:`EvaluationHook` (semantic mIoU every ``TRAIN.EVAL_PERIOD`` and at
the end), then any hooks passed as ``SSAPTrainer(cfg, hooks=[...])`` -- e.g. a
periodic instance evaluation: ``EvaluationHook(fn, period=..., at_end=True,
summary_key="val_AP", metric="AP")``; the loop itself never changes for one.

Reproducible resume: a checkpoint of iteration ``k`` holds the weights, the
optimizer state (with the lr scheduler and Nadam's schedule), the BD
Generator and host RNG states *as they were before iteration k's targets*;
the data position is a function of ``k`` (epoch ``k // batches_per_epoch``,
the sampler skips the epoch's first ``(k % batches_per_epoch) * batch``
keys; every sample's augmentation depends only on (seed, epoch, index)).
mxnet's own RNG cannot be read back, so it is reseeded from (seed, i) before
every iteration ``i``; a run resumed from a checkpoint of any iteration (a
periodic one, or one written on SIGINT/SIGTERM) consumes the same mxnet random
streams as a run that was never interrupted.

Stopping: on SIGINT or SIGTERM (single-process runs) the current iteration
finishes, its hooks run, a checkpoint of it is written and
:class:`TrainingInterrupted` is raised (``scripts/train.py`` exits 130 / 143);
``--resume auto`` continues to the same losses. A second signal acts at once
(the previous handler).

One run per directory: the trainer holds ``OUTPUT_DIR/train.lock``
(:class:`~ssap_gluon.training.checkpoint.RunLock`) from construction to the end
of :meth:`SSAPTrainer.train` (or :meth:`SSAPTrainer.close`).
"""
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from ..config import ConfigError
from ..utils.io import ImageReadError, atomic_write, copy_atomic
from . import checkpoint as ckpt
from .devices import (DeviceThreads, build_graph, parse_devices, per_device_batch,
                      wait_for_parameter_writes)
from .distributed import DistributedLaunchError, create_kvstore, is_distributed
from .optim import build_optimizer
from .progress import MetricsLog, ProgressBar, plot_loss_curve, read_metrics, setup_logging

METRICS_FILE = "metrics.jsonl"
LOSS_CURVE_FILE = "loss_curve.png"
FINAL_WEIGHTS_FILE = "model_final.params"


def derived_seed(seed, *keys):
    """A 32-bit seed from ``seed`` and integer ``keys`` (independent streams)."""
    return int(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in keys))
               .generate_state(1)[0])


# spawn keys of the run's random streams (fixed: part of the reproducibility contract)
_BD_STREAM = 1
_MXNET_STREAM = 2


def user_errors():
    """Exception types that mean "the config, the data, the weights, the devices or
    the run directory are not what the run needs" (scripts/train.py: exit 2, one
    paragraph, no traceback). Imported lazily: model/ and data/ import mxnet."""
    from ..data.base import DatasetError
    from ..model.backbone import PretrainedWeightsError

    return (ConfigError, ckpt.CheckpointError, DatasetError, ImageReadError,
            PretrainedWeightsError, DistributedLaunchError)


def check_amp(cfg, ctx):
    if cfg.TRAIN.AMP and any(c.device_type != "gpu" for c in ctx):
        raise ConfigError(
            "config key TRAIN.AMP: mixed precision (mxnet AMP, float16) is for GPUs only; "
            "TRAIN.DEVICES %r is on the CPU. Set TRAIN.AMP False or train on GPUs."
            % cfg.TRAIN.DEVICES)


def validation_will_run(cfg):
    return bool(cfg.TRAIN.VALIDATE_AT_END) or cfg.TRAIN.EVAL_PERIOD > 0


# ---------------------------------------------------------------------------
# Everything a run needs, checked before it starts
# ---------------------------------------------------------------------------
def _check_resume(cfg, output_dir, resume, warn=None):
    """The checkpoint ``resume`` designates (or None for a fresh start), verified
    and compatible; RunDirectoryError when a fresh run would overwrite checkpoints."""
    if resume in (None, "", "none"):
        existing = ckpt.list_checkpoints(output_dir)
        if existing:
            raise ckpt.RunDirectoryError(
                "%s already holds checkpoints (newest: %s); pass --resume auto to "
                "continue that run, or set TRAIN.OUTPUT_DIR to a new directory"
                % (ckpt.checkpoint_dir(output_dir), existing[-1][1]))
        return None
    if resume == "auto":
        return ckpt.find_resume_checkpoint(output_dir, cfg,
                                           warn=warn or (lambda message: None))
    path = os.path.abspath(resume)
    ckpt.check_compatible(ckpt.verify_checkpoint(path), cfg, path)
    return path


def _check_train_split(cfg, num_workers, worker_batch):
    from ..data import build_dataset

    dataset = build_dataset(cfg, "train", is_train=True)
    per_part = len(dataset) // num_workers
    if per_part < worker_batch:
        raise ConfigError("config key SOLVER.IMS_PER_BATCH: the train split %s has %d "
                          "frames per worker, fewer than one batch of %d"
                          % (cfg.DATASET.TRAIN_SPLIT, per_part, worker_batch))
    return dataset


def _check_val_split(cfg):
    """The validation split exists (only when validation will run)."""
    from ..data import build_dataset

    if not validation_will_run(cfg):
        return None
    return build_dataset(cfg, "val", is_train=False)


def _check_pretrained(cfg):
    from ..model.backbone import resolve_pretrained

    return resolve_pretrained(cfg.MODEL.BACKBONE, cfg.MODEL.PRETRAINED)


def check_run(cfg, resume=None, num_workers=None):
    """Check everything a run of ``cfg`` needs without starting it (``train.py
    --check``): the output directory (a directory, writable, not in use,
    checkpoints vs ``resume``), the devices and the batch split, the dataset
    splits (train; val when validation will run), the pretrained weights.

    Returns ``(problems, notes)``: one message per problem found (all of them,
    not just the first) and informational notes.
    """
    problems, notes = [], []
    errors = user_errors()

    def attempt(what, fn, *args):
        try:
            return fn(*args)
        except errors as e:
            message = "%s: %s" % (what, e)
            if message not in problems:
                problems.append(message)
            return None

    distributed = is_distributed(cfg)
    if num_workers is None:
        num_workers = int(os.environ.get("DMLC_NUM_WORKER", "1")) if distributed else 1
    if distributed and "DMLC_ROLE" not in os.environ:
        notes.append("TRAIN.KVSTORE %s: start the run through scripts/launch_dist.py; checked "
                     "as %d worker(s)" % (cfg.TRAIN.KVSTORE, num_workers))
    output_dir = os.path.abspath(cfg.TRAIN.OUTPUT_DIR)
    if attempt("output directory", ckpt.check_output_dir, output_dir) is not None:
        if attempt("output directory", ckpt.check_lock_free, output_dir) is None and \
                not any(p.startswith("output directory") for p in problems):
            path = attempt("checkpoint", _check_resume, cfg, output_dir, resume, notes.append)
            if path:
                notes.append("would resume from %s" % path)
    ctx = attempt("devices", parse_devices, cfg.TRAIN.DEVICES)
    worker_batch = None
    if ctx is not None:
        per_device = attempt("devices", per_device_batch, cfg.SOLVER.IMS_PER_BATCH, len(ctx),
                             num_workers, cfg.MODEL.NORM == "syncbn")
        if per_device is not None:
            worker_batch = per_device * len(ctx)
        attempt("devices", check_amp, cfg, ctx)
    attempt("dataset (train split)", _check_train_split, cfg, num_workers, worker_batch or 1)
    if validation_will_run(cfg):
        attempt("dataset (val split, for validation)", _check_val_split, cfg)
    weights = attempt("pretrained weights", _check_pretrained, cfg)
    if weights:
        notes.append("pretrained weights: %s" % weights)
    # the dataset root message is the same for both splits: keep one
    seen, unique = set(), []
    for p in problems:
        body = p.split(": ", 1)[-1]
        if body not in seen:
            seen.add(body)
            unique.append(p)
    return unique, notes


# ---------------------------------------------------------------------------
# Stop on SIGINT / SIGTERM
# ---------------------------------------------------------------------------
class TrainingInterrupted(Exception):
    """The run stopped on a signal after writing a checkpoint (``exit_code``:
    128 + the signal number, as a shell reports a process ended by it)."""

    def __init__(self, signum, iteration, max_iter, checkpoint, finished=False):
        self.signum = int(signum)
        self.iteration = iteration
        self.checkpoint = checkpoint
        self.exit_code = 128 + self.signum
        name = signal.Signals(self.signum).name
        if finished:
            text = ("stopped by %s after the last iteration (%d); the checkpoint %s holds it; "
                    "the end-of-run steps that had not run yet (validation) were skipped"
                    % (name, iteration, checkpoint))
        else:
            text = ("stopped by %s after iteration %d of %d; checkpoint %s; continue with "
                    "--resume auto" % (name, iteration, max_iter, checkpoint))
        super().__init__(text)


class _StopSignals:
    """While active, SIGINT and SIGTERM only request a stop (``signum``); the
    first one also puts back the previous handlers, so a second signal acts
    at once. Only in the main thread (Python delivers signals there)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled=True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            self._restore()
            # os.write: no locks (a logging call could be what the signal interrupted)
            os.write(2, ("\n%s received: finishing the current iteration, then writing a "
                         "checkpoint (send it again to stop at once, without one)\n"
                         % signal.Signals(signum).name).encode())

    def _restore(self):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def __enter__(self):
        if self.enabled:
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        self._restore()


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
@dataclass
class IterationResult:
    """What one finished iteration hands to the hooks."""
    index: int          # 0-based index of the iteration
    iteration: int      # completed iterations (index + 1): what logs and checkpoints count
    loss: float         # Eq. 10 total, mean over devices
    terms: dict = field(default_factory=dict)   # unweighted per-level terms
    lr: float = 0.0     # the lr this update used
    rng_state: dict = None  # host RNG states a checkpoint of `iteration` stores
    last: bool = False  # iteration == SOLVER.MAX_ITER


class TrainingHook:
    """A step of the training loop. ``before_train(trainer)`` once before the
    first iteration; ``after_iteration(trainer, result)`` after each; then
    ``close()`` (always, also on errors); ``after_train(trainer, summary)`` once
    the loop has ended normally (may add to the summary). Hooks run in list
    order; most act on rank 0 only (``trainer.is_main``)."""

    def before_train(self, trainer):
        pass

    def after_iteration(self, trainer, result):
        pass

    def close(self):
        pass

    def after_train(self, trainer, summary):
        pass


class LogHook(TrainingHook):
    """tqdm bar (every iteration) and a metrics.jsonl record every ``log_period``
    iterations and at the last (rank 0)."""

    def __init__(self, log_period):
        self.log_period = int(log_period)
        self.bar = None

    def before_train(self, trainer):
        self.bar = ProgressBar(trainer.start_iter, trainer.max_iter, enabled=trainer.progress,
                               term_weights=trainer.loss_fn.term_weights)
        self.window = []
        self.window_start = time.time()

    def after_iteration(self, trainer, result):
        self.window.append(result.loss)
        self.bar.update(result.loss, result.lr, trainer.images_per_iter * len(self.window) /
                        max(time.time() - self.window_start, 1e-9), result.terms)
        if trainer.is_main and (result.iteration % self.log_period == 0 or result.last):
            per_iter = (time.time() - self.window_start) / len(self.window)
            record = {"kind": "train", "iteration": result.iteration, "loss": result.loss,
                      "loss_avg": float(np.mean(self.window)), "lr": result.lr,
                      "images_per_s": trainer.images_per_iter / per_iter,
                      "eta_s": per_iter * (trainer.max_iter - result.iteration),
                      "epoch": result.index // trainer.batches_per_epoch,
                      "time": time.time()}
            record.update(result.terms)
            trainer.metrics.append(record)
            self.window, self.window_start = [], time.time()

    def close(self):
        if self.bar is not None:
            self.bar.close()


class CheckpointHook(TrainingHook):
    """A checkpoint every ``period`` iterations and at the last (rank 0); at the
    end, the final weights file (a copy of the newest checkpoint's weights)."""

    def __init__(self, period):
        self.period = int(period)

    def after_iteration(self, trainer, result):
        if trainer.is_main and (result.iteration % self.period == 0 or result.last):
            trainer.save(result.iteration, result.rng_state)

    def after_train(self, trainer, summary):
        if not trainer.is_main:
            return
        last = trainer.last_checkpoint
        if last is None:
            newest = ckpt.list_checkpoints(trainer.output_dir)
            last = summary["checkpoint"] = newest[-1][1] if newest else None
        if last:
            final = os.path.join(trainer.output_dir, FINAL_WEIGHTS_FILE)
            copy_atomic(os.path.join(last, ckpt.MODEL_FILE), final)
            summary["final_weights"] = final


class EvaluationHook(TrainingHook):
    """Evaluate every ``period`` iterations (0: never) and, with ``at_end``, after
    the last iteration unless a periodic evaluation just ran (rank 0).

    ``evaluate(trainer, iteration) -> dict`` does the work (and records it,
    e.g. in ``trainer.metrics``); ``summary[summary_key] = result[metric]`` of
    the latest result. A stop request (signal) skips evaluations not yet begun.
    """

    def __init__(self, evaluate, period=0, at_end=False, summary_key=None, metric=None,
                 name="evaluation"):
        self.evaluate = evaluate
        self.period = int(period)
        self.at_end = bool(at_end)
        self.summary_key, self.metric, self.name = summary_key, metric, name
        self.result = None

    def after_iteration(self, trainer, result):
        if trainer.is_main and self.period > 0 and result.iteration % self.period == 0 \
                and not trainer.stop_requested:
            self.result = self.evaluate(trainer, result.iteration)

    def after_train(self, trainer, summary):
        if trainer.is_main and self.at_end and trainer.max_iter > trainer.start_iter and (
                self.period <= 0 or trainer.max_iter % self.period):
            if trainer.stop_requested:
                trainer.logger.warning("%s at the end skipped: a stop was requested", self.name)
            else:
                self.result = self.evaluate(trainer, trainer.max_iter)
        if self.result is not None and self.summary_key:
            summary[self.summary_key] = self.result[self.metric]


def semantic_validation_hook(cfg):
    """Semantic mIoU of the 1/4 head on DATASET.VAL_SPLIT (``SSAPTrainer.validate``)."""
    return EvaluationHook(lambda trainer, iteration: trainer.validate(iteration),
                          period=cfg.TRAIN.EVAL_PERIOD, at_end=cfg.TRAIN.VALIDATE_AT_END,
                          summary_key="val_mIoU", metric="mIoU", name="validation")


# ---------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------
class SSAPTrainer:
    """Builds everything a run needs from the config; :meth:`train` runs it.

    ``resume``: ``None`` (fresh run; refused when OUTPUT_DIR already holds
    checkpoints), ``"auto"`` (newest valid checkpoint, or fresh if there is
    none) or a checkpoint directory. ``progress``: show the tqdm bar.
    ``hooks``: extra :class:`TrainingHook` objects, run after the built-in ones.

    Construction checks, before any heavy work, everything the run will read:
    the output directory (taking its lock), the devices, the checkpoint to
    resume, the dataset splits (val only when validation will run) and the
    pretrained weights.
    """

    def __init__(self, cfg, resume=None, progress=True, hooks=()):
        self.cfg = cfg
        self.lock = None
        self.threads = None
        self.loader = None
        self.output_dir = ckpt.check_output_dir(cfg.TRAIN.OUTPUT_DIR)
        self.kvstore, self.rank, self.num_workers = create_kvstore(cfg)
        # before anything writes into the directory (logs, metrics, temporaries)
        self.lock = ckpt.RunLock(self.output_dir, self.rank).acquire()
        try:
            self._setup(cfg, resume, progress, hooks)
        except BaseException:
            self.close()
            raise

    def _setup(self, cfg, resume, progress, hooks):
        self.logger = setup_logging(self.output_dir, self.rank)
        self.is_main = self.rank == 0
        self.ctx = parse_devices(cfg.TRAIN.DEVICES)
        sync_bn = cfg.MODEL.NORM == "syncbn"
        self.per_device = per_device_batch(cfg.SOLVER.IMS_PER_BATCH, len(self.ctx),
                                           self.num_workers, sync_bn)
        self.worker_batch = self.per_device * len(self.ctx)
        self.images_per_iter = self.worker_batch * self.num_workers
        check_amp(cfg, self.ctx)
        self.progress = progress and self.is_main
        self.max_iter = int(cfg.SOLVER.MAX_ITER)
        self.period = int(cfg.TRAIN.CHECKPOINT_PERIOD)
        self.resume_path = self._resolve_resume(resume)
        self.dataset = _check_train_split(cfg, self.num_workers, self.worker_batch)
        _check_val_split(cfg)
        _check_pretrained(cfg)

        seed = int(cfg.TRAIN.SEED)
        random.seed(seed)
        np.random.seed(derived_seed(seed, 0))
        mx.random.seed(seed)
        if cfg.TRAIN.AMP:
            from mxnet.contrib import amp

            amp.init()
        self.amp = bool(cfg.TRAIN.AMP)

        from ..losses import SSAPLoss
        from ..model import build_model

        self.net = build_model(cfg, num_devices=len(self.ctx), ctx=self.ctx)
        if cfg.TRAIN.HYBRIDIZE:
            self.net.hybridize(static_alloc=True, static_shape=True)
        self.loss_fn = SSAPLoss(cfg)
        self._build_data()
        # BD is drawn from its own stream; each worker of a distributed run has one.
        self.rng = np.random.default_rng(np.random.SeedSequence(seed,
                                                                spawn_key=(_BD_STREAM,
                                                                           self.rank)))
        state = manifest = None
        if self.resume_path:
            state, manifest, other = ckpt.load_checkpoint(self.resume_path, cfg, self.net,
                                                          None, self.ctx)
            if other:
                self.logger.warning("resuming %s with changed settings: %s",
                                    self.resume_path, ", ".join(other))
        self._warm_up()
        self.trainer = gluon.Trainer(
            self.net.collect_params(), build_optimizer(cfg, self.net.collect_params()),
            kvstore=self.kvstore,
            # dist: update on the workers so rank 0 holds (and checkpoints) the optimizer
            # state; one machine: gluon's default (on the kvstore for several devices).
            update_on_kvstore=False if is_distributed(cfg) else None)
        if self.amp:
            from mxnet.contrib import amp

            amp.init_trainer(self.trainer)
        self.start_iter = 0
        if state is not None:
            # every optimizer state goes to the parameter of its name (checkpoint.py)
            ckpt.load_trainer_states(self.resume_path, self.trainer, self.net, manifest)
            ckpt.restore_rng_state(state["rng"], self.rng)
            self.start_iter = int(state["iteration"])
            self.logger.info("resumed from %s (iteration %d)", self.resume_path,
                             self.start_iter)
        self.last_checkpoint = None
        self._last_saved = None
        self.metrics = MetricsLog(os.path.join(self.output_dir, METRICS_FILE))
        if self.is_main:
            self.metrics.truncate_after(self.start_iter)
            with atomic_write(os.path.join(self.output_dir, "config.yaml"), "w") as f:
                f.write(cfg.dump())
        self.hooks = [LogHook(cfg.TRAIN.LOG_PERIOD), CheckpointHook(self.period),
                      semantic_validation_hook(cfg)] + list(hooks)
        self._stop = _StopSignals(enabled=False)
        self.threads = DeviceThreads(len(self.ctx))

    # ------------------------------------------------------------------ setup
    def _resolve_resume(self, resume):
        if self.is_main:
            for path in ckpt.remove_stale_temporaries(self.output_dir):
                self.logger.info("removed the unfinished checkpoint %s", path)
        path = _check_resume(self.cfg, self.output_dir, resume, warn=self.logger.warning)
        if resume == "auto" and path is None:
            self.logger.info("--resume auto: no checkpoint in %s, starting fresh",
                             ckpt.checkpoint_dir(self.output_dir))
        return path

    def _build_data(self):
        from ..data import build_dataloader

        self.batches_per_epoch = (len(self.dataset) // self.num_workers) // self.worker_batch
        self.loader = build_dataloader(self.cfg, "train", True, batch_size=self.worker_batch,
                                       num_parts=self.num_workers, part_index=self.rank,
                                       dataset=self.dataset)

    def _warm_up(self):
        """The graph is built once per device before the device threads run it
        (devices.build_graph)."""
        h, w = self.cfg.INPUT.CROP_SIZE
        build_graph(self.net, [mx.nd.zeros((self.per_device, 3, h, w), ctx=c)
                               for c in self.ctx])

    def _batches(self):
        epoch = self.start_iter // self.batches_per_epoch
        skip = (self.start_iter % self.batches_per_epoch) * self.worker_batch
        self.loader.set_epoch(epoch, skip)
        while True:
            for batch in self.loader:
                yield batch

    def close(self):
        """Stop the device threads and data workers and release the run directory
        (train() does this when it ends; safe to call more than once)."""
        if self.threads is not None:
            self.threads.close()
        if self.loader is not None:
            self.loader.close()
        if self.lock is not None:
            self.lock.release()

    # ------------------------------------------------------------- iteration
    def _forward_backward(self, index, x, targets):
        with autograd.record():
            outputs = self.net(x)
            total, terms = self.loss_fn(outputs, targets)
        if self.amp:
            from mxnet.contrib import amp

            with amp.scale_loss(total, self.trainer) as scaled:
                autograd.backward(scaled)
        else:
            total.backward()
        return total, terms

    def _prepare(self, batch):
        from ..targets import build_targets

        images, semantic, instance = batch
        targets = build_targets(self.cfg, semantic, instance, self.dataset.thing_train_ids,
                                self.rng, ignore_label=self.dataset.ignore_label)
        return images, targets

    def _issue(self, images, targets):
        from ..losses.ssap_loss import upload_targets

        n = len(self.ctx)
        xs = [images[i * self.per_device:(i + 1) * self.per_device].as_in_context(c)
              for i, c in enumerate(self.ctx)]
        # host -> device copies here, in the main thread: a device thread must not
        # block on the engine (devices.py, rule 3)
        ys = [upload_targets(t, c) for t, c in zip(targets.split(n), self.ctx)]
        results = self.threads.run(self._forward_backward, list(zip(xs, ys)))
        self.trainer.step(n * self.num_workers)
        return results

    @staticmethod
    def _read(results):
        """Mean over devices of the total and of every term (host floats)."""
        totals = [r[0].asscalar() for r in results]
        terms = {}
        for key in results[0][1]:
            terms[key] = float(np.mean([r[1][key].asscalar() for r in results]))
        return float(np.mean(totals)), terms

    def _next_batch(self, data):
        """The next batch and its targets, or None when a stop was requested
        (before, or while, it was read: a signal may have ended the data workers)."""
        if self.stop_requested:
            return None
        try:
            return self._prepare(next(data))
        except Exception:  # noqa: BLE001 - re-raised unless the run is stopping anyway
            if self.stop_requested:
                return None
            raise

    def _iteration(self, index, pending, data):
        """Run iteration ``index``; return its result and the next prepared batch."""
        done = index + 1
        mx.random.seed(derived_seed(self.cfg.TRAIN.SEED, _MXNET_STREAM, index))
        results = self._issue(*pending)
        # while the devices work: the next batch and its targets (host);
        # rng_state is then the state before iteration `done`'s BD draw
        rng_state = None
        if done < self.max_iter:
            rng_state = ckpt.capture_rng_state(self.rng)
            pending = self._next_batch(data)
        loss, terms = self._read(results)
        if not math.isfinite(loss):
            raise FloatingPointError(
                "the loss is %s at iteration %d (terms: %s); the last checkpoint is %s"
                % (loss, done, terms, self.last_checkpoint or "none"))
        if rng_state is None:
            rng_state = ckpt.capture_rng_state(self.rng)
        return IterationResult(index=index, iteration=done, loss=loss, terms=terms,
                               lr=float(self.trainer.learning_rate), rng_state=rng_state,
                               last=done == self.max_iter), pending

    def _checkpoint_state(self, iteration, rng_state):
        epoch, batch = divmod(iteration, self.batches_per_epoch)
        return {"rng": rng_state, "epoch": epoch, "batch_in_epoch": batch,
                "batches_per_epoch": self.batches_per_epoch,
                "worker_batch": self.worker_batch, "num_workers": self.num_workers,
                "seed": int(self.cfg.TRAIN.SEED)}

    def save(self, iteration, rng_state):
        path = ckpt.save_checkpoint(self.output_dir, iteration, self.net, self.trainer,
                                    self.cfg, self._checkpoint_state(iteration, rng_state))
        pruned = ckpt.prune_checkpoints(self.output_dir, self.cfg.TRAIN.KEEP_CHECKPOINTS)
        self.logger.info("checkpoint %s%s", path,
                         " (removed %d older)" % len(pruned) if pruned else "")
        self.last_checkpoint, self._last_saved = path, iteration
        return path

    def _average_running_stats(self):
        """Give every device the mean of the devices' BN running statistics -- what
        ``save_parameters`` writes -- so validation during training scores the
        weights a checkpoint holds. (Training itself never reads them.)"""
        wait_for_parameter_writes()
        if len(self.ctx) == 1:
            return
        for param in self.net.collect_params().values():
            if param.grad_req == "null":
                copies = param.list_data()
                mean = mx.nd.add_n(*[c.as_in_context(self.ctx[0]) for c in copies])
                param.set_data(mean / len(copies))

    def validate(self, iteration):
        from .validate import evaluate_semantic_miou

        self._average_running_stats()
        out_dir = os.path.join(self.output_dir, "eval", ckpt.checkpoint_name(iteration))
        result = evaluate_semantic_miou(self.net, self.cfg, self.ctx[0], out_dir,
                                        split="val",
                                        max_images=self.cfg.TRAIN.VAL_MAX_IMAGES)
        self.metrics.append({"kind": "val", "iteration": iteration, "mIoU": result["mIoU"],
                             "num_images": result["num_images"],
                             "evaluator": result["evaluator"]})
        self.logger.info("iteration %d: semantic mIoU %.4f on %d %s frames (%s, %.0f s)",
                         iteration, result["mIoU"], result["num_images"],
                         self.cfg.DATASET.VAL_SPLIT, result["evaluator"], result["seconds"])
        return result

    # ------------------------------------------------------------------ loop
    @property
    def stop_requested(self):
        """A SIGINT/SIGTERM arrived: the loop stops after the current iteration."""
        return self._stop.signum is not None

    def _stop_now(self, result):
        """Checkpoint the iteration just finished (unless its hooks did) and raise."""
        path = self.last_checkpoint if self._last_saved == result.iteration else None
        if self.is_main and path is None:
            path = self.save(result.iteration, result.rng_state)
        raise TrainingInterrupted(self._stop.signum, result.iteration, self.max_iter, path)

    def _loop(self):
        data = self._batches()
        pending = self._prepare(next(data)) if self.start_iter < self.max_iter else None
        for index in range(self.start_iter, self.max_iter):
            result, pending = self._iteration(index, pending, data)
            for hook in self.hooks:
                hook.after_iteration(self, result)
            if self.stop_requested and not result.last:
                self._stop_now(result)
        # Every worker sends its last gradients before it leaves: a worker that
        # exits with a push still queued reaches the kvstore's exit barrier while
        # the others wait on the server for that push -- a deadlock.
        mx.nd.waitall()

    def train(self):
        """Run iterations ``start_iter .. SOLVER.MAX_ITER``; return the summary dict.

        Raises :class:`TrainingInterrupted` (after a checkpoint) on SIGINT/SIGTERM.
        The run directory is released when this returns or raises.
        """
        try:
            return self._train()
        finally:
            self.close()

    def _train(self):
        cfg = self.cfg
        self.logger.info(
            "training %s: iterations %d..%d, %d image(s)/iteration = %d worker(s) x %d "
            "device(s) x %d; worker %d reads shard %d/%d: %d batches/epoch; devices %s, "
            "kvstore %s",
            cfg.NAME, self.start_iter, self.max_iter, self.images_per_iter, self.num_workers,
            len(self.ctx), self.per_device, self.rank, self.rank + 1, self.num_workers,
            self.batches_per_epoch,
            ",".join(str(c) for c in self.ctx), cfg.TRAIN.KVSTORE)
        if self.start_iter >= self.max_iter:
            self.logger.info("nothing to do: the checkpoint is at iteration %d >= "
                             "SOLVER.MAX_ITER %d", self.start_iter, self.max_iter)
        started = time.time()
        # a distributed worker that stopped alone would leave the others waiting on the
        # kvstore: signals keep their default action there (docs/TRAINING.md)
        self._stop = _StopSignals(enabled=not is_distributed(cfg))
        with self._stop:
            try:
                for hook in self.hooks:
                    hook.before_train(self)
                self._loop()
            finally:
                for hook in self.hooks:
                    hook.close()
                self.threads.close()
                self.loader.close()
            summary = {"output_dir": self.output_dir, "start_iteration": self.start_iter,
                       "iterations": self.max_iter, "seconds": time.time() - started,
                       "checkpoint": self.last_checkpoint}
            for hook in self.hooks:
                hook.after_train(self, summary)
            if self.is_main:
                records = read_metrics(self.metrics.path)
                train_records = [r for r in records if r.get("kind") == "train"]
                if train_records:
                    summary["loss_curve"] = plot_loss_curve(
                        records, os.path.join(self.output_dir, LOSS_CURVE_FILE),
                        title="%s (%s)" % (cfg.NAME, self.output_dir))
                    summary["final_loss"] = train_records[-1]["loss"]
            if self.stop_requested and self.max_iter > self.start_iter:
                raise TrainingInterrupted(self._stop.signum, self.max_iter, self.max_iter,
                                          summary.get("checkpoint"), finished=True)
        self.logger.info("done: %s", summary)
        return summary
