"""COCO panoptic PQ (paper Table 9) with cityscapesScripts' PQ code: a hand computation
on a COCO-format set built here (things and stuff, a crowd region, void, a matched and
an unmatched segment), and scripts/test.py --oracle on a small COCO dataset."""
import json
import os
import runpy

import cv2
import numpy as np
import pytest

from ssap_gluon.evaluation import EvaluationError, evaluate_coco_panoptic
from ssap_gluon.utils.io import write_png

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERSON, CAR, ROAD, SKY = 1, 3, 149, 187
CATEGORIES = [
    {"id": PERSON, "name": "person", "supercategory": "person", "isthing": 1},
    {"id": CAR, "name": "car", "supercategory": "vehicle", "isthing": 1},
    {"id": ROAD, "name": "road", "supercategory": "ground", "isthing": 0},
    {"id": SKY, "name": "sky-other-merged", "supercategory": "sky", "isthing": 0},
]


def to_rgb_png(path, ids):
    ids = np.asarray(ids, np.int64)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
    write_png(path, rgb[..., ::-1])


def image_one():
    """Ground truth and prediction of a 10x20 image; segment ids in both bytes."""
    gt = np.zeros((10, 20), np.int64)
    gt[0:4, :] = 0x0101            # sky: 80 px
    gt[4:10, :] = 0x0202           # road
    gt[5:9, 2:6] = 0x0303          # person P: 16 px
    gt[5:9, 8:14] = 0x0404         # car C: 24 px
    gt[5:9, 15:19] = 0x0505        # a crowd of people K: 16 px, iscrowd
    gt[9, 0:2] = 0                 # void: 2 px; the road keeps 120-16-24-16-2 = 62 px
    gt_info = [{"id": 0x0101, "category_id": SKY, "iscrowd": 0},
               {"id": 0x0202, "category_id": ROAD, "iscrowd": 0},
               {"id": 0x0303, "category_id": PERSON, "iscrowd": 0},
               {"id": 0x0404, "category_id": CAR, "iscrowd": 0},
               {"id": 0x0505, "category_id": PERSON, "iscrowd": 1}]
    pred = np.zeros((10, 20), np.int64)
    pred[0:4, :] = 11              # sky, exact
    pred[4:10, :] = 15             # road, also over the void corner
    pred[5:9, 2:5] = 12            # person: 12 px inside P -> IoU 12/16 = 0.75, matched
    pred[5:7, 8:14] = 13           # car: 12 px inside C -> IoU 12/24 = 0.5, not > 0.5
    pred[5:9, 14:19] = 14          # person: 16 px on the crowd K + 4 px on road
    pred_info = [{"id": i, "category_id": c}
                 for i, c in ((11, SKY), (12, PERSON), (13, CAR), (14, PERSON), (15, ROAD))]
    return gt, gt_info, pred, pred_info


def write_set(root, images, with_jpegs=False):
    """COCO panoptic layout: annotations/panoptic_val2017{.json,/}, val2017/*.jpg."""
    gt_dir = os.path.join(root, "annotations", "panoptic_val2017")
    pred_dir = os.path.join(root, "pred")
    gt_anns, pred_anns, image_list = [], [], []
    for image_id, (gt, gt_info, pred, pred_info) in images.items():
        name = "%012d" % image_id
        to_rgb_png(os.path.join(gt_dir, name + ".png"), gt)
        to_rgb_png(os.path.join(pred_dir, name + ".png"), pred)
        gt_anns.append({"image_id": image_id, "file_name": name + ".png",
                        "segments_info": [dict(s, area=int((gt == s["id"]).sum()))
                                          for s in gt_info]})
        pred_anns.append({"image_id": image_id, "file_name": name + ".png",
                          "segments_info": pred_info})
        image_list.append({"id": image_id, "file_name": name + ".jpg",
                           "height": gt.shape[0], "width": gt.shape[1]})
        if with_jpegs:
            rgb = np.random.default_rng(image_id).integers(0, 256, gt.shape + (3,), np.uint8)
            os.makedirs(os.path.join(root, "val2017"), exist_ok=True)
            cv2.imwrite(os.path.join(root, "val2017", name + ".jpg"), rgb)
    gt_json = os.path.join(root, "annotations", "panoptic_val2017.json")
    with open(gt_json, "w") as f:
        json.dump({"images": image_list, "annotations": gt_anns, "categories": CATEGORIES}, f)
    pred_json = os.path.join(root, "pred.json")
    with open(pred_json, "w") as f:
        json.dump({"annotations": pred_anns}, f)
    return gt_json, gt_dir, pred_json, pred_dir


def test_coco_pq_equals_the_hand_computation(tmp_path):
    perfect_road = np.full((4, 4), 7, np.int64)
    images = {139: image_one(),
              285: (perfect_road, [{"id": 7, "category_id": ROAD, "iscrowd": 0}],
                    perfect_road, [{"id": 7, "category_id": ROAD}])}
    gt_json, gt_dir, pred_json, pred_dir = write_set(str(tmp_path), images)

    # Image 139 by hand (IoU = inter / (pred area + gt area - inter - pred-on-void)):
    #  sky: pred = gt = 80 px                                   -> TP, IoU 1
    #  road: gt 62 px; pred 120-12-12-20 = 76 px, 2 of them on void; the person
    #        segment's column 14 takes 4 gt-road px: inter 58 -> 58/(76+62-58-2) = 58/78
    #  person P: inter 12, union 12+16-12 = 16                  -> TP, IoU 0.75
    #  crowd K: never matched, no FN; the person segment on it lies 16/20 > 1/2 on a
    #        crowd region of its class                          -> ignored, no FP
    #  car: IoU 12/24 = 0.5 is not > 0.5                        -> FN (gt) + FP (pred)
    road = 58 / 78
    one = evaluate_coco_panoptic(gt_json, gt_dir, pred_json, pred_dir, image_ids=[139])
    pq = {"sky-other-merged": 1.0, "road": road, "person": 0.75, "car": 0.0}
    for name, value in pq.items():
        assert one["per_class"][name]["PQ"] == pytest.approx(value, abs=1e-15)
    assert one["per_class"]["car"] == {"PQ": 0.0, "SQ": 0.0, "RQ": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert one["per_class"]["person"]["tp"] == 1 and one["per_class"]["person"]["fp"] == 0
    assert one["PQ"] == pytest.approx((1 + road + 0.75 + 0) / 4, abs=1e-15)
    assert one["SQ"] == pytest.approx((1 + road + 0.75 + 0) / 4, abs=1e-15)
    assert one["RQ"] == pytest.approx(3 / 4, abs=1e-15)
    assert one["PQ_things"] == pytest.approx((0.75 + 0) / 2, abs=1e-15)
    assert one["PQ_stuff"] == pytest.approx((1 + road) / 2, abs=1e-15)
    assert one["n_things"] == 2 and one["n_stuff"] == 2 and one["num_images"] == 1

    # Both images: road gains a perfect match (tp 2, IoU sum road + 1; RQ stays 1)
    both = evaluate_coco_panoptic(gt_json, gt_dir, pred_json, pred_dir)
    assert both["per_class"]["road"]["PQ"] == pytest.approx((road + 1) / 2, abs=1e-15)
    assert both["per_class"]["road"]["tp"] == 2
    assert both["PQ_stuff"] == pytest.approx((1 + (road + 1) / 2) / 2, abs=1e-15)
    assert both["PQ_things"] == one["PQ_things"] and both["num_images"] == 2


def test_coco_group_without_classes_is_none_not_a_crash(tmp_path):
    road = np.full((4, 4), 7, np.int64)
    gt_json, gt_dir, pred_json, pred_dir = write_set(str(tmp_path), {5: (
        road, [{"id": 7, "category_id": ROAD, "iscrowd": 0}], road,
        [{"id": 7, "category_id": ROAD}])})
    result = evaluate_coco_panoptic(gt_json, gt_dir, pred_json, pred_dir)
    # no thing class in ground truth or prediction: the official mean would divide by 0
    assert result["PQ_things"] is None and result["n_things"] == 0
    assert result["PQ"] == 1.0 and result["PQ_stuff"] == 1.0
    assert result["per_class"]["person"]["PQ"] is None


def test_coco_missing_prediction_is_named(tmp_path):
    gt_json, gt_dir, pred_json, pred_dir = write_set(str(tmp_path), {139: image_one()})
    with pytest.raises(EvaluationError, match="no ground truth for image id"):
        evaluate_coco_panoptic(gt_json, gt_dir, pred_json, pred_dir, image_ids=[1])
    json.dump({"annotations": []}, open(pred_json, "w"))
    with pytest.raises(EvaluationError, match="%s has no prediction for image 139" % pred_json):
        evaluate_coco_panoptic(gt_json, gt_dir, pred_json, pred_dir)


def test_test_py_oracle_on_a_coco_set(tmp_path, capsys):
    write_set(str(tmp_path / "coco"), {139: image_one()}, with_jpegs=True)
    module = runpy.run_path(os.path.join(REPO, "scripts", "test.py"), run_name="scripts_test")
    out = tmp_path / "out"
    rc = module["main"](["--cfg", os.path.join(REPO, "configs", "coco_r101.yaml"), "--oracle",
                         "--out", str(out), "--no-progress", "--opts",
                         "DATASET.ROOT", str(tmp_path / "coco"), "MODEL.NUM_CLASSES", "4",
                         "INPUT.LONG_EDGE", "0", "TEST.MIN_INSTANCE_AREA", "0"])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    m = json.load(open(str(out / "metrics.json")))
    assert m["dataset"]["kind"] == "COCO panoptic"
    assert m["PQ"] == 1.0 and m["PQ_Th"] == 1.0 and m["PQ_St"] == 1.0
    assert m["AP"] is None and "not applicable" in m["null_reasons"]["AP"]
    assert m["mIoU"] is None and "mIoU" in m["null_reasons"]
    assert not (out / "instance").exists()  # no cityscapesScripts results format for COCO
    pan = json.load(open(str(out / "panoptic.json")))
    assert [a["image_id"] for a in pan["annotations"]] == [139]
    assert pan["annotations"][0]["file_name"] == "000000000139.png"
    assert os.path.isfile(str(out / "semantic" / "000000000139.png"))
    assert "| **ours: oracle (ground truth)** | 100.0 |" in (out / "table9.md").read_text()
