"""Cityscapes layout -> COCO panoptic (ssap_gluon.data.coco_convert, scripts/convert_to_coco.py):
the COCO copy reads back to the same labels, scores the same PQ, and its areas / bboxes
are checked by hand on a tiny hand-made frame."""
import contextlib
import io
import json
import os
import runpy

import cv2
import numpy as np
import pytest

from ssap_gluon.data import CityscapesInstances, CocoPanoptic
from ssap_gluon.data import labels as L
from ssap_gluon.data.coco_convert import ConversionError, coco_categories, convert_to_coco_panoptic
from ssap_gluon.data.coco_panoptic import rgb_to_panoptic_id
from ssap_gluon.evaluation import (evaluate_coco_panoptic, evaluate_panoptic,
                                   write_panoptic_json, write_panoptic_prediction)
from ssap_gluon.evaluation.cityscapes_panoptic import prepare_panoptic_gt
from ssap_gluon.utils.io import write_png

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "convert_to_coco.py")
ROAD, SIDEWALK, SKY, PERSON, CAR, CARAVAN = 7, 8, 23, 24, 26, 29
PQ_KEYS = [m + s for s in ("", "_things", "_stuff") for m in ("PQ", "SQ", "RQ")]


@pytest.fixture(scope="module")
def converted(synthcity_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("coco_copy"))
    summary = convert_to_coco_panoptic(synthcity_root, "val", out)
    return out, summary


def _partition_equal(a, b):
    """Same regions with any ids: one id of ``a`` <-> one id of ``b``, pixel by pixel."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return (len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1])))


def test_coco_copy_reads_back_to_the_same_labels(synthcity_root, converted):
    out, summary = converted
    cs = CityscapesInstances(synthcity_root, "val")
    co = CocoPanoptic(out, "val")
    assert len(co) == len(cs) == summary["frames"] == 4
    assert co.num_classes == cs.num_classes == 19
    assert co.class_names == cs.class_names
    assert co.thing_train_ids == cs.thing_train_ids
    assert co.label_ids.tolist() == cs.label_ids.tolist()
    assert [r.image_id for r in co.records] == [1, 2, 3, 4]
    crowd_pixels = 0
    for i in range(len(cs)):
        assert co.name(i) == cs.name(i)
        assert os.path.islink(co.image_path(i))
        assert os.path.realpath(co.image_path(i)) == os.path.realpath(cs.image_path(i))
        assert np.array_equal(co.load_image(i), cs.load_image(i))
        sem_cs, ins_cs = cs.load_labels(i)
        sem_co, ins_co = co.load_labels(i)
        assert np.array_equal(sem_co, sem_cs)                     # train ids, 255 on void
        assert np.array_equal(ins_co == -1, ins_cs == -1)         # crowd + void
        assert np.array_equal(ins_co == 0, ins_cs == 0)           # stuff
        assert _partition_equal(ins_co, ins_cs)                   # the same instances
        assert (ins_cs > 0).sum() > 0
        crowd_pixels += int(((ins_cs == -1) & (sem_cs != 255)).sum())
    assert crowd_pixels > 0  # the fixture has crowd regions, so the crowd rule was exercised
    s = summary["segments"]
    assert s["things"] > 0 and s["crowd"] > 0 and s["stuff"] > 0


def test_panoptic_pngs_are_cityscapesscripts_own_ground_truth(synthcity_root, converted,
                                                              tmp_path):
    """The official convert2panoptic (the Cityscapes PQ path's ground truth) makes the same
    segments: same ids, categories, crowd flags, areas, bboxes; only image ids differ."""
    out, _ = converted
    with contextlib.redirect_stdout(io.StringIO()):
        off_json, off_dir = prepare_panoptic_gt(synthcity_root, "val", str(tmp_path))
    with open(off_json) as f:
        official = json.load(f)
    with open(os.path.join(out, "annotations", "panoptic_val2017.json")) as f:
        ours = json.load(f)
    assert ours["categories"] == [dict(c, color=list(c["color"])) for c in official["categories"]]
    assert len(ours["annotations"]) == len(official["annotations"])
    for a, b in zip(official["annotations"], ours["annotations"]):
        assert b["file_name"] == a["image_id"] + ".png"
        by_id = sorted(a["segments_info"], key=lambda s: s["id"])
        assert b["segments_info"] == by_id
        png_a = cv2.imread(os.path.join(off_dir, a["file_name"]), cv2.IMREAD_UNCHANGED)
        png_b = cv2.imread(os.path.join(out, "annotations", "panoptic_val2017", b["file_name"]),
                           cv2.IMREAD_UNCHANGED)
        assert np.array_equal(png_a, png_b)


def _gt_segments(semantic, instance, label_ids):
    """Ground truth as a prediction: instances keep their ids, every other labelled
    pixel (stuff, crowd) gets its class's label id; void 0."""
    seg = np.where(semantic == 255, 0, label_ids[np.minimum(semantic, len(label_ids) - 1)])
    seg = np.where(instance > 0, instance, seg).astype(np.int64)
    labels = {}
    for sid in np.unique(seg).tolist():
        if sid:
            cls = semantic[seg == sid][0]
            labels[sid] = int(label_ids[cls])
    return seg, labels


def test_ground_truth_scores_pq_one_through_the_coco_path(converted, tmp_path):
    out, _ = converted
    co = CocoPanoptic(out, "val")
    folder, annotations = str(tmp_path / "pred"), []
    for i in range(len(co)):
        seg, labels = _gt_segments(*co.load_labels(i), co.label_ids)
        annotations.append(write_panoptic_prediction(folder, co.name(i), seg, labels,
                                                     image_id=co.records[i].image_id,
                                                     category_ids=tuple(co.label_ids.tolist())))
    pred_json = str(tmp_path / "pred.json")
    write_panoptic_json(pred_json, annotations)
    result = evaluate_coco_panoptic(co.json_path, co.panoptic_dir, pred_json, folder)
    assert result["num_images"] == 4
    for key in PQ_KEYS:
        assert result[key] == 1.0, key


def test_perturbed_prediction_scores_the_same_pq_on_both_paths(synthcity_root, converted,
                                                               tmp_path):
    """One prediction, written once per format: Cityscapes path (frame-name image ids,
    ground truth from convert2panoptic) and COCO path (the converted JSON / PNGs)."""
    out, _ = converted
    cs = CityscapesInstances(synthcity_root, "val")
    co = CocoPanoptic(out, "val")
    cs_dir, co_dir = str(tmp_path / "cs"), str(tmp_path / "co")
    cs_anns, co_anns = [], []
    dropped = relabelled = 0
    for i in range(len(cs)):
        seg, labels = _gt_segments(*cs.load_labels(i), cs.label_ids)
        if i == 0:  # drop the largest instance (-> unlabelled: a false negative)
            things = [s for s in labels if s >= 1000]
            big = max(things, key=lambda s: int((seg == s).sum()))
            seg[seg == big] = 0
            del labels[big]
            dropped += 1
        if i == 1 and ROAD in labels:  # road predicted as sidewalk
            labels[ROAD] = SIDEWALK
            relabelled += 1
        # one segment split in two (both halves IoU < 1)
        stuff = [s for s, l in labels.items() if s < 1000 and l not in L.THING_LABEL_IDS]
        if i == 2 and stuff:
            ys = np.nonzero(seg == stuff[0])[0]
            cut = ys.min() + (ys.max() - ys.min()) // 3
            seg[(seg == stuff[0]) & (np.arange(seg.shape[0])[:, None] < cut)] = 999
            labels[999] = labels[stuff[0]]
        cs_anns.append(write_panoptic_prediction(cs_dir, cs.name(i), seg, labels))
        assert co.name(i) == cs.name(i)
        co_anns.append(write_panoptic_prediction(co_dir, co.name(i), seg, labels,
                                                 image_id=co.records[i].image_id,
                                                 category_ids=tuple(co.label_ids.tolist())))
    assert dropped == 1 and relabelled == 1
    write_panoptic_json(str(tmp_path / "cs.json"), cs_anns)
    write_panoptic_json(str(tmp_path / "co.json"), co_anns)
    with contextlib.redirect_stdout(io.StringIO()):
        via_cs = evaluate_panoptic(synthcity_root, "val", str(tmp_path / "cs.json"), cs_dir)
    via_co = evaluate_coco_panoptic(co.json_path, co.panoptic_dir, str(tmp_path / "co.json"),
                                    co_dir)
    for key in PQ_KEYS:
        assert via_co[key] == via_cs[key], key
    assert via_co["per_class"] == via_cs["per_class"]
    assert via_co["PQ_things"] < 1.0 and via_co["PQ_stuff"] < 1.0


def _write_cityscapes_frame(root, split, name, label_ids, instance_ids):
    city = name.split("_")[0]
    h, w = label_ids.shape
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)
    write_png(os.path.join(root, "leftImg8bit", split, city, name + "_leftImg8bit.png"), rgb)
    gt = os.path.join(root, "gtFine", split, city, name)
    write_png(gt + "_gtFine_labelIds.png", label_ids.astype(np.uint8))
    write_png(gt + "_gtFine_instanceIds.png", instance_ids.astype(np.uint16))


def hand_frame():
    """A 6x8 frame: sky, road, two cars, a person, a crowd of people in two pieces,
    a caravan (no train id: void) and an unlabelled pixel."""
    lab = np.full((6, 8), ROAD, np.int64)
    ins = np.full((6, 8), ROAD, np.int64)

    def put(rows, cols, label, instance):
        lab[rows, cols], ins[rows, cols] = label, instance

    put(0, slice(0, 7), SKY, SKY)                        # 7 px
    put(0, 7, 0, 0)                                      # unlabelled
    put(slice(2, 4), slice(1, 4), CAR, 26001)            # 6 px
    put(5, 7, CAR, 26002)                                # 1 px
    put(slice(1, 3), slice(5, 7), PERSON, PERSON)        # crowd, 4 px ...
    put(4, 0, PERSON, PERSON)                            # ... and 1 px apart
    put(4, slice(4, 6), CARAVAN, 29001)                  # void in evaluation
    put(5, slice(2, 4), PERSON, 24001)                   # 2 px
    return lab, ins


def test_areas_and_bboxes_by_hand(tmp_path):
    root, out = str(tmp_path / "cs"), str(tmp_path / "coco")
    lab, ins = hand_frame()
    _write_cityscapes_frame(root, "val", "hand_000000_000001", lab, ins)
    summary = convert_to_coco_panoptic(root, "val", out, link_images=False)
    assert summary["segments"] == {"things": 3, "crowd": 1, "stuff": 2}
    with open(os.path.join(out, "annotations", "panoptic_val2017.json")) as f:
        data = json.load(f)
    assert data["images"] == [{"id": 1, "file_name": "hand_000000_000001.png",
                               "height": 6, "width": 8}]
    image = os.path.join(out, "val2017", "hand_000000_000001.png")
    assert os.path.isfile(image) and not os.path.islink(image)
    (ann,) = data["annotations"]
    assert ann["image_id"] == 1 and ann["file_name"] == "hand_000000_000001.png"
    # road: 48 - 7 sky - 1 void - 6 - 1 cars - 5 crowd - 2 caravan - 2 person = 24 px;
    # it spans every column (row 1: 0..4 and 7) and rows 1..5
    assert ann["segments_info"] == [
        {"id": ROAD, "category_id": ROAD, "iscrowd": 0, "area": 24, "bbox": [0, 1, 8, 5]},
        {"id": SKY, "category_id": SKY, "iscrowd": 0, "area": 7, "bbox": [0, 0, 7, 1]},
        {"id": PERSON, "category_id": PERSON, "iscrowd": 1, "area": 5, "bbox": [0, 1, 7, 4]},
        {"id": 24001, "category_id": PERSON, "iscrowd": 0, "area": 2, "bbox": [2, 5, 2, 1]},
        {"id": 26001, "category_id": CAR, "iscrowd": 0, "area": 6, "bbox": [1, 2, 3, 2]},
        {"id": 26002, "category_id": CAR, "iscrowd": 0, "area": 1, "bbox": [7, 5, 1, 1]},
    ]
    bgr = cv2.imread(os.path.join(out, "annotations", "panoptic_val2017", ann["file_name"]),
                     cv2.IMREAD_UNCHANGED)
    ids = rgb_to_panoptic_id(bgr[..., ::-1])
    expected = np.where((lab == 0) | (lab == CARAVAN), 0, ins)
    assert np.array_equal(ids, expected)
    # categories: the 19 evaluated classes in train-id order, ids = labelIds
    cats = data["categories"]
    assert cats == coco_categories()
    assert [c["id"] for c in cats] == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23,
                                       24, 25, 26, 27, 28, 31, 32, 33]
    assert [c["name"] for c in cats] == list(L.CLASS_NAMES)
    assert [c["id"] for c in cats if c["isthing"]] == list(L.THING_LABEL_IDS)
    assert cats[0] == {"id": 7, "name": "road", "supercategory": "flat", "isthing": 0,
                       "color": [128, 64, 128]}
    assert cats[11]["supercategory"] == "human" and cats[13]["supercategory"] == "vehicle"


def _cli(argv, capsys):
    main = runpy.run_path(SCRIPT, run_name="convert_to_coco")["main"]
    rc = main(argv + ["--no-progress"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_errors_and_force(tmp_path, capsys):
    root, out = str(tmp_path / "cs"), str(tmp_path / "coco")
    lab, ins = hand_frame()
    _write_cityscapes_frame(root, "val", "hand_000000_000001", lab, ins)

    rc, _, err = _cli(["--root", str(tmp_path / "missing"), "--split", "val", "--out", out],
                      capsys)
    assert rc == 2 and "does not exist" in err and "Traceback" not in err
    rc, _, err = _cli(["--root", root, "--split", "train", "--out", out], capsys)
    assert rc == 2 and "split 'train' not found" in err
    assert not os.path.exists(out)

    rc, stdout, _ = _cli(["--root", root, "--split", "val", "--out", out], capsys)
    assert rc == 0 and "1 frame(s), 3 thing instance(s), 1 crowd and 2 stuff" in stdout
    assert os.path.islink(os.path.join(out, "val2017", "hand_000000_000001.png"))
    json_path = os.path.join(out, "annotations", "panoptic_val2017.json")
    before = os.path.getmtime(json_path)

    rc, _, err = _cli(["--root", root, "--split", "val", "--out", out], capsys)
    assert rc == 2 and "not empty" in err and "--force" in err
    assert os.path.getmtime(json_path) == before
    with pytest.raises(ConversionError, match="not empty"):
        convert_to_coco_panoptic(root, "val", out)

    # --force replaces this split's files only: a stale PNG goes, a foreign file stays
    stale = os.path.join(out, "annotations", "panoptic_val2017", "stale.png")
    open(stale, "wb").close()
    keep = os.path.join(out, "README.txt")
    open(keep, "w").close()
    rc, _, _ = _cli(["--root", root, "--split", "val", "--out", out, "--force",
                     "--copy-images"], capsys)
    assert rc == 0 and not os.path.exists(stale) and os.path.exists(keep)
    assert not os.path.islink(os.path.join(out, "val2017", "hand_000000_000001.png"))
    assert len(CocoPanoptic(out, "val")) == 1


def test_a_synthcity_copy_is_reported_as_synthcity_not_as_coco(converted, tmp_path):
    """scripts/test.py on the COCO copy of SynthCity: the report says what the data is
    and that it is not comparable with the paper's COCO numbers; real COCO stays COCO."""
    from ssap_gluon.config import load_config
    from ssap_gluon.evaluation.report import comparability, comparison_markdown
    from ssap_gluon.evaluation.runner import dataset_kind

    out, _ = converted
    cfg = load_config(os.path.join(REPO, "configs", "synthcity_r18.yaml"),
                      ["DATASET.NAME", "coco_panoptic", "DATASET.ROOT", out])
    co = CocoPanoptic(out, "val")
    assert dataset_kind(cfg, co) == "SynthCity in COCO panoptic format"
    metrics = {"dataset": {"kind": dataset_kind(cfg, co), "split": "val", "frames": len(co),
                           "frames_in_split": len(co)},
               "mode": "network", "PQ": 0.5, "PQ_Th": 0.4, "PQ_St": 0.6}
    assert any("SynthCity" in r for r in comparability(metrics))
    name, text = comparison_markdown(metrics)
    assert name == "table9" and "NOT COMPARABLE" in text and "Comparable with" not in text
    co.source_root = None  # a JSON without the converter's note: real COCO
    assert dataset_kind(cfg, co) == "COCO panoptic"
