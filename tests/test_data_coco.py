"""COCO panoptic: a tiny fixture (2 images, a few segments, one crowd) decoded against its JSON."""
import json
import os

import cv2
import numpy as np
import pytest

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.data import CocoPanoptic, DatasetError, build_dataset
from ssap_gluon.data.coco_panoptic import panoptic_id_to_rgb, rgb_to_panoptic_id
from ssap_gluon.utils.io import ImageReadError, write_png

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# JSON order: two things, then two stuff classes (COCO lists things first too).
CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 3, "name": "car", "supercategory": "vehicle", "isthing": 1, "color": [0, 0, 142]},
    {"id": 149, "name": "road", "supercategory": "ground", "isthing": 0,
     "color": [128, 64, 128]},
    {"id": 187, "name": "sky-other-merged", "supercategory": "sky", "isthing": 0,
     "color": [70, 130, 180]},
]
# Segment ids use all three bytes of the encoding.
SKY, ROAD, PERSON, CAR, CROWD, CAR2 = 0x010203, 0x000105, 0x020001, 0x0000FF, 0x0A0B0C, 0x030000


def _scenes():
    """Per image: (segment-id map, segments_info) drawn by hand."""
    a = np.zeros((20, 30), np.int64)            # 0 = unlabeled
    a[:8, :] = SKY
    a[8:, :] = ROAD
    a[10:18, 2:6] = PERSON
    a[12:17, 10:20] = CAR
    a[9:14, 22:28] = CROWD                      # a crowd of people
    a[18:, 25:] = 0                             # an unlabeled corner
    info_a = [
        {"id": SKY, "category_id": 187, "iscrowd": 0},
        {"id": ROAD, "category_id": 149, "iscrowd": 0},
        {"id": PERSON, "category_id": 1, "iscrowd": 0},
        {"id": CAR, "category_id": 3, "iscrowd": 0},
        {"id": CROWD, "category_id": 1, "iscrowd": 1},
    ]
    b = np.full((16, 24), ROAD, np.int64)
    b[2:10, 3:12] = CAR
    b[4:12, 12:22] = CAR2                       # touches the first car
    info_b = [
        {"id": ROAD, "category_id": 149, "iscrowd": 0},
        {"id": CAR, "category_id": 3, "iscrowd": 0},
        {"id": CAR2, "category_id": 3, "iscrowd": 0},
    ]
    return [(a, info_a), (b, info_b)]


def write_coco_fixture(root, split="val"):
    images, annotations = [], []
    for k, (ids, info) in enumerate(_scenes()):
        h, w = ids.shape
        image_id = 1000 + k
        file_name = "%012d.jpg" % image_id
        rgb = np.random.default_rng(k).integers(0, 256, (h, w, 3)).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", rgb[..., ::-1])
        os.makedirs(os.path.join(root, "%s2017" % split), exist_ok=True)
        buf.tofile(os.path.join(root, "%s2017" % split, file_name))
        png_name = "%012d.png" % image_id
        write_png(os.path.join(root, "annotations", "panoptic_%s2017" % split, png_name),
                  panoptic_id_to_rgb(ids)[..., ::-1])
        images.append({"id": image_id, "file_name": file_name, "height": h, "width": w})
        annotations.append({"image_id": image_id, "file_name": png_name,
                            "segments_info": [dict(s, area=int((ids == s["id"]).sum()))
                                              for s in info]})
    path = os.path.join(root, "annotations", "panoptic_%s2017.json" % split)
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": CATEGORIES}, f)
    return path


@pytest.fixture()
def coco_root(tmp_path):
    write_coco_fixture(str(tmp_path))
    return str(tmp_path)


def test_id_encoding_by_hand():
    rgb = np.array([[[1, 2, 3], [255, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(rgb_to_panoptic_id(rgb), [[1 + 2 * 256 + 3 * 65536, 255]])
    np.testing.assert_array_equal(panoptic_id_to_rgb([[197121]]), [[[1, 2, 3]]])


def test_classes_come_from_the_json(coco_root):
    ds = CocoPanoptic(coco_root, "val")
    assert ds.num_classes == 4
    assert ds.class_names == ("person", "car", "road", "sky-other-merged")
    assert ds.thing_train_ids == (0, 1)
    assert ds.category_ids == (1, 3, 149, 187)
    assert len(ds) == 2 and ds.name(0) == "000000001000"


def test_decoded_labels_match_the_json(coco_root):
    ds = CocoPanoptic(coco_root, "val")
    index_of = {c["id"]: i for i, c in enumerate(CATEGORIES)}
    for k, (ids, info) in enumerate(_scenes()):
        image, sem, ins = ds[k]
        assert image.shape == ids.shape + (3,) and image.dtype == np.uint8
        assert sem.dtype == np.int32 and ins.dtype == np.int32
        for seg in info:
            mask = ids == seg["id"]
            assert (sem[mask] == index_of[seg["category_id"]]).all()
            thing = CATEGORIES[index_of[seg["category_id"]]]["isthing"]
            expected = (-1 if seg["iscrowd"] else seg["id"]) if thing else 0
            assert (ins[mask] == expected).all(), seg
        assert (sem[ids == 0] == 255).all() and (ins[ids == 0] == -1).all()
    # spot values written out by hand
    _, sem, ins = ds[0]
    assert sem[0, 0] == 3 and ins[0, 0] == 0            # sky: stuff
    assert sem[11, 3] == 0 and ins[11, 3] == PERSON       # the person
    assert sem[10, 23] == 0 and ins[10, 23] == -1         # crowd keeps its class
    assert sem[19, 29] == 255 and ins[19, 29] == -1       # unlabeled
    _, _, ins_b = ds[1]
    assert sorted(np.unique(ins_b[ins_b > 0]).tolist()) == sorted([CAR, CAR2])


def test_coco_config_long_edge_and_crop(coco_root):
    cfg = load_config(os.path.join(REPO, "configs", "coco_r101.yaml"),
                      ["DATASET.ROOT", coco_root, "MODEL.NUM_CLASSES", "4"])
    assert cfg.INPUT.LONG_EDGE == 640 and cfg.INPUT.CROP_SIZE == [512, 512]
    train = build_dataset(cfg, "val", True)
    image, sem, ins = train[(0, 0)]
    assert image.shape == (3, 512, 512) and sem.shape == (512, 512)
    val = build_dataset(cfg, "val", False)
    g = val.transform.geometry(20, 30)
    assert g.scaled_size == (427, 640) and g.out_size == (448, 640)
    image, sem, ins = val[0]
    assert image.shape == (3, 448, 640)
    # the crowd region survives resizing as -1 with class person
    assert (ins[(sem == 0)] != 0).all() and (ins == -1).any()


def test_coco_class_count_mismatch_names_the_key(coco_root):
    cfg = load_config(os.path.join(REPO, "configs", "coco_r101.yaml"),
                      ["DATASET.ROOT", coco_root])
    with pytest.raises(ConfigError, match=r"MODEL\.NUM_CLASSES.*133.*4 classes"):
        build_dataset(cfg, "val", True)


def test_root_from_environment(coco_root, monkeypatch):
    monkeypatch.setenv("COCO_DATASET", coco_root)
    assert len(CocoPanoptic("", "val")) == 2
    monkeypatch.delenv("COCO_DATASET")
    with pytest.raises(DatasetError, match="COCO_DATASET"):
        CocoPanoptic("", "val")


def test_missing_json_names_it(coco_root):
    with pytest.raises(DatasetError, match="panoptic_train2017.json"):
        CocoPanoptic(coco_root, "train")


def test_missing_panoptic_png_names_it(coco_root):
    path = os.path.join(coco_root, "annotations", "panoptic_val2017", "000000001001.png")
    os.remove(path)
    with pytest.raises(DatasetError, match=path.replace("\\", "\\\\")):
        CocoPanoptic(coco_root, "val")
    assert len(CocoPanoptic(coco_root, "val", with_labels=False)) == 2


def test_segment_missing_from_json_is_named(coco_root):
    ds = CocoPanoptic(coco_root, "val")
    ids, _ = _scenes()[1]
    ids = ids.copy()
    ids[0, 0] = 0x070707
    write_png(ds.records[1].panoptic_path, panoptic_id_to_rgb(ids)[..., ::-1])
    with pytest.raises(DatasetError) as e:
        ds[1]
    assert ds.records[1].panoptic_path in str(e.value) and str(0x070707) in str(e.value)


def test_unknown_category_is_named(coco_root):
    path = os.path.join(coco_root, "annotations", "panoptic_val2017.json")
    with open(path) as f:
        data = json.load(f)
    data["annotations"][0]["segments_info"][0]["category_id"] = 999
    with open(path, "w") as f:
        json.dump(data, f)
    ds = CocoPanoptic(coco_root, "val")
    with pytest.raises(DatasetError, match="category_id 999"):
        ds[0]


def test_corrupt_panoptic_png_is_named(coco_root):
    ds = CocoPanoptic(coco_root, "val")
    with open(ds.records[0].panoptic_path, "wb") as f:
        f.write(b"\x89PNG broken")
    with pytest.raises(ImageReadError, match="000000001000.png"):
        ds[0]


def test_invalid_json_is_named(coco_root):
    path = os.path.join(coco_root, "annotations", "panoptic_val2017.json")
    with open(path, "w") as f:
        f.write("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        CocoPanoptic(coco_root, "val")
