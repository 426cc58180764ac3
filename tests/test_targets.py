"""Affinity pyramid targets, BD and OL against plain-loop references and hand values."""
import numpy as np
import pytest

from ssap_gluon.config import load_config
from ssap_gluon.targets import (PyramidTargets, affinity_loss_weights, affinity_pyramid_targets,
                                affinity_targets, all_one_pixels, build_targets,
                                downsample_labels, region_map, window_offsets)

THINGS = list(range(11, 19))
IGNORE = 255


def random_scene(rng, batch, height, width):
    """Random semantic/instance maps: stuff, thing instances (some touching the
    borders), void patches, crowd patches (instance -1) and thing pixels without
    an instance id (instance 0)."""
    sem = rng.integers(0, 11, (batch, height, width)).astype(np.int32)  # stuff classes
    inst = np.zeros((batch, height, width), np.int32)
    for b in range(batch):
        for k in range(rng.integers(3, 8)):
            h, w = rng.integers(4, height // 2), rng.integers(4, width // 2)
            y, x = rng.integers(-3, height - 2), rng.integers(-3, width - 2)
            ys, xs = slice(max(y, 0), y + h), slice(max(x, 0), x + w)
            cls = int(rng.choice(THINGS))
            sem[b, ys, xs] = cls
            inst[b, ys, xs] = (cls + 13) * 1000 + k
        for _ in range(2):  # void
            y, x = rng.integers(0, height - 3), rng.integers(0, width - 3)
            sem[b, y:y + 5, x:x + 7] = IGNORE
            inst[b, y:y + 5, x:x + 7] = -1
        y, x = rng.integers(0, height - 3), rng.integers(0, width - 3)  # crowd
        sem[b, y:y + 6, x:x + 6] = 13
        inst[b, y:y + 6, x:x + 6] = -1
        y, x = rng.integers(0, height - 3), rng.integers(0, width - 3)  # thing without id
        sem[b, y:y + 4, x:x + 4] = 12
        inst[b, y:y + 4, x:x + 4] = 0
    return sem, inst


def loop_reference(sem, inst, window, stride, outside="ignore"):
    """Plain loops over level pixels and window offsets, straight from the rules."""
    H, W = sem.shape
    h, w = -(-H // stride), -(-W // stride)

    def region(i, j):  # level coordinates
        if not (0 <= i < h and 0 <= j < w):
            return 0 if outside == "background" else None
        s, n = sem[i * stride, j * stride], inst[i * stride, j * stride]
        if n < 0 or s == IGNORE or (n == 0 and s in THINGS):
            return None  # void / crowd
        return int(n)

    half = window // 2
    target = np.zeros((window * window, h, w), np.uint8)
    valid = np.zeros((window * window, h, w), np.uint8)
    for i in range(h):
        for j in range(w):
            a = region(i, j)
            for c in range(window * window):
                dy, dx = c // window - half, c % window - half
                b = region(i + dy, j + dx)
                if a is not None and b is not None:
                    valid[c, i, j] = 1
                    target[c, i, j] = int(a == b)
    return target, valid


def test_channel_order_is_row_major_offsets():
    assert window_offsets(3) == [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1),
                                 (1, -1), (1, 0), (1, 1)]
    assert window_offsets(5)[12] == (0, 0) and window_offsets(5)[0] == (-2, -2)


def test_hand_example_r3():
    # 2x3 map: instance 7 at (0,0),(0,1); stuff at (0,2); void at (1,0); stuff at (1,1),(1,2)
    sem = np.array([[13, 13, 0], [IGNORE, 0, 1]])
    inst = np.array([[7, 7, 0], [-1, 0, 0]])
    target, valid = affinity_targets(region_map(sem, inst, THINGS), 3, "background")
    assert target.dtype == np.uint8 and target.shape == (9, 2, 3)
    # pixel (0,0), instance 7: up-left, up, up-right, left are outside (background) -> 0,
    # centre 1, right (0,1) same instance -> 1, down-left outside -> 0,
    # down (1,0) void -> masked, down-right (1,1) stuff -> 0
    np.testing.assert_array_equal(target[:, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(valid[:, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0, 1])
    # pixel (1,2), stuff: neighbours (0,1) instance, (0,2) stuff, (1,1) stuff, rest outside
    np.testing.assert_array_equal(target[:, 1, 2], [0, 1, 1, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(valid[:, 1, 2], np.ones(9))
    # the void pixel has no valid pair at all
    assert valid[:, 1, 0].sum() == 0 and target[:, 1, 0].sum() == 0
    # "ignore" (the default): every pair reaching outside the map is masked, the
    # rest is unchanged
    target_i, valid_i = affinity_targets(region_map(sem, inst, THINGS), 3)
    np.testing.assert_array_equal(valid_i[:, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(target_i[:, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(valid_i[:, 1, 2], [1, 1, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(target_i[:, 1, 2], [0, 1, 0, 1, 1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="outside must be one of"):
        affinity_targets(region_map(sem, inst, THINGS), 3, "zero")


@pytest.mark.parametrize("outside", ["ignore", "background"])
@pytest.mark.parametrize("window,strides", [(3, [1, 2, 4, 8, 16, 32, 64]),
                                            (5, [2, 4, 8, 16, 32, 64]),
                                            (9, [2, 4, 8, 16, 32, 64])])
def test_pyramid_equals_loop_reference(window, strides, outside):
    rng = np.random.default_rng(window)
    sem, inst = random_scene(rng, 2, 64, 96)
    levels = affinity_pyramid_targets(sem, inst, window, strides, THINGS, IGNORE, outside)
    for s, (target, valid) in zip(strides, levels):
        for b in range(2):
            ref_t, ref_v = loop_reference(sem[b], inst[b], window, s, outside)
            np.testing.assert_array_equal(valid[b], ref_v, err_msg="valid, stride %d" % s)
            np.testing.assert_array_equal(target[b], ref_t, err_msg="target, stride %d" % s)
    # the scene really exercises every case
    t1, v1 = levels[0]
    assert (v1 == 0).any() and (t1 == 0).any() and (t1 == 1).any()


def test_pyramid_sizes_not_multiple_of_stride_and_single_image():
    rng = np.random.default_rng(3)
    sem, inst = random_scene(rng, 1, 37, 50)
    levels = affinity_pyramid_targets(sem[0], inst[0], 3, [4, 8], THINGS)
    assert levels[0][0].shape == (9, 10, 13) and levels[1][0].shape == (9, 5, 7)
    ref_t, ref_v = loop_reference(sem[0], inst[0], 3, 8)
    np.testing.assert_array_equal(levels[1][0], ref_t)
    np.testing.assert_array_equal(levels[1][1], ref_v)


def test_downsample_is_strided_offset_zero():
    label = np.arange(64).reshape(8, 8)
    np.testing.assert_array_equal(downsample_labels(label, 4), [[0, 4], [32, 36]])


def test_all_one_pixels_ignore_masked_pairs():
    # one instance covering a 5x5 map except a void corner: with r=3 every
    # interior pixel of the instance is all-one; with "background" outside, pixels
    # next to the border see background there, so they are not; with "ignore"
    # the outside is masked and every valid pixel is all-one.
    sem = np.full((5, 5), 13)
    inst = np.full((5, 5), 9)
    sem[0, 0], inst[0, 0] = IGNORE, -1
    target, valid = affinity_targets(region_map(sem, inst, THINGS), 3, "background")
    expected = np.zeros((5, 5), bool)
    expected[1:4, 1:4] = True  # (1,1) touches the void pixel: still all-one
    np.testing.assert_array_equal(all_one_pixels(target, valid), expected)
    target, valid = affinity_targets(region_map(sem, inst, THINGS), 3)
    expected = np.ones((5, 5), bool)
    expected[0, 0] = False  # the void pixel itself
    np.testing.assert_array_equal(all_one_pixels(target, valid), expected)


def _scene_for_weights(rng):
    sem, inst = random_scene(rng, 4, 256, 256)
    (target, valid), = affinity_pyramid_targets(sem, inst, 5, [1], THINGS)
    return sem, target, valid


def test_bd_drops_80_percent_of_all_one_pixels_and_nothing_else():
    rng = np.random.default_rng(0)
    sem, target, valid = _scene_for_weights(rng)
    all_one = all_one_pixels(target, valid)
    n = int(all_one.sum())
    assert n > 50000
    weight = affinity_loss_weights(target, valid, sem, 0.8, 3.0, np.random.default_rng(1),
                                   THINGS)
    base = np.where(np.isin(sem, THINGS), 3.0, 1.0)
    dropped = weight == 0
    # only all-one pixels are dropped; every other pixel keeps its OL weight
    assert not (dropped & ~all_one).any()
    np.testing.assert_array_equal(weight[~dropped], base[~dropped])
    # fraction: binomial(n, 0.8), sd = sqrt(0.16 / n) < 0.002; tolerance 5 sd
    frac = dropped[all_one].mean()
    assert abs(frac - 0.8) < 5 * np.sqrt(0.16 / n)


def test_bd_is_resampled_per_call_and_seedable():
    rng = np.random.default_rng(0)
    sem, target, valid = _scene_for_weights(rng)
    gen = np.random.default_rng(7)
    w1 = affinity_loss_weights(target, valid, sem, 0.8, 3.0, gen, THINGS)
    w2 = affinity_loss_weights(target, valid, sem, 0.8, 3.0, gen, THINGS)
    assert ((w1 == 0) != (w2 == 0)).mean() > 0.1  # a new draw each iteration
    w3 = affinity_loss_weights(target, valid, sem, 0.8, 3.0, np.random.default_rng(7), THINGS)
    np.testing.assert_array_equal(w1, w3)


def test_ol_weight_is_exactly_three_on_thing_pixels():
    rng = np.random.default_rng(2)
    sem, target, valid = _scene_for_weights(rng)
    weight = affinity_loss_weights(target, valid, sem, 0.0, 3.0, rng, THINGS)
    thing = np.isin(sem, THINGS)
    assert thing.any() and (~thing).any()
    assert (weight[thing] == 3.0).all() and (weight[~thing] == 1.0).all()
    assert weight.dtype == np.float32
    # BD off and OL off: all ones
    np.testing.assert_array_equal(
        affinity_loss_weights(target, valid, sem, 0.0, 1.0, rng, THINGS), np.ones(sem.shape))


def test_weights_reject_mismatched_semantic():
    target = np.zeros((9, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="does not match targets"):
        affinity_loss_weights(target, target, np.zeros((4, 5)), 0.8, 3, None, THINGS)


def _cfg(*opts):
    return load_config(None, ["AFFINITY.WINDOW", "5", "MODEL.NUM_CLASSES", "19"] + list(opts))


def test_build_targets_contents():
    cfg = _cfg()
    rng = np.random.default_rng(4)
    sem, inst = random_scene(rng, 2, 128, 128)
    t = build_targets(cfg, sem, inst, THINGS, np.random.default_rng(0))
    assert t.strides == (4, 8, 16, 32, 64) and t.batch_size == 2
    levels = affinity_pyramid_targets(sem, inst, 5, t.strides, THINGS)
    for i, s in enumerate(t.strides):
        np.testing.assert_array_equal(t.semantic[i], sem[:, ::s, ::s])
        np.testing.assert_array_equal(t.affinity[i], levels[i][0])
        np.testing.assert_array_equal(t.affinity_valid[i], levels[i][1])
        assert t.affinity_weight[i].shape == (2, 128 // s, 128 // s)
    # AFFINITY.OUTSIDE_PAIRS reaches the targets
    t_bg = build_targets(_cfg("AFFINITY.OUTSIDE_PAIRS", "background"), sem, inst, THINGS,
                         np.random.default_rng(0))
    bg = affinity_pyramid_targets(sem, inst, 5, t.strides, THINGS, outside="background")
    np.testing.assert_array_equal(t_bg.affinity_valid[-1], bg[-1][1])
    assert (t_bg.affinity_valid[-1] != t.affinity_valid[-1]).any()
    # semantic-only: no affinities; affinity-only: no semantic labels
    t_sem = build_targets(_cfg("MODEL.TASKS", "semantic", "AFFINITY.WINDOW", "0"), sem, inst,
                          THINGS, rng)
    assert len(t_sem.semantic) == 5 and t_sem.affinity == []
    t_aff = build_targets(_cfg("MODEL.TASKS", "affinity"), sem, inst, THINGS, rng)
    assert t_aff.semantic == [] and len(t_aff.affinity_weight) == 5


def test_build_targets_split_matches_gluon_split():
    from mxnet import gluon, nd

    cfg = _cfg()
    rng = np.random.default_rng(5)
    sem, inst = random_scene(rng, 5, 64, 64)
    t = build_targets(cfg, sem, inst, THINGS, rng)
    parts = t.split(2)
    images = gluon.utils.split_data(nd.arange(5), 2, even_split=False)
    assert [p.batch_size for p in parts] == [x.shape[0] for x in images] == [3, 2]
    np.testing.assert_array_equal(parts[1].affinity[0], t.affinity[0][3:])
    assert isinstance(parts[0], PyramidTargets)


def test_build_targets_rejects_bad_labels():
    cfg = _cfg()
    rng = np.random.default_rng(6)
    sem, inst = random_scene(rng, 1, 64, 64)
    sem[0, 0, 0] = 19
    with pytest.raises(ValueError, match=r"\[19\].*NUM_CLASSES 19"):
        build_targets(cfg, sem, inst, THINGS, rng)
    with pytest.raises(ValueError, match="must be a \\(B, H, W\\) batch"):
        build_targets(cfg, sem[0], inst[0], THINGS, rng)
    with pytest.raises(ValueError, match="differ in shape"):
        build_targets(cfg, sem, inst[:, :32], THINGS, rng)
    with pytest.raises(ValueError, match="window r must be odd"):
        affinity_targets(np.zeros((4, 4), np.int32), 4)
