"""Cityscapes dataset: decoding against cityscapesScripts' table, real sample, SynthCity, errors.

Expected values are counted independently of the dataset code: PNGs are read
with PIL (the dataset uses OpenCV) and every label id is looked up in
cityscapesScripts' ``id2label``.
"""
import os

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label
from PIL import Image

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.data import CityscapesInstances, DatasetError, build_dataset
from ssap_gluon.data.cityscapes import decode_cityscapes_labels
from ssap_gluon.data.labels import (CLASS_NAMES, LABEL_ID_TO_TRAIN_ID, THING_TRAIN_IDS,
                                    TRAIN_ID_TO_LABEL_ID)
from ssap_gluon.utils.io import ImageReadError, write_png


# ---------------------------------------------------------------------------
# Fixture writer (also used by the other test_data_* files)
# ---------------------------------------------------------------------------
def write_cityscapes_frame(root, split, name, image_rgb, label_ids, instance_ids,
                           city="testcity"):
    """Write one frame in the official layout; returns the three paths."""
    img = os.path.join(root, "leftImg8bit", split, city, name + "_leftImg8bit.png")
    lab = os.path.join(root, "gtFine", split, city, name + "_gtFine_labelIds.png")
    ins = os.path.join(root, "gtFine", split, city, name + "_gtFine_instanceIds.png")
    write_png(img, np.ascontiguousarray(image_rgb[..., ::-1]))
    write_png(lab, label_ids.astype(np.uint8))
    write_png(ins, instance_ids.astype(np.uint16))
    return img, lab, ins


def small_frame():
    """A 6x8 frame: road, sky, two cars, a person group (crowd), a caravan, void.

    Returns (label_ids, instance_ids, expected_semantic, expected_instance),
    the expectation written out by hand from the Cityscapes label table
    (road 7 -> 0, sky 23 -> 10, car 26 -> 13, person 24 -> 11,
    caravan 29 -> 255, ego vehicle 1 -> 255).
    """
    label = np.full((6, 8), 7, np.uint8)           # road
    label[0, :] = 23                               # sky
    label[1:3, 0:3] = 26                           # car A
    label[1:3, 4:6] = 26                           # car B
    label[3, 0:4] = 24                             # person group (crowd)
    label[4, 6:8] = 29                             # caravan (thing, ignoreInEval)
    label[5, :] = 1                                # ego vehicle (void)
    inst = label.astype(np.uint16).copy()
    inst[1:3, 0:3] = 26000
    inst[1:3, 4:6] = 26001
    inst[4, 6:8] = 29000
    sem = np.zeros((6, 8), np.int32)
    sem[0, :] = 10
    sem[1:3, 0:3] = 13
    sem[1:3, 4:6] = 13
    sem[3, 0:4] = 11
    sem[4, 6:8] = 255
    sem[5, :] = 255
    ins = np.zeros((6, 8), np.int32)
    ins[1:3, 0:3] = 26000
    ins[1:3, 4:6] = 26001
    ins[3, 0:4] = -1    # crowd
    ins[4, 6:8] = -1    # caravan: not evaluated
    ins[5, :] = -1      # void
    return label, inst, sem, ins


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


# ---------------------------------------------------------------------------
# Label table
# ---------------------------------------------------------------------------
def test_label_table_matches_cityscapesscripts():
    assert len(CLASS_NAMES) == 19
    assert CLASS_NAMES[0] == "road" and CLASS_NAMES[18] == "bicycle"
    assert THING_TRAIN_IDS == (11, 12, 13, 14, 15, 16, 17, 18)
    for label_id in range(34):
        train_id = id2label[label_id].trainId
        assert LABEL_ID_TO_TRAIN_ID[label_id] == (255 if train_id in (255, -1) else train_id)
    for train_id, label_id in enumerate(TRAIN_ID_TO_LABEL_ID):
        assert id2label[int(label_id)].trainId == train_id


def test_decode_small_frame_by_hand():
    label, inst, sem_expected, ins_expected = small_frame()
    sem, ins = decode_cityscapes_labels(label, inst)
    assert sem.dtype == np.int32 and ins.dtype == np.int32
    np.testing.assert_array_equal(sem, sem_expected)
    np.testing.assert_array_equal(ins, ins_expected)


def test_decode_accepts_int32_maps_and_refuses_out_of_range_ids():
    label, inst, sem_expected, ins_expected = small_frame()
    sem, ins = decode_cityscapes_labels(label, inst.astype(np.int32))
    np.testing.assert_array_equal(ins, ins_expected)
    bad = inst.astype(np.int32)
    bad[0, 0] = 70000
    with pytest.raises(DatasetError, match="my_instanceIds.png"):
        decode_cityscapes_labels(label, bad, instance_path="my_instanceIds.png")


def test_decode_custom_ignore_label():
    label, inst, sem_expected, _ = small_frame()
    sem, _ = decode_cityscapes_labels(label, inst, ignore_label=254)
    np.testing.assert_array_equal(sem, np.where(sem_expected == 255, 254, sem_expected))


# ---------------------------------------------------------------------------
# Dataset on a written fixture
# ---------------------------------------------------------------------------
@pytest.fixture()
def tiny_root(tmp_path):
    label, inst, _, _ = small_frame()
    for split, n in (("train", 2), ("val", 1), ("test", 1)):
        for k in range(n):
            write_cityscapes_frame(str(tmp_path), split, "testcity_%06d_000019" % k,
                                   _rgb(6, 8, k), label, inst)
    return str(tmp_path)


def test_dataset_loads_raw_frames(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    assert len(ds) == 2 and ds.name(1) == "testcity_000001_000019"
    assert ds.num_classes == 19 and ds.ignore_label == 255
    assert ds.thing_train_ids == (11, 12, 13, 14, 15, 16, 17, 18)
    image, sem, ins = ds[1]
    np.testing.assert_array_equal(image, _rgb(6, 8, 1))  # RGB order, not BGR
    _, _, sem_expected, ins_expected = small_frame()
    np.testing.assert_array_equal(sem, sem_expected)
    np.testing.assert_array_equal(ins, ins_expected)


def test_test_split_loads_images_without_labels(tiny_root):
    ds = CityscapesInstances(tiny_root, "test")
    assert not ds.with_labels
    image, sem, ins = ds[0]
    assert image.shape == (6, 8, 3)
    assert (sem == 255).all() and (ins == -1).all()
    # Missing label files do not matter for the test split ...
    os.remove(ds.records[0].label_path)
    assert CityscapesInstances(tiny_root, "test")[0][0].shape == (6, 8, 3)
    # ... but do when labels are requested.
    with pytest.raises(DatasetError, match="gtFine_labelIds.png"):
        CityscapesInstances(tiny_root, "test", with_labels=True)


def test_relative_root_resolves_against_cwd(tiny_root, monkeypatch):
    monkeypatch.chdir(os.path.dirname(tiny_root))
    ds = CityscapesInstances(os.path.basename(tiny_root), "val")
    assert ds.root == tiny_root


def test_root_from_environment(tiny_root, monkeypatch):
    monkeypatch.setenv("CITYSCAPES_DATASET", tiny_root)
    assert len(CityscapesInstances("", "train")) == 2


# ---------------------------------------------------------------------------
# Bad input: each error names the file / key
# ---------------------------------------------------------------------------
def test_missing_root_names_path_and_how_to_set_it(tmp_path, monkeypatch):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DatasetError) as e:
        CityscapesInstances(missing, "train")
    assert missing in str(e.value) and "DATASET.ROOT" in str(e.value)
    assert "CITYSCAPES_DATASET" in str(e.value)
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    with pytest.raises(DatasetError, match="CITYSCAPES_DATASET"):
        CityscapesInstances("", "train")


def test_missing_split_names_folder(tiny_root):
    with pytest.raises(DatasetError, match=r"leftImg8bit[/\\]trainextra"):
        CityscapesInstances(tiny_root, "trainextra")


def test_missing_label_file_names_expected_file(tiny_root):
    path = CityscapesInstances(tiny_root, "train").records[1].instance_path
    os.remove(path)
    with pytest.raises(DatasetError) as e:
        CityscapesInstances(tiny_root, "train")
    assert path in str(e.value)


def test_corrupt_png_names_file(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    path = ds.records[0].label_path
    with open(path, "r+b") as f:
        f.truncate(40)
    with pytest.raises(ImageReadError) as e:
        ds[0]
    assert path in str(e.value)
    image_path = ds.records[1].image_path
    with open(image_path, "wb") as f:
        f.write(b"not a png at all")
    with pytest.raises(ImageReadError, match=image_path.replace("\\", "\\\\")):
        ds[1]


def test_unknown_label_id_names_file_and_ids(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    label, inst, _, _ = small_frame()
    label[0, 0], inst[0, 0] = 40, 40
    label[0, 1], inst[0, 1] = 77, 77
    write_png(ds.records[0].label_path, label)
    write_png(ds.records[0].instance_path, inst)
    with pytest.raises(DatasetError) as e:
        ds[0]
    msg = str(e.value)
    assert ds.records[0].label_path in msg and "40" in msg and "77" in msg


def test_label_and_instance_files_that_disagree_are_refused(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    label, inst, _, _ = small_frame()
    inst[1, 1] = 24005  # a person instance where labelIds says car
    write_png(ds.records[0].instance_path, inst)
    with pytest.raises(DatasetError) as e:
        ds[0]
    assert ds.records[0].instance_path in str(e.value) and "row 1, column 1" in str(e.value)


def test_image_and_label_size_mismatch_names_both(tiny_root):
    ds = CityscapesInstances(tiny_root, "train")
    write_png(ds.records[0].image_path, _rgb(7, 8))
    with pytest.raises(DatasetError) as e:
        ds[0]
    assert ds.records[0].image_path in str(e.value) and ds.records[0].label_path in str(e.value)


def test_bad_config_key_or_type_is_named(tmp_path, tiny_root):
    cfg_path = tmp_path / "bad.yaml"
    cfg_path.write_text("DATASET:\n  ROOT: %s\n  SPLITT: train\n" % tiny_root)
    with pytest.raises(ConfigError, match=r"DATASET\.SPLITT"):
        build_dataset(load_config(str(cfg_path)), "train", True)
    cfg_path.write_text("DATASET:\n  ROOT: %s\nINPUT:\n  CROP_SIZE: 512\n" % tiny_root)
    with pytest.raises(ConfigError, match=r"INPUT\.CROP_SIZE"):
        build_dataset(load_config(str(cfg_path)), "train", True)


def test_config_values_the_dataset_cannot_use_are_named(tiny_root):
    opts = ["DATASET.ROOT", tiny_root]
    with pytest.raises(ConfigError, match=r"MODEL\.NUM_CLASSES"):
        build_dataset(load_config(None, opts + ["MODEL.NUM_CLASSES", "20"]), "train", True)
    with pytest.raises(ConfigError, match=r"INPUT\.IGNORE_LABEL"):
        build_dataset(load_config(None, opts + ["INPUT.IGNORE_LABEL", "3"]), "train", True)
    with pytest.raises(ConfigError, match=r"INPUT\.CROP_SIZE"):
        build_dataset(load_config(None, opts + ["INPUT.CROP_SIZE", "[500, 1000]"]), "train", True)
    with pytest.raises(ConfigError, match=r"INPUT\.SIZE_DIVISOR"):
        build_dataset(load_config(None, opts + ["INPUT.SIZE_DIVISOR", "32"]), "val", False)
    with pytest.raises(ConfigError, match=r"INPUT\.SCALE_STEP"):
        build_dataset(load_config(None, opts + ["INPUT.SCALE_STEP", "-0.25"]), "train", True)


# ---------------------------------------------------------------------------
# The real Cityscapes sample frame
# ---------------------------------------------------------------------------
def _independent_counts(label_path, instance_path):
    """Classes, instances (id -> (train id, pixels)) and masked pixels, via PIL + id2label."""
    label = np.array(Image.open(label_path))
    inst = np.array(Image.open(instance_path)).astype(np.int64)
    classes = {id2label[int(v)].trainId for v in np.unique(label)} - {255, -1}
    instances, masked = {}, 0
    for v in np.unique(inst):
        lab = id2label[int(v) // 1000 if v >= 1000 else int(v)]
        pixels = int((inst == v).sum())
        evaluated_thing = lab.hasInstances and not lab.ignoreInEval
        if lab.trainId in (255, -1) or (evaluated_thing and v < 1000):
            masked += pixels           # void, non-evaluated class, or crowd
        elif v >= 1000 and evaluated_thing:
            instances[int(v)] = (lab.trainId, pixels)
    return classes, instances, masked


def _check_against_pngs(ds, index):
    record = ds.records[index]
    classes, instances, masked = _independent_counts(record.label_path, record.instance_path)
    image, sem, ins = ds[index]
    assert image.dtype == np.uint8 and sem.dtype == np.int32 and ins.dtype == np.int32
    assert set(np.unique(sem).tolist()) - {255} == classes
    ids = np.unique(ins[ins > 0])
    assert sorted(ids.tolist()) == sorted(instances)
    for v in ids:
        train_id, pixels = instances[int(v)]
        assert int((ins == v).sum()) == pixels
        assert set(np.unique(sem[ins == v]).tolist()) == {train_id}
    assert int((ins == -1).sum()) == masked
    assert set(np.unique(sem[ins > 0]).tolist()) <= set(ds.thing_train_ids)
    return len(instances)


def test_real_cityscapes_sample_matches_pngs(cityscapes_sample_root):
    ds = CityscapesInstances(cityscapes_sample_root, "val")
    assert len(ds) == 1 and ds.name(0) == "frankfurt_000000_000294"
    n = _check_against_pngs(ds, 0)
    assert n == 7  # 4 persons (24000..24003) + 3 cars (26000..26002)


# ---------------------------------------------------------------------------
# SynthCity (task B's generator writes the official layout and encoding)
# ---------------------------------------------------------------------------
def test_synthcity_splits_match_pngs(synthcity_root):
    sizes = {}
    for split in ("train", "val", "test"):
        ds = CityscapesInstances(synthcity_root, split, with_labels=split != "test")
        sizes[split] = len(ds)
        if split == "test":
            assert (ds[0][1] == 255).all()
            continue
        total = sum(_check_against_pngs(ds, i) for i in range(len(ds)))
        assert total > 0, "SynthCity %s has no thing instances" % split
    assert sizes == {"train": 6, "val": 4, "test": 2}


def test_synthcity_image_decodes_like_pil(synthcity_root):
    ds = CityscapesInstances(synthcity_root, "val")
    np.testing.assert_array_equal(ds.load_image(0), np.array(Image.open(ds.records[0].image_path)
                                                             .convert("RGB")))
    assert cv2.imread(ds.records[0].instance_path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
