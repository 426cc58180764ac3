"""DataLoader: batch contract, worker seeding (no repeats across workers or epochs,
independent of num_workers), shuffling, sharding, padding of uneven eval batches."""
import numpy as np
import pytest

from ssap_gluon.config import load_config
from ssap_gluon.data import EpochSeededSampler, build_dataloader, build_dataset
from ssap_gluon.data.loader import PadBatchify, resolve_split
from test_data_cityscapes import small_frame, write_cityscapes_frame


def _frame(seed):
    rng = np.random.default_rng(seed)
    h, w = 64, 128
    label = np.full((h, w), 7, np.uint8)  # road
    inst = label.astype(np.uint16)
    for k in range(3):  # three cars at random places
        y, x = rng.integers(0, h - 16), rng.integers(0, w - 24)
        label[y:y + 16, x:x + 24] = 26
        inst[y:y + 16, x:x + 24] = 26000 + k
    return rng.integers(0, 256, (h, w, 3)).astype(np.uint8), label, inst


@pytest.fixture(scope="module")
def loader_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("loader_cs"))
    same = _frame(0)
    for k in range(5):  # identical frames: any two equal outputs mean equal random draws
        write_cityscapes_frame(root, "train", "c_%06d_000019" % k, *same)
    for k, (h, w) in enumerate(((64, 128), (40, 100))):
        label, inst, _, _ = small_frame()
        label = np.resize(np.tile(label, (11, 17)), (h, w)).astype(np.uint8)
        inst = label.astype(np.uint16)
        rgb = np.random.default_rng(k).integers(0, 256, (h, w, 3)).astype(np.uint8)
        write_cityscapes_frame(root, "val", "v_%06d_000019" % k, rgb, label, inst)
    return root


def _cfg(root, *opts):
    return load_config(None, ["DATASET.ROOT", root, "INPUT.CROP_SIZE", "[64, 64]",
                              "INPUT.SCALE_RANGE", "[0.75, 1.5]", "TRAIN.SEED", "3"]
                       + list(opts))


def _epochs(loader, n):
    out = []
    try:
        for _ in range(n):
            out.append([[x.asnumpy() for x in batch] for batch in loader])
    finally:
        loader.close()
    return out


def test_train_batches_follow_the_contract(loader_root):
    loader = build_dataloader(_cfg(loader_root), "train", True, batch_size=2, num_workers=0)
    (epoch,) = _epochs(loader, 1)
    assert len(epoch) == 2  # 5 frames, batch 2: the incomplete last batch is dropped
    image, semantic, instance = epoch[0]
    assert image.shape == (2, 3, 64, 64) and image.dtype == np.float32
    assert semantic.shape == (2, 64, 64) and semantic.dtype == np.int32
    assert instance.shape == (2, 64, 64) and instance.dtype == np.int32
    assert set(np.unique(semantic)) <= {0, 13, 255}
    assert set(np.unique(instance)) <= {-1, 0, 26000, 26001, 26002}
    # car pixels carry car instances, road pixels 0
    assert (semantic[instance > 0] == 13).all() and (instance[semantic == 0] == 0).all()


def test_workers_and_epochs_never_repeat_a_random_draw(loader_root):
    loader = build_dataloader(_cfg(loader_root), "train", True, batch_size=1, num_workers=2)
    epochs = _epochs(loader, 2)
    samples = [b[0][0] for e in epochs for b in e]  # all frames are identical
    assert len(samples) == 10
    for i in range(len(samples)):
        for j in range(i):
            assert not np.array_equal(samples[i], samples[j]), (i, j)


def test_augmentation_does_not_depend_on_num_workers(loader_root):
    runs = []
    for workers in (0, 2):
        loader = build_dataloader(_cfg(loader_root), "train", True, batch_size=2,
                                  num_workers=workers)
        runs.append(_epochs(loader, 2))
    for a, b in zip(runs[0], runs[1]):
        for batch_a, batch_b in zip(a, b):
            for x, y in zip(batch_a, batch_b):
                np.testing.assert_array_equal(x, y)


def test_set_epoch_replays_an_epoch_and_seed_changes_it(loader_root):
    loader = build_dataloader(_cfg(loader_root), "train", True, batch_size=1, num_workers=0)
    first, second = _epochs(loader, 2)
    loader.set_epoch(1)
    (replay,) = _epochs(loader, 1)
    for x, y in zip(second, replay):
        np.testing.assert_array_equal(x[1], y[1])
    other = build_dataloader(_cfg(loader_root, "TRAIN.SEED", "4"), "train", True,
                             batch_size=1, num_workers=0)
    (other_first,) = _epochs(other, 1)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(first, other_first))


def test_sampler_shuffles_per_epoch_and_shards_disjointly():
    sampler = EpochSeededSampler(10, shuffle=True, seed=0)
    orders = [[k[0] for k in sampler] for _ in range(3)]
    for order in orders:
        assert sorted(order) == list(range(10))
    assert orders[0] != orders[1] != orders[2]
    parts = [[k[0] for k in EpochSeededSampler(10, True, 0, num_parts=3, part_index=p)]
             for p in range(3)]
    assert all(len(p) == 3 for p in parts)
    assert len(set(sum(parts, []))) == 9 and set(sum(parts, [])) <= set(orders[0])
    assert [k[0] for k in EpochSeededSampler(4, shuffle=False)] == [0, 1, 2, 3]


def test_eval_loader_pads_uneven_frames(loader_root):
    cfg = _cfg(loader_root)
    ds = build_dataset(cfg, "val", False)
    loader = build_dataloader(cfg, "val", False, batch_size=2, num_workers=0)
    ((image, semantic, instance),) = _epochs(loader, 1)[0]
    # 64x128 and 40x100: each padded to multiples of 64, then to the larger one
    assert image.shape == (2, 3, 64, 128)
    raw_sem, raw_ins = ds.load_labels(1)
    np.testing.assert_array_equal(semantic[1, :40, :100], raw_sem)
    np.testing.assert_array_equal(instance[1, :40, :100], raw_ins)
    assert (semantic[1, 40:] == 255).all() and (instance[1, :, 100:] == -1).all()
    assert np.allclose(image[1, :, 40:], 0)


def test_pad_batchify_by_hand():
    a = (np.ones((3, 2, 3), np.float32), np.full((2, 3), 4, np.int32), np.full((2, 3), 9, np.int32))
    b = (np.ones((3, 3, 2), np.float32), np.full((3, 2), 5, np.int32), np.full((3, 2), 8, np.int32))
    image, semantic, instance = [x.asnumpy() for x in PadBatchify(255)([a, b])]
    assert image.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(semantic[0], [[4, 4, 4], [4, 4, 4], [255, 255, 255]])
    np.testing.assert_array_equal(instance[1], [[8, 8, -1], [8, 8, -1], [8, 8, -1]])
    np.testing.assert_array_equal(image[0, 0], [[1, 1, 1], [1, 1, 1], [0, 0, 0]])


def test_split_roles_map_to_config(loader_root):
    cfg = _cfg(loader_root, "DATASET.TRAIN_SPLIT", "val")
    assert resolve_split(cfg, "train") == "val" and resolve_split(cfg, "foo") == "foo"
    assert len(build_dataset(cfg, "train", False)) == 2


def test_too_few_frames_for_a_batch_is_an_error(loader_root):
    with pytest.raises(ValueError, match="fewer than one training batch"):
        build_dataloader(_cfg(loader_root), "train", True, batch_size=8, num_workers=0)


def test_workers_run_after_opencv_used_its_thread_pool(loader_root):
    """Regression: forked workers hung when the parent had run OpenCV's thread
    pool and the worker called cv2.setNumThreads."""
    import cv2
    big = np.zeros((1500, 1500, 3), np.uint8)
    cv2.GaussianBlur(cv2.resize(big, (3000, 3000)), (5, 5), 1.0)
    loader = build_dataloader(_cfg(loader_root), "train", True, batch_size=2, num_workers=2,
                              timeout=30)
    assert len(_epochs(loader, 1)[0]) == 2


def test_synthcity_loader_end_to_end(synthcity_root):
    cfg = load_config(None, ["DATASET.ROOT", synthcity_root, "INPUT.CROP_SIZE", "[128, 256]"])
    loader = build_dataloader(cfg, "train", True, batch_size=2, num_workers=1, timeout=60)
    (epoch,) = _epochs(loader, 1)
    assert len(epoch) == 3
    image, semantic, instance = epoch[0]
    assert image.shape == (2, 3, 128, 256)
    assert (instance > 0).any(), "SynthCity crops should contain thing instances"
    things = set(np.unique(semantic[instance > 0]).tolist())
    assert things <= set(range(11, 19))
    val = build_dataloader(cfg, "val", False, num_workers=0)
    (val_epoch,) = _epochs(val, 1)
    assert len(val_epoch) == 4 and val_epoch[0][0].shape == (1, 3, 256, 512)
