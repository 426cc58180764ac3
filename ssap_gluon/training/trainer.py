"""The training loop: data -> targets -> network -> Eq. 10 loss -> Nadam step.

>>> from ssap_gluon.training import SSAPTrainer
>>> summary = SSAPTrainer(cfg, resume="auto").train()

One iteration: a batch of ``SOLVER.IMS_PER_BATCH`` images (over all workers)
is split evenly over the devices; the affinity-pyramid targets (with BD drawn
from the run's numpy Generator) are built on the host; every device runs
forward + backward in its own thread (required by SyncBatchNorm, see
devices.py); ``trainer.step(number of slices)`` averages the slices' batch-mean
losses. Iteration ``i`` (0-based) uses ``learning_rate_at(cfg, i)``.

Reproducible resume: a checkpoint of iteration ``k`` holds the weights, the
optimizer state (with the lr scheduler and Nadam's schedule), the BD
Generator and host RNG states *as they were before iteration k's targets*;
the data position is a function of ``k`` (epoch ``k // batches_per_epoch``,
the sampler skips the epoch's first ``(k % batches_per_epoch) * batch``
keys; every sample's augmentation depends only on (seed, epoch, index)).
mxnet's own RNG cannot be read back, so it is reseeded from (seed, k) at every
iteration ``k`` that is a multiple of ``TRAIN.CHECKPOINT_PERIOD`` -- in a run
that is never interrupted too -- which makes an interrupted and an
uninterrupted run consume identical mxnet random streams.
"""
import math
import os
import random
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from ..config import ConfigError
from ..utils.io import atomic_write, copy_atomic
from . import checkpoint as ckpt
from .devices import (DeviceThreads, build_graph, parse_devices, per_device_batch,
                      wait_for_parameter_writes)
from .distributed import create_kvstore, is_distributed
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


def check_amp(cfg, ctx):
    if cfg.TRAIN.AMP and any(c.device_type != "gpu" for c in ctx):
        raise ConfigError(
            "config key TRAIN.AMP: mixed precision (mxnet AMP, float16) is for GPUs only; "
            "TRAIN.DEVICES %r is on the CPU. Set TRAIN.AMP False or train on GPUs."
            % cfg.TRAIN.DEVICES)


class SSAPTrainer:
    """Builds everything a run needs from the config; :meth:`train` runs it.

    ``resume``: ``None`` (fresh run; refused when OUTPUT_DIR already holds
    checkpoints), ``"auto"`` (newest valid checkpoint, or fresh if there is
    none) or a checkpoint directory. ``progress``: show the tqdm bar.
    """

    def __init__(self, cfg, resume=None, progress=True):
        self.cfg = cfg
        self.output_dir = os.path.abspath(cfg.TRAIN.OUTPUT_DIR)
        self.kvstore, self.rank, self.num_workers = create_kvstore(cfg)
        self.logger = setup_logging(self.output_dir, self.rank)
        self.ctx = parse_devices(cfg.TRAIN.DEVICES)
        sync_bn = cfg.MODEL.NORM == "syncbn"
        self.per_device = per_device_batch(cfg.SOLVER.IMS_PER_BATCH, len(self.ctx),
                                           self.num_workers, sync_bn)
        self.worker_batch = self.per_device * len(self.ctx)
        check_amp(cfg, self.ctx)
        self.progress = progress and self.rank == 0
        self.max_iter = int(cfg.SOLVER.MAX_ITER)
        self.period = int(cfg.TRAIN.CHECKPOINT_PERIOD)
        if self.period <= 0 or cfg.TRAIN.LOG_PERIOD <= 0:
            raise ConfigError("config keys TRAIN.CHECKPOINT_PERIOD and TRAIN.LOG_PERIOD must be "
                              "positive, got %d / %d" % (self.period, cfg.TRAIN.LOG_PERIOD))
        self.resume_path = self._resolve_resume(resume)

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
        state = None
        if self.resume_path:
            state, _, other = ckpt.load_checkpoint(self.resume_path, cfg, self.net, None,
                                                   self.ctx)
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
            self.trainer.load_states(os.path.join(self.resume_path, ckpt.TRAINER_FILE))
            ckpt.restore_rng_state(state["rng"], self.rng)
            self.start_iter = int(state["iteration"])
            self.logger.info("resumed from %s (iteration %d)", self.resume_path,
                             self.start_iter)
        self.metrics = MetricsLog(os.path.join(self.output_dir, METRICS_FILE))
        if self.rank == 0:
            self.metrics.truncate_after(self.start_iter)
            with atomic_write(os.path.join(self.output_dir, "config.yaml"), "w") as f:
                f.write(cfg.dump())
        self.threads = DeviceThreads(len(self.ctx))

    # ------------------------------------------------------------------ setup
    def _resolve_resume(self, resume):
        if self.rank == 0:
            for path in ckpt.remove_stale_temporaries(self.output_dir):
                self.logger.info("removed the unfinished checkpoint %s", path)
        if resume in (None, "", "none"):
            existing = ckpt.list_checkpoints(self.output_dir)
            if existing:
                raise RuntimeError(
                    "%s already holds checkpoints (newest: %s); pass --resume auto to "
                    "continue that run, or set TRAIN.OUTPUT_DIR to a new directory"
                    % (ckpt.checkpoint_dir(self.output_dir), existing[-1][1]))
            return None
        if resume == "auto":
            path = ckpt.find_resume_checkpoint(self.output_dir, self.cfg,
                                               warn=self.logger.warning)
            if path is None:
                self.logger.info("--resume auto: no checkpoint in %s, starting fresh",
                                 ckpt.checkpoint_dir(self.output_dir))
            return path
        return os.path.abspath(resume)

    def _build_data(self):
        from ..data import build_dataloader, build_dataset

        cfg = self.cfg
        self.dataset = build_dataset(cfg, "train", is_train=True)
        per_part = len(self.dataset) // self.num_workers
        if per_part < self.worker_batch:
            raise ConfigError("config key SOLVER.IMS_PER_BATCH: the train split %s has %d "
                              "frames per worker, fewer than one batch of %d"
                              % (cfg.DATASET.TRAIN_SPLIT, per_part, self.worker_batch))
        self.batches_per_epoch = per_part // self.worker_batch
        self.loader = build_dataloader(cfg, "train", True, batch_size=self.worker_batch,
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
        n = len(self.ctx)
        xs = [images[i * self.per_device:(i + 1) * self.per_device].as_in_context(c)
              for i, c in enumerate(self.ctx)]
        results = self.threads.run(self._forward_backward, list(zip(xs, targets.split(n))))
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
    def train(self):
        cfg = self.cfg
        seed = int(cfg.TRAIN.SEED)
        log_period = int(cfg.TRAIN.LOG_PERIOD)
        is_main = self.rank == 0
        last_ckpt = None
        val_result = None
        images_per_iter = self.worker_batch * self.num_workers
        self.logger.info(
            "training %s: iterations %d..%d, %d image(s)/iteration = %d worker(s) x %d "
            "device(s) x %d; worker %d reads shard %d/%d: %d batches/epoch; devices %s, "
            "kvstore %s",
            cfg.NAME, self.start_iter, self.max_iter, images_per_iter, self.num_workers,
            len(self.ctx), self.per_device, self.rank, self.rank + 1, self.num_workers,
            self.batches_per_epoch,
            ",".join(str(c) for c in self.ctx), cfg.TRAIN.KVSTORE)
        if self.start_iter >= self.max_iter:
            self.logger.info("nothing to do: the checkpoint is at iteration %d >= "
                             "SOLVER.MAX_ITER %d", self.start_iter, self.max_iter)
        bar = ProgressBar(self.start_iter, self.max_iter, enabled=self.progress)
        data = self._batches()
        started = window_start = time.time()
        window = []
        try:
            if self.start_iter < self.max_iter:
                pending = self._prepare(next(data))
            for it in range(self.start_iter, self.max_iter):
                done = it + 1
                if it % self.period == 0:
                    mx.random.seed(derived_seed(seed, _MXNET_STREAM, it))
                results = self._issue(*pending)
                # while the devices work: the next batch and its targets (host);
                # rng_state is then the state before iteration `done`'s BD draw
                if done < self.max_iter:
                    rng_state = ckpt.capture_rng_state(self.rng)
                    pending = self._prepare(next(data))
                loss, terms = self._read(results)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        "the loss is %s at iteration %d (terms: %s); the last checkpoint is %s"
                        % (loss, done, terms, last_ckpt or "none"))
                lr = float(self.trainer.learning_rate)
                window.append(loss)
                bar.update(loss, lr, images_per_iter * len(window) /
                           max(time.time() - window_start, 1e-9), terms)
                if is_main and (done % log_period == 0 or done == self.max_iter):
                    elapsed = time.time() - window_start
                    per_iter = elapsed / len(window)
                    record = {"kind": "train", "iteration": done, "loss": loss,
                              "loss_avg": float(np.mean(window)), "lr": lr,
                              "images_per_s": images_per_iter / per_iter,
                              "eta_s": per_iter * (self.max_iter - done),
                              "epoch": it // self.batches_per_epoch,
                              "time": time.time()}
                    record.update(terms)
                    self.metrics.append(record)
                    window, window_start = [], time.time()
                if is_main and (done % self.period == 0 or done == self.max_iter):
                    last_ckpt = self.save(done, rng_state if done < self.max_iter
                                          else ckpt.capture_rng_state(self.rng))
                if is_main and cfg.TRAIN.EVAL_PERIOD > 0 and done % cfg.TRAIN.EVAL_PERIOD == 0:
                    val_result = self.validate(done)
            # Every worker sends its last gradients before it leaves: a worker that
            # exits with a push still queued reaches the kvstore's exit barrier while
            # the others wait on the server for that push -- a deadlock.
            mx.nd.waitall()
        finally:
            bar.close()
            self.threads.close()
            self.loader.close()
        summary = {"output_dir": self.output_dir, "start_iteration": self.start_iter,
                   "iterations": self.max_iter, "seconds": time.time() - started,
                   "checkpoint": last_ckpt}
        if is_main:
            if last_ckpt is None:
                newest = ckpt.list_checkpoints(self.output_dir)
                last_ckpt = summary["checkpoint"] = newest[-1][1] if newest else None
            if last_ckpt:
                final = os.path.join(self.output_dir, FINAL_WEIGHTS_FILE)
                copy_atomic(os.path.join(last_ckpt, ckpt.MODEL_FILE), final)
                summary["final_weights"] = final
            if cfg.TRAIN.VALIDATE_AT_END and self.max_iter > self.start_iter and (
                    cfg.TRAIN.EVAL_PERIOD <= 0 or self.max_iter % cfg.TRAIN.EVAL_PERIOD):
                val_result = self.validate(self.max_iter)
            records = read_metrics(self.metrics.path)
            train_records = [r for r in records if r.get("kind") == "train"]
            if train_records:
                summary["loss_curve"] = plot_loss_curve(
                    records, os.path.join(self.output_dir, LOSS_CURVE_FILE),
                    title="%s (%s)" % (cfg.NAME, self.output_dir))
                summary["final_loss"] = train_records[-1]["loss"]
        if val_result is not None:
            summary["val_mIoU"] = val_result["mIoU"]
        self.logger.info("done: %s", summary)
        return summary
