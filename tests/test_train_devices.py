"""Devices (parsing, even split, one thread per device), SyncBatchNorm on two CPU
contexts against BatchNorm on the whole batch, and the validation pieces
(upsampling convention, confusion-matrix mIoU vs cityscapesScripts)."""
import threading

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon
from mxnet.gluon.contrib.nn import SyncBatchNorm

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.training.devices import (DeviceThreads, build_graph, parse_devices,
                                         per_device_batch)
from ssap_gluon.inference.network import upsample_level
from ssap_gluon.training.validate import (confusion_matrix, evaluate_semantic_miou,
                                          iou_from_confusion)


def test_parse_devices():
    assert parse_devices("cpu") == [mx.cpu(0)]
    assert parse_devices("cpu:2") == [mx.cpu(0), mx.cpu(1)]
    assert parse_devices(" GPU:0,1 ", num_gpus=2) == [mx.gpu(0), mx.gpu(1)]
    assert parse_devices("gpu", num_gpus=1) == [mx.gpu(0)]
    for bad, why in (("tpu", "is not 'cpu'"), ("cpu:0", "positive number"),
                     ("gpu:0,0", "twice"), ("gpu:a", "integers")):
        with pytest.raises(ConfigError, match="TRAIN.DEVICES.*" + why):
            parse_devices(bad, num_gpus=4)
    with pytest.raises(ConfigError, match="GPU 3.*sees 2 GPU"):
        parse_devices("gpu:0,3", num_gpus=2)
    with pytest.raises(ConfigError, match="CPU build of mxnet"):
        parse_devices("gpu:0", num_gpus=0)


def test_per_device_batch():
    assert per_device_batch(24, 8) == 3
    assert per_device_batch(24, 4, num_workers=2) == 3
    with pytest.raises(ConfigError, match="24 images cannot be split evenly over 1 worker.* "
                                          "x 5 device.*SyncBatchNorm.*multiple of 5"):
        per_device_batch(24, 5, sync_bn=True)


def test_device_threads_run_concurrently_and_propagate_errors():
    barrier = threading.Barrier(2, timeout=20)  # passes only if both run at once

    def work(index, value):
        barrier.wait()
        return index * 10 + value

    with DeviceThreads(2) as threads:
        assert threads.run(work, [(1,), (2,)]) == [1, 12]
        assert threads.run(work, [(3,), (4,)]) == [3, 14]  # threads are reused

        def fail(index):
            if index == 1:
                raise ValueError("device 1 failed")
            return index

        with pytest.raises(ValueError, match="device 1 failed"):
            threads.run(fail, [(), ()])
        with pytest.raises(ValueError, match="2 devices"):
            threads.run(fail, [()])
    assert DeviceThreads(1).run(lambda i, x: x + 1, [(4,)]) == [5]


def _conv_norm(norm_layer, norm_kwargs, ctx):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Conv2D(4, 3, padding=1, in_channels=3), norm_layer(**norm_kwargs))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


@pytest.mark.parametrize("hybridize", [False, True])
def test_sync_batchnorm_on_two_cpu_contexts_matches_batchnorm_on_one(hybridize):
    """Thread-per-device SyncBN over 2 CPU contexts = BN over the concatenated batch
    (outputs and gradients). The same calls issued sequentially deadlock (docs)."""
    ctx = [mx.cpu(0), mx.cpu(1)]
    x = mx.nd.array(np.random.RandomState(0).randn(4, 3, 6, 6))
    mx.random.seed(1)
    sync = _conv_norm(SyncBatchNorm, {"num_devices": 2, "in_channels": 4}, ctx)
    mx.random.seed(1)
    plain = _conv_norm(gluon.nn.BatchNorm, {"in_channels": 4}, mx.cpu(0))
    for ps, pp in zip(sync.collect_params().values(), plain.collect_params().values()):
        assert ps.shape == pp.shape
        pp.set_data(ps.data(ctx[0]))
    if hybridize:
        sync.hybridize()
        plain.hybridize()
    weights = mx.nd.array(np.arange(4 * 4 * 36).reshape(4, 4, 6, 6) / 100.0)

    def forward_backward(i, xs, ws):
        with autograd.record():
            y = sync(xs)
            loss = (y * ws).sum()
        loss.backward()
        return y

    xs = gluon.utils.split_and_load(x, ctx)
    ws = gluon.utils.split_and_load(weights, ctx)
    # graph building is not thread-safe: build it before the threads run it (and
    # the inference-mode forward changes no running statistic the test compares)
    build_graph(sync, xs)
    with DeviceThreads(2) as threads:
        ys = threads.run(forward_backward, list(zip(xs, ws)))
    with autograd.record():
        y_ref = plain(x)
        loss = (y_ref * weights).sum()
    loss.backward()
    np.testing.assert_allclose(np.concatenate([y.asnumpy() for y in ys]), y_ref.asnumpy(),
                               rtol=1e-4, atol=1e-5)
    conv_sync = sync[0].weight
    grad_sum = sum(g.as_in_context(ctx[0]) for g in conv_sync.list_grad()).asnumpy()
    np.testing.assert_allclose(grad_sum, plain[0].weight.grad().asnumpy(), rtol=1e-4,
                               atol=1e-4)


def test_upsample_level_follows_the_offset_zero_convention():
    """Output pixel y reads level coordinate y / s (level pixel i is input pixel s*i);
    past the last level pixel the value repeats. Reference: np.interp per axis."""
    rng = np.random.RandomState(3)
    level = rng.randn(1, 2, 3, 4).astype(np.float32)
    s, out = 4, (12, 16)
    got = upsample_level(mx.nd.array(level), s, out).asnumpy()
    ys = np.arange(out[0]) / s
    xs = np.arange(out[1]) / s
    want = np.empty((1, 2) + out, np.float32)
    for c in range(2):
        rows = np.stack([np.interp(ys, np.arange(3), level[0, c, :, j]) for j in range(4)], 1)
        want[0, c] = np.stack([np.interp(xs, np.arange(4), rows[i]) for i in range(out[0])])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert upsample_level(mx.nd.array(level), 1, (3, 4)).shape == (1, 2, 3, 4)


def test_confusion_matrix_and_iou_by_hand():
    gt = np.array([[0, 0, 1], [1, 255, 2]])
    pred = np.array([[0, 1, 1], [1, 0, 0]])
    conf = confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    iou, miou = iou_from_confusion(conf)
    # class 0: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 0, fn 1 -> 0
    np.testing.assert_allclose(iou, [1 / 3, 2 / 3, 0.0])
    assert miou == pytest.approx(1 / 3)
    iou, miou = iou_from_confusion(confusion_matrix(np.array([0]), np.array([0]), 3))
    assert np.isnan(iou[1]) and miou == 1.0  # absent classes are skipped
    with pytest.raises(ValueError, match="predicted train ids"):
        confusion_matrix(gt, pred + 5, 3)


def test_validation_mIoU_equals_cityscapes_scripts(synthcity_root, tmp_path):
    """A random-init network on the fixture's val split: the confusion-matrix mIoU
    (used for subsets) equals the official evaluator's on the same predictions."""
    from ssap_gluon.model import build_model

    cfg = load_config(None, ["MODEL.BACKBONE", "resnet18_v1b", "MODEL.DECODER_CHANNELS", 16,
                             "MODEL.HEAD_CHANNELS", 8, "DATASET.ROOT", synthcity_root])
    mx.random.seed(0)
    net = build_model(cfg)
    result = evaluate_semantic_miou(net, cfg, mx.cpu(), str(tmp_path))
    assert result["evaluator"] == "cityscapesScripts" and result["num_images"] == 4
    assert result["mIoU"] == pytest.approx(result["confusion_matrix_mIoU"], abs=1e-6)
    assert (tmp_path / "semantic_val.json").exists()
    subset = evaluate_semantic_miou(net, cfg, mx.cpu(), None, max_images=2)
    assert subset["evaluator"] == "confusion_matrix" and subset["num_images"] == 2
