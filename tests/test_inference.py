"""Inference, network side: the Pyramid container, flip / multi-scale averaging,
instance assembly by hand, weights files, and the ground-truth round trip
through the cascade (oracle pyramids)."""
import os

import mxnet as mx
import numpy as np
import pytest
from scipy import ndimage

from ssap_gluon.config import load_config
from ssap_gluon.data import build_dataset
from ssap_gluon.inference import Pyramid, load_weights, split_outputs
from ssap_gluon.inference.instances import assemble_instances, upsample_labels
from ssap_gluon.inference.oracle import oracle_pyramid
from ssap_gluon.inference.predictor import Predictor
from ssap_gluon.inference.test_time import (flip_affinity_channels, predict_pyramid,
                                            resample_level)
from ssap_gluon.inference.weights import WeightsError, save_weights_fp16
from ssap_gluon.data.transforms import eval_transform
from ssap_gluon.targets import window_offsets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL = [1, 2, 4, 8, 16, 32, 64]  # the oracle down to full resolution: exact masks


def test_pyramid_is_indexed_by_stride():
    pyr = split_outputs(list("abcdef"), (4, 8, 16))
    assert pyr.semantic_at(8) == "b" and pyr.affinity_at(16) == "f" and pyr.finest == 4
    sem_only = split_outputs(list("abc"), (4, 8, 16), has_affinity=False)
    with pytest.raises(KeyError, match="no affinity maps"):
        sem_only.affinity_at(4)
    with pytest.raises(KeyError, match="no pyramid level of stride 32"):
        pyr.semantic_at(32)
    with pytest.raises(ValueError, match="expected 6 network outputs"):
        split_outputs(list("abcd"), (4, 8, 16))
    doubled = pyr.map(lambda x: x * 2)
    assert doubled.semantic == ["aa", "bb", "cc"] and doubled.affinity == ["d", "e", "f"]


# ---------------------------------------------------------------------------
# flip and multi-scale
# ---------------------------------------------------------------------------
def test_flip_remaps_window_channels_dy_dx_to_dy_minus_dx():
    r = 5
    aff = np.arange(r * r, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    flipped = flip_affinity_channels(aff, r)
    offsets = window_offsets(r)
    for j, (dy, dx) in enumerate(offsets):
        assert flipped[j, 0, 0] == offsets.index((dy, -dx))


def test_resample_level_is_exact_on_linear_maps():
    yy, xx = np.mgrid[0:6, 0:9].astype(np.float32)
    maps = np.stack([2 * yy + 3 * xx, -xx])
    rows, cols = np.array([0.0, 1.5, 4.25]), np.array([0.5, 7.75, 8.0])
    got = resample_level(maps, rows, cols)
    np.testing.assert_allclose(got[0], 2 * rows[:, None] + 3 * cols[None, :], rtol=1e-6)
    np.testing.assert_allclose(got[1], -np.broadcast_to(cols, (3, 3)), rtol=1e-6)
    # outside the map the edge repeats
    np.testing.assert_allclose(resample_level(maps, np.array([-1.0, 9.0]), np.array([20.0]))[0],
                               [[24.0], [34.0]])


class RampNet:
    """A stand-in network whose outputs are linear in the input: semantic scores
    at level s are the input's first channel sampled at pixel s*i (two classes,
    a and 1-a), affinity channel (dy, dx) the first channel at the neighbour
    s*(i+dy, j+dx) (clamped). Flipping the input flips these maps exactly."""

    strides = (4, 8, 16, 32, 64)

    def __call__(self, x):
        a = x[0, 0].asnumpy()
        h, w = a.shape
        sem, aff = [], []
        for s in self.strides:
            ys, xs = np.arange(0, h, s), np.arange(0, w, s)
            base = a[ys][:, xs]
            sem.append(np.stack([base, 1 - base]))
            chans = []
            for dy, dx in window_offsets(5):
                yy = np.clip(ys + s * dy, 0, h - 1)
                xx = np.clip(xs + s * dx, 0, w - 1)
                chans.append(a[yy][:, xx])
            aff.append(np.stack(chans))
        return [mx.nd.array(m[None]) for m in sem + aff]

    def activate(self, outputs):  # already "probabilities"
        return split_outputs(outputs, self.strides)


def _ramp_cfg(**opts):
    flat = ["INPUT.MEAN", "[0.0, 0.0, 0.0]", "INPUT.STD", "[1.0, 1.0, 1.0]"]
    for k, v in opts.items():
        flat += [k, str(v)]
    return load_config(None, flat)


def test_flip_test_of_a_mirror_symmetric_net_equals_one_pass():
    # a horizontal ramp image; the flipped pass must land on the same maps
    h, w = 128, 192
    ramp = np.tile(np.linspace(10, 240, w), (h, 1))
    image = np.repeat(ramp[:, :, None], 3, axis=2).astype(np.uint8)
    net = RampNet()
    one, geometry = predict_pyramid(net, image, _ramp_cfg(), mx.cpu(), flip=False)
    both, _ = predict_pyramid(net, image, _ramp_cfg(), mx.cpu(), flip=True)
    assert geometry.out_size == (128, 192)
    for s, a, b in zip(one.strides, one.semantic, both.semantic):
        # inside the image (a 1/s-pixel sub-sampling shift of the flip is averaged in)
        np.testing.assert_allclose(a[:, :, 1:-1], b[:, :, 1:-1], atol=1.0 / s + 1e-3,
                                   err_msg="semantic 1/%d" % s)
    # the flipped affinity channels are remapped: (0, +1) of the flipped pass is (0, -1)
    a, b = one.affinity[0], both.affinity[0]
    np.testing.assert_allclose(a[:, 4:-4, 4:-4], b[:, 4:-4, 4:-4], atol=0.02)


def test_multiscale_maps_land_on_the_scale_one_grid():
    h, w = 128, 128
    ramp = np.tile(np.linspace(0, 255, w), (h, 1))
    image = np.repeat(ramp[:, :, None], 3, axis=2).astype(np.uint8)
    net = RampNet()
    one, _ = predict_pyramid(net, image, _ramp_cfg(), mx.cpu(), scales=[1.0])
    multi, _ = predict_pyramid(net, image, _ramp_cfg(), mx.cpu(), scales=[1.0, 0.5, 1.5])
    for s, a, b in zip(one.strides, one.semantic, multi.semantic):
        # a linear image stays linear under rescaling: equal away from the padding
        inner = max(1, 16 // s)
        np.testing.assert_allclose(a[:, :-inner, :-inner], b[:, :-inner, :-inner],
                                   atol=0.02, err_msg="semantic 1/%d" % s)


# ---------------------------------------------------------------------------
# instance assembly by hand
# ---------------------------------------------------------------------------
def test_assemble_instances_by_hand():
    # finest level 1/2 of a 6x8 frame (4 classes; things 2, 3): two instances
    labels = np.array([[0, 0, -1, -1],
                       [0, 0, -1, 1],
                       [-1, -1, -1, 1]])
    probs = np.zeros((4, 3, 4), np.float32)
    probs[0] = 1.0                       # stuff class 0 elsewhere
    probs[:, 0, 0] = [0, 0, 0.9, 0.1]    # instance 0: three pixels say class 2,
    probs[:, 0, 1] = [0, 0, 0.8, 0.2]
    probs[:, 1, 0] = [0, 0, 0.6, 0.4]
    probs[:, 1, 1] = [0, 0, 0.3, 0.7]    # one says class 3
    probs[:, 1, 3] = [0, 0, 0.0, 1.0]    # instance 1: class 3
    probs[:, 2, 3] = [0, 0, 0.5, 0.5]    # tie -> the lower class index, 2? no: vote 1:1
    geometry = eval_transform(size_divisor=1).geometry(6, 8)
    label_ids = np.array([7, 8, 26, 27])
    frame = assemble_instances(labels, probs, 2, geometry, label_ids, [2, 3])
    # votes: instance 0 -> class 2 (3 of 4); instance 1 -> pixels say 3 and 2 (tie) -> 2
    assert frame.classes.tolist() == [2, 2]
    assert frame.label_ids.tolist() == [26, 26]
    np.testing.assert_allclose(frame.scores, [(0.9 + 0.8 + 0.6 + 0.3) / 4, (0.0 + 0.5) / 2])
    # full resolution: input pixel y takes level pixel floor(y / 2 + 1/2)
    want = upsample_labels(labels, 2, (6, 8))
    np.testing.assert_array_equal(upsample_labels(np.array([[1, 2, 3]]), 2, (1, 6)),
                                  [[1, 2, 2, 3, 3, 3]])
    np.testing.assert_array_equal(frame.instance_map, want)
    assert frame.areas.tolist() == [(want == 0).sum(), (want == 1).sum()]
    masks = frame.instances()
    assert [(m.sum(), l) for m, l, _ in masks] == [(frame.areas[0], 26), (frame.areas[1], 26)]
    # panoptic: stuff pixels -> label id 7, instances -> 26000, 26001
    assert frame.segments == {7: 7, 26000: 26, 26001: 26}
    assert set(np.unique(frame.panoptic)) == {7, 26000, 26001}
    # minimum area drops the small instance
    assert frame.areas.tolist() == [9, 15]
    small = assemble_instances(labels, probs, 2, geometry, label_ids, [2, 3], min_area=10)
    assert len(small) == 1 and (small.instance_map[want == 0] == -1).all()
    assert (small.instance_map[want == 1] == 0).all()
    with pytest.raises(ValueError, match="TEST.SCORE"):
        assemble_instances(labels, probs, 2, geometry, label_ids, [2, 3], score="area")


def test_semantic_x_affinity_score_is_the_mean_internal_affinity_times_the_class_score():
    labels = np.array([[0, 0, 0]])
    probs = np.zeros((2, 1, 3), np.float32)
    probs[1] = 1.0
    aff = np.full((9, 1, 3), 0.5, np.float32)
    # pairs inside the 1x3 instance: (0,1), (1,2) at offset (0,1) and (0,2) at (0,2)
    aff[window_offsets(3).index((0, 1))] = [[0.9, 0.7, 0.0]]
    aff[window_offsets(3).index((0, -1))] = [[0.0, 0.9, 0.7]]
    geometry = eval_transform(size_divisor=1).geometry(1, 3)
    frame = assemble_instances(labels, probs, 1, geometry, np.array([0, 26]), [1],
                               score="semantic_x_affinity", affinity=aff, window=3)
    assert frame.scores[0] == pytest.approx(1.0 * (0.9 + 0.7) / 2)


# ---------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------
def _tiny_net(**opts):
    from ssap_gluon.model import build_model

    flat = ["MODEL.BACKBONE", "resnet18_v1b", "MODEL.DECODER_CHANNELS", "16",
            "MODEL.HEAD_CHANNELS", "8"]
    for k, v in opts.items():
        flat += [k, str(v)]
    mx.random.seed(0)
    net = build_model(load_config(None, flat))
    net(mx.nd.zeros((1, 3, 64, 64)))  # finishes the deferred parameter shapes
    return net


def test_float16_weights_load_into_the_float32_network(tmp_path):
    net = _tiny_net()
    path = str(tmp_path / "half.params")
    save_weights_fp16(net, path)
    assert os.path.getsize(path) < 0.6 * sum(
        p.data().size * 4 for p in net.collect_params().values())
    other = _tiny_net()
    for p in other.collect_params().values():
        p.set_data(mx.nd.zeros(p.shape))
    assert load_weights(other, path) == path
    for (name, a), b in zip(net._collect_params_with_prefix().items(),
                            other._collect_params_with_prefix().values()):
        assert b.data().dtype == np.float32
        np.testing.assert_array_equal(b.data().asnumpy(),
                                      a.data().asnumpy().astype(np.float16).astype(np.float32))


def test_weights_errors_name_the_file(tmp_path):
    net = _tiny_net()
    path = str(tmp_path / "w.params")
    net.save_parameters(path)
    with pytest.raises(WeightsError, match="weights not found: .*missing.params"):
        load_weights(net, str(tmp_path / "missing.params"))
    with pytest.raises(WeightsError, match=r"w.params does not fit the network: parameter "
                                           r".*has shape \(16, 64, 1, 1\) in the file, "
                                           r"\(32, 64, 1, 1\)"):
        load_weights(_tiny_net(**{"MODEL.DECODER_CHANNELS": 32}), path)
    # dense heads have other parameters than separable ones
    with pytest.raises(WeightsError, match=r"w.params does not fit the network: \d+ "
                                           r"parameter\(s\) missing from the file"):
        load_weights(_tiny_net(**{"MODEL.HEAD_CONV": "full"}), path)
    junk = tmp_path / "junk.params"
    junk.write_bytes(b"not a parameter file")
    with pytest.raises(WeightsError, match="junk.params is not an mxnet parameter file"):
        load_weights(net, str(junk))


# ---------------------------------------------------------------------------
# the ground-truth round trip
# ---------------------------------------------------------------------------
def _oracle_frames(root, cfg_opts=()):
    cfg = load_config(os.path.join(REPO, "configs", "synthcity_r18.yaml"),
                      ["DATASET.ROOT", root] + list(cfg_opts))
    dataset = build_dataset(cfg, "val", is_train=False)
    predictor = Predictor(cfg, None, None, dataset.thing_train_ids, dataset.label_ids)
    predictor.options["affinity_strides"] = FULL
    return cfg, dataset, predictor


@pytest.mark.parametrize("init", [4, 16, 64])
def test_oracle_round_trip_on_the_real_frame_returns_the_ground_truth(cityscapes_sample_root,
                                                                       init):
    cfg, dataset, predictor = _oracle_frames(cityscapes_sample_root,
                                             ["TEST.CASCADE_INIT_STRIDE", str(init)])
    image, sem, inst = dataset.load(0)
    geometry = dataset.transform.geometry(*image.shape[:2])
    frame = predictor.from_pyramid(oracle_pyramid(sem, inst, FULL, 5, dataset.num_classes,
                                                  dataset.thing_train_ids, geometry), geometry)
    got = frame.instances
    assert got.semantic.shape == sem.shape
    valid = sem != 255
    np.testing.assert_array_equal(got.semantic[valid], sem[valid])
    gt_ids = [g for g in np.unique(inst[inst > 0]) if (inst == g).sum() >= 100]
    assert len(gt_ids) >= 2
    for g in gt_ids:
        k = np.bincount(got.instance_map[inst == g] + 1).argmax() - 1
        assert k >= 0 and ((got.instance_map == k) == (inst == g)).all(), g
        assert got.label_ids[k] == g // 1000


def test_oracle_round_trip_on_synthcity_keeps_every_connected_instance(synthcity_root):
    """Every ground-truth instance of 100+ pixels that is one connected region
    comes back exactly, at every init stride; instances an occluder split into
    parts no window pair of any level connects may come back in pieces (a
    property of the method, docs/INFERENCE.md)."""
    cfg, dataset, predictor = _oracle_frames(synthcity_root, ["TEST.MIN_INSTANCE_AREA", "100"])
    checked = 0
    for init in (4, 16):
        predictor.options["init_stride"] = init
        for i in range(len(dataset)):
            image, sem, inst = dataset.load(i)
            geometry = dataset.transform.geometry(*image.shape[:2])
            pyr = oracle_pyramid(sem, inst, FULL, 5, dataset.num_classes,
                                 dataset.thing_train_ids, geometry)
            got = predictor.from_pyramid(pyr, geometry).instances
            for g in np.unique(inst[inst > 0]):
                mask = inst == g
                if mask.sum() < 100 or ndimage.label(mask)[1] > 1:
                    continue
                k = np.bincount(got.instance_map[mask] + 1).argmax() - 1
                assert k >= 0 and ((got.instance_map == k) == mask).all(), (i, g, init)
                checked += 1
    assert checked > 20


def test_a_frame_without_instances_assembles_to_an_empty_map():
    labels = np.full((3, 4), -1)
    probs = np.zeros((4, 3, 4), np.float32)
    probs[0] = 1.0
    geometry = eval_transform(size_divisor=1).geometry(6, 8)
    frame = assemble_instances(labels, probs, 2, geometry, np.array([7, 8, 26, 27]), [2, 3])
    assert len(frame) == 0 and (frame.instance_map == -1).all() and frame.instances() == []
    assert frame.segments == {7: 7} and (frame.panoptic == 7).all()


def test_validation_and_inference_make_the_same_semantic_map():
    """training/validate.py's predict_semantic and the instance pipeline's
    semantic output are one map, so both report the same mIoU."""
    from ssap_gluon.inference.instances import semantic_at_full_resolution
    from ssap_gluon.inference.network import forward_probabilities, predict_semantic

    net = _tiny_net()
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 128, 192)).astype(np.float32)
    direct = predict_semantic(net, image, mx.cpu())
    probs = forward_probabilities(net, mx.nd.array(image[None])).semantic_at(4)[0].asnumpy()
    geometry = eval_transform(size_divisor=64).geometry(128, 192)
    np.testing.assert_array_equal(semantic_at_full_resolution(probs, 4, geometry), direct)


@pytest.mark.parametrize("root,index", [("cityscapes_sample_root", 0), ("synthcity_root", 0),
                                        ("synthcity_root", 1)])
def test_the_oracle_of_a_flipped_frame_gives_the_flipped_result(root, index, request):
    cfg, dataset, predictor = _oracle_frames(request.getfixturevalue(root),
                                             ["TEST.MIN_INSTANCE_AREA", "100"])
    image, sem, inst = dataset.load(index)
    maps = []
    for flip in (False, True):
        s, i = (sem[:, ::-1], inst[:, ::-1]) if flip else (sem, inst)
        im = image[:, ::-1] if flip else image
        geometry = dataset.transform.geometry(*im.shape[:2])
        frame = predictor.from_pyramid(oracle_pyramid(s, i, FULL, 5, dataset.num_classes,
                                                      dataset.thing_train_ids, geometry),
                                       geometry).instances
        maps.append(frame.instance_map[:, ::-1] if flip else frame.instance_map)
    checked = 0
    for g in np.unique(inst[inst > 0]):
        mask = inst == g
        if mask.sum() < 100 or ndimage.label(mask)[1] > 1:
            continue
        a, b = (np.bincount(m[mask] + 1).argmax() - 1 for m in maps)
        assert a >= 0 and b >= 0 and ((maps[0] == a) == (maps[1] == b)).all(), g
        checked += 1
    assert checked >= 1
