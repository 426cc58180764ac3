"""Augmentation keeps image and labels aligned; padding, flip, eval padding and its undo.

The alignment tests are built to fail on a one-pixel shift or a flipped label
map: the image encodes, per pixel, where it came from (or which label it
carries), and the check decodes every output pixel.
"""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssap_gluon.data.transforms import (Compose, Geometry, RandomCrop, RandomHorizontalFlip,
                                        RandomScale, Rescale, eval_transform, resize_array,
                                        train_transform, warp_labels)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def denormalize(image):
    """float32 (3, H, W) normalised -> float (H, W, 3) in 0..255."""
    return (image.transpose(1, 2, 0) * np.array(STD) + np.array(MEAN)) * 255.0


def coordinate_image(h, w):
    """R = column, G = row (both < 256), B = 200: bilinear resampling of a ramp is the ramp."""
    assert h <= 250 and w <= 250
    rows, cols = np.mgrid[0:h, 0:w]
    return np.stack([cols, rows, np.full_like(rows, 200)], axis=-1).astype(np.uint8), rows, cols


def check_geometry_alignment(out_image, out_label, src_label, flipped_ok=False):
    """Decode each output pixel's source position from its colour; its label must be
    the source label there. Returns the fraction of exact matches (valid pixels)."""
    rgb = denormalize(out_image)
    valid = out_label >= 0
    src_x = np.rint(rgb[..., 0]).astype(int)
    src_y = np.rint(rgb[..., 1]).astype(int)
    h, w = src_label.shape
    assert valid.sum() > 0
    assert src_x[valid].min() >= 0 and src_x[valid].max() < w
    assert src_y[valid].min() >= 0 and src_y[valid].max() < h
    expected = src_label[src_y[valid], src_x[valid]]
    exact = float(np.mean(expected == out_label[valid]))
    # The image goes through uint8 rounding and OpenCV's 1/32-pixel fixed point,
    # so a pixel whose source position is within ~1/32 of a half-integer may
    # decode to the neighbouring source pixel; never further.
    ys, xs = src_y[valid], src_x[valid]
    near = np.zeros(valid.sum(), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy, xx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            near |= src_label[yy, xx] == out_label[valid]
    assert near.all(), "a label is more than one source pixel away from its image pixel"
    return exact


def _unique_labels(h, w):
    return (np.arange(h * w, dtype=np.int32).reshape(h, w) * 7919) % 1000003 + 1


@pytest.mark.parametrize("seed", range(12))
def test_train_transform_keeps_image_and_labels_aligned(seed):
    h, w = 90, 140
    image, _, _ = coordinate_image(h, w)
    label = _unique_labels(h, w)
    t = train_transform((64, 128), (0.5, 2.0), mean=MEAN, std=STD)
    rng = np.random.default_rng(seed)
    out, sem, ins = t(image, label, label, rng=rng)
    assert out.shape == (3, 64, 128) and out.dtype == np.float32
    np.testing.assert_array_equal(sem[ins >= 0], ins[ins >= 0])
    assert (sem[ins < 0] == 255).all()
    assert check_geometry_alignment(out, ins, label) > 0.9


def _shifted(a, axis):
    return np.roll(a, 1, axis=axis)


def test_alignment_check_catches_shift_and_flip():
    """The check above must fail for a label map one pixel off or mirrored."""
    h, w = 90, 140
    image, _, _ = coordinate_image(h, w)
    label = _unique_labels(h, w)
    t = train_transform((64, 128), (1.0, 1.0), flip=False, mean=MEAN, std=STD)
    out, _, ins = t(image, label, label, rng=np.random.default_rng(0))
    assert check_geometry_alignment(out, ins, label) == 1.0  # scale 1: all exact
    for bad in (_shifted(ins, 0), _shifted(ins, 1), ins[:, ::-1]):
        with pytest.raises(AssertionError):
            assert check_geometry_alignment(out, bad, label) > 0.9


def block_scene(h=96, w=160, block=8):
    """Instance id per 8x8 block and an image whose colour encodes that id.

    B = the id (1..240); R = 255 on odd block columns, G = 255 on odd block
    rows. Neighbouring blocks differ in R or G, so a bilinear blend of two
    blocks has R or G strictly between 0 and 255: a pixel whose R and G are
    both 0/255 comes from one block, and then B is exactly its id.
    """
    by, bx = np.mgrid[0:h // block, 0:w // block]
    ids = by * (w // block) + bx + 1
    assert ids.max() < 256
    colours = np.stack([255 * (bx % 2), 255 * (by % 2), ids], axis=-1)
    up = np.ones((block, block, 1), dtype=np.int64)
    image = np.kron(colours, up).astype(np.uint8)
    instance = np.kron(ids, up[..., 0]).astype(np.int32)
    return image, instance


def check_block_alignment(out_image, out_instance):
    """Every output pixel of unblended colour must carry the id its colour encodes.
    Returns the number of pixels checked."""
    rgb = denormalize(out_image)
    rg = rgb[..., :2]
    pure = ((np.abs(rg) <= 1.0) | (np.abs(rg - 255) <= 1.0)).all(axis=-1) & (out_instance >= 0)
    decoded = np.rint(rgb[..., 2]).astype(int)
    assert (decoded[pure] == out_instance[pure]).all(), "a pixel's colour and label disagree"
    return int(pure.sum())


def test_block_colours_decode_to_their_instance_after_augmentation():
    """The brief's test: colour encodes the instance id; after augmentation every
    pixel of pure colour decodes to its label (padding: mean colour, id -1)."""
    image, instance = block_scene()
    t = train_transform((64, 128), (0.5, 2.0), mean=MEAN, std=STD)
    checked = 0
    for seed in range(8):
        out, _, ins = t(image, instance, instance, rng=np.random.default_rng(seed))
        checked += check_block_alignment(out, ins)
        assert np.allclose(out[:, ins == -1], 0.0)
    assert checked > 8 * 64 * 128 * 0.5


def test_block_check_catches_shift_and_flip():
    image, instance = block_scene()
    t = train_transform((64, 128), (0.5, 2.0), mean=MEAN, std=STD)
    for seed in range(4):
        out, _, ins = t(image, instance, instance, rng=np.random.default_rng(seed))
        for bad in (_shifted(ins, 0), _shifted(ins, 1), ins[:, ::-1]):
            with pytest.raises(AssertionError, match="disagree"):
                check_block_alignment(out, bad)


def test_padding_values_and_position():
    h, w = 20, 30
    image = np.full((h, w, 3), 255, np.uint8)
    sem = np.full((h, w), 3, np.int32)
    ins = np.full((h, w), 7, np.int32)
    t = Compose([RandomCrop((32, 48))], MEAN, STD)
    out, s, i = t(image, sem, ins, rng=np.random.default_rng(0))
    assert out.shape == (3, 32, 48)
    # the image stays at the top-left; padding bottom/right
    assert (s[:h, :w] == 3).all() and (i[:h, :w] == 7).all()
    assert (s[h:, :] == 255).all() and (s[:, w:] == 255).all()
    assert (i[h:, :] == -1).all() and (i[:, w:] == -1).all()
    assert np.allclose(out[:, h:, :], 0) and np.allclose(out[:, :, w:], 0)  # == MEAN
    expected_white = (1.0 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(out[:, 5, 5], expected_white, rtol=1e-5)


def test_flip_mirrors_image_and_labels_together():
    h, w = 4, 6
    image, _, cols = coordinate_image(h, w)
    label = cols.astype(np.int32)
    t = Compose([RandomHorizontalFlip(1.0)], MEAN, STD)
    out, sem, _ = t(image, label, label, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(sem, label[:, ::-1])
    np.testing.assert_allclose(denormalize(out)[..., 0], cols[:, ::-1], atol=1e-3)


def test_flip_after_crop_mirrors_the_window():
    g = Geometry((10, 20)).windowed(0, 2, 10, 5).flipped()
    # Window columns 2..6 of the original, mirrored: output column x shows 6 - x.
    cols, valid = g.nearest_indices(1)
    assert valid.all()
    np.testing.assert_array_equal(cols, [6, 5, 4, 3, 2])


def test_scale_after_crop_is_refused():
    with pytest.raises(ValueError, match="scale before"):
        Compose([RandomCrop((4, 4)), RandomScale(0.5, 2.0)], MEAN, STD)(
            np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.int32),
            np.zeros((8, 8), np.int32))


def test_nearest_upsampling_by_two_repeats_pixels():
    label = np.array([[1, 2], [3, 4]], np.int32)
    g = Geometry((2, 2), scale=2.0)
    np.testing.assert_array_equal(warp_labels(label, g, -1),
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    np.testing.assert_array_equal(resize_array(label, (4, 4), "nearest"),
                                  warp_labels(label, g, -1))


def test_random_scale_range_and_grid():
    rng = np.random.default_rng(0)
    g = Geometry((100, 100))
    factors = [RandomScale(0.5, 2.0)(g, rng).scale for _ in range(400)]
    assert 0.5 <= min(factors) < 0.6 and 1.9 < max(factors) <= 2.0
    grid = {RandomScale(0.5, 2.0, 0.25)(g, rng).scale for _ in range(400)}
    assert grid == {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0}


def test_seeded_transform_is_reproducible_and_varies_with_seed():
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3)).astype(np.uint8)
    label = _unique_labels(50, 70)
    t = train_transform((32, 64), (0.5, 2.0))
    a = t(image, label, label, rng=np.random.default_rng(5))
    b = t(image, label, label, rng=np.random.default_rng(5))
    c = t(image, label, label, rng=np.random.default_rng(6))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])


def test_eval_transform_pads_to_multiple_and_restores_exactly():
    h, w = 100, 150
    image = np.random.default_rng(1).integers(0, 256, (h, w, 3)).astype(np.uint8)
    label = _unique_labels(h, w)
    t = eval_transform(64, mean=MEAN, std=STD)
    out, sem, ins = t(image, label, label)
    assert out.shape == (3, 128, 192)
    np.testing.assert_array_equal(sem[:h, :w], label)
    assert (sem[h:] == 255).all() and (ins[:, w:] == -1).all()
    np.testing.assert_allclose(denormalize(out[:, :h, :w]), image, atol=1e-3)
    g = t.geometry(h, w)
    np.testing.assert_array_equal(g.restore(ins, "nearest"), label)
    scores = np.random.default_rng(2).random((5, 128, 192)).astype(np.float32)
    np.testing.assert_array_equal(g.restore(scores), scores[:, :h, :w])


def test_eval_transform_with_scale_and_long_edge_restores_shape():
    t = eval_transform(64, scale=0.75, long_edge=640)
    g = t.geometry(480, 1000)
    assert g.scaled_size == (230, 480) and g.out_size == (256, 512)
    rows, cols = np.mgrid[0:480, 0:1000]
    label = (rows * 10000 + cols).astype(np.int32)
    out = warp_labels(label, g, -1)
    assert (out[230:] == -1).all() and (out[:, 480:] == -1).all()
    back = g.restore(out, "nearest")
    assert back.shape == (480, 1000)
    # Down 0.48x then back up: each restored pixel comes from within about one
    # scaled pixel (~2 source pixels) of where it was.
    assert np.abs(back // 10000 - rows).max() <= 2
    assert np.abs(back % 10000 - cols).max() <= 2


def test_restore_refuses_a_cropping_geometry():
    g = Geometry((10, 10)).windowed(2, 0, 4, 10)
    with pytest.raises(ValueError, match="cannot be restored"):
        g.restore(np.zeros((4, 10)))


def test_rescale_identity_is_a_no_op():
    image = np.random.default_rng(1).integers(0, 256, (13, 17, 3)).astype(np.uint8)
    label = _unique_labels(13, 17)
    out, sem, _ = Compose([Rescale(1.0)], MEAN, STD)(image, label, label)
    np.testing.assert_array_equal(sem, label)
    np.testing.assert_allclose(denormalize(out), image, atol=1e-3)


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), scale=st.floats(0.3, 3.0),
       flip=st.booleans(), oy=st.integers(-3, 10), ox=st.integers(-3, 10),
       out_h=st.integers(1, 12), out_w=st.integers(1, 12))
def test_nearest_label_sampling_matches_brute_force(h, w, scale, flip, oy, ox, out_h, out_w):
    """Each output label is the source pixel whose centre is closest to the
    continuous source position (ties to the right/bottom); padding elsewhere."""
    g = replace(Geometry((h, w), scale=scale, flip=flip), window=(oy, ox, out_h, out_w))
    hs, ws = g.scaled_size
    label = np.arange(h * w, dtype=np.int32).reshape(h, w)
    out = warp_labels(label, g, -1)
    for y in range(out_h):
        for x in range(out_w):
            sy, sx = y + oy, x + ox
            if not (0 <= sy < hs and 0 <= sx < ws):
                assert out[y, x] == -1
                continue
            if flip:
                sx = ws - 1 - sx
            v = (sy + 0.5) * h / hs - 0.5
            u = (sx + 0.5) * w / ws - 0.5
            # closest centre; on an exact tie the larger index
            row = min(range(h), key=lambda i: (abs(i - v), -i))
            col = min(range(w), key=lambda j: (abs(j - u), -j))
            assert out[y, x] == label[row, col], (y, x, v, u)
