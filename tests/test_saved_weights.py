"""Saved weights are the trained network's weights.

A hybridized ``static_alloc`` graph updates BatchNorm's running statistics in
backward (CPU) without registering the write with mxnet's engine, so a file
saved right after the last step could hold the statistics of an earlier
iteration (devices.py). After ``train()``, every array of the final weights
file and of the last checkpoint must equal the live network's -- what gluon's
``save_parameters`` writes: the mean over the devices' copies -- bit for bit.
"""
import hashlib
import os

import mxnet as mx
import numpy as np
import pytest

from ssap_gluon.training import SSAPTrainer
from ssap_gluon.training.checkpoint import MODEL_FILE, list_checkpoints

from test_train import tiny_cfg


def _run(root, out, norm, devices, hybridize):
    cfg = tiny_cfg(root, out, **{"MODEL.NORM": norm, "TRAIN.DEVICES": devices,
                                 "TRAIN.HYBRIDIZE": hybridize, "SOLVER.MAX_ITER": 3,
                                 "TRAIN.CHECKPOINT_PERIOD": 2})
    trainer = SSAPTrainer(cfg, progress=False)
    summary = trainer.train()
    mx.nd.waitall()
    live = {}
    for name, param in trainer.net._collect_params_with_prefix().items():
        copies = [c.asnumpy().astype(np.float64) for c in param.list_data()]
        live[name] = (np.sum(copies, axis=0) / len(copies)).astype(np.float32) \
            if len(copies) > 1 else copies[0]
    return trainer, summary, live


def _assert_file_equals(path, live):
    saved = {k: v.asnumpy() for k, v in mx.nd.load(path).items()}
    assert sorted(saved) == sorted(live)
    differing = [k for k in saved if not np.array_equal(saved[k], live[k])]
    assert not differing, "%s: %d arrays differ from the live network, e.g. %s" % (
        path, len(differing), differing[:4])
    # the running statistics did move away from their initial 0 / 1
    assert any(k.endswith("running_mean") and np.abs(saved[k]).max() > 0 for k in saved)


@pytest.mark.parametrize("norm,devices", [("bn", "cpu"), ("syncbn", "cpu:2")])
@pytest.mark.parametrize("hybridize", [True, False])
def test_saved_weights_equal_the_live_network(synthcity_root, tmp_path, norm, devices,
                                              hybridize):
    _, summary, live = _run(synthcity_root, str(tmp_path), norm, devices, hybridize)
    _assert_file_equals(summary["final_weights"], live)
    newest = list_checkpoints(str(tmp_path))[-1][1]
    _assert_file_equals(os.path.join(newest, MODEL_FILE), live)


def test_two_seeded_runs_write_identical_weight_files(synthcity_root, tmp_path):
    digests = []
    for name in ("a", "b"):
        out = str(tmp_path / name)
        _, summary, _ = _run(synthcity_root, out, "bn", "cpu", True)
        with open(summary["final_weights"], "rb") as f:
            digests.append(hashlib.sha256(f.read()).hexdigest())
    assert digests[0] == digests[1]


def test_a_checkpoint_saved_right_after_backward_holds_the_new_statistics(tmp_path):
    """The mechanism, without timing luck: a deep static_alloc BN net on a large
    input is still in backward when the loss is ready; a checkpoint saved at that
    moment must hold the running statistics that backward writes."""
    from mxnet import autograd, gluon

    from ssap_gluon.config import load_config
    from ssap_gluon.training.checkpoint import save_checkpoint

    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(32, 3, padding=1, in_channels=3), gluon.nn.BatchNorm(in_channels=32))
    for _ in range(16):
        net.add(gluon.nn.Conv2D(32, 3, padding=1, in_channels=32),
                gluon.nn.BatchNorm(in_channels=32))
    net.initialize()
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.normal(shape=(2, 3, 128, 128))
    with autograd.predict_mode():
        net(x).wait_to_read()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.0})
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    loss.wait_to_read()
    path = save_checkpoint(str(tmp_path), 1, net, trainer, load_config(None), {})
    mx.nd.waitall()
    live = {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}
    _assert_file_equals(os.path.join(path, MODEL_FILE), live)


def test_device_threads_never_block_on_the_engine(synthcity_root, tmp_path, monkeypatch):
    """A host-synchronous mxnet call in a device thread can deadlock SyncBN on CPU
    contexts (devices.py, rule 3): the trainer must make none. Every such entry
    point raises here when called from a device thread."""
    import threading

    def guard(name, original):
        def call(self, *args, **kwargs):
            if threading.current_thread().name.startswith("ssap-device-"):
                raise AssertionError("%s called in %s" % (name, threading.current_thread().name))
            return original(self, *args, **kwargs)
        return call

    for name in ("_sync_copyfrom", "asnumpy", "wait_to_read", "asscalar"):
        monkeypatch.setattr(mx.nd.NDArray, name, guard(name, getattr(mx.nd.NDArray, name)))
    _, summary, _ = _run(synthcity_root, str(tmp_path), "syncbn", "cpu:2", True)
    assert summary["iterations"] == 3
