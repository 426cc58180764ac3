"""The official cityscapesScripts evaluators, driven through ssap_gluon.evaluation.

Ground truth fed back as prediction must score exactly 1.0 (AP, AP50, mIoU, PQ);
damaged predictions must score what the damage implies, so the tests can fail.
"""
import glob
import os

import cv2
import numpy as np
import pytest

from ssap_gluon.evaluation import (CityscapesEvalError, EvaluationError, evaluate_instances,
                                   evaluate_panoptic,
                                   evaluate_semantic, panoptic_from_instance_ids,
                                   write_instance_predictions, write_panoptic_json,
                                   write_panoptic_prediction, write_semantic_prediction)

CAR, BUS, ROAD = 26, 28, 7


def val_frames(root, split="val"):
    """[(stem, labelIds, instanceIds)] read straight from the PNGs."""
    frames = []
    for path in sorted(glob.glob(os.path.join(root, "gtFine", split, "*", "*_gtFine_labelIds.png"))):
        stem = os.path.basename(path)[:-len("_gtFine_labelIds.png")]
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(path.replace("labelIds", "instanceIds"), cv2.IMREAD_UNCHANGED)
        frames.append((stem, label, inst))
    assert frames, "no frames under %s" % root
    return frames


def gt_instances(inst):
    return [(inst == v, int(v) // 1000, 1.0) for v in np.unique(inst) if v >= 1000]


@pytest.fixture(scope="module")
def frames(synthcity_root):
    return val_frames(synthcity_root)


def write_all(pred_dir, frames, make_instances):
    for stem, label, inst in frames:
        write_instance_predictions(str(pred_dir), stem, make_instances(stem, label, inst))
    return str(pred_dir)


# ---------------------------------------------------------------- instance AP
def test_ground_truth_as_prediction_scores_ap_one(synthcity_root, frames, tmp_path):
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i))
    result = evaluate_instances(synthcity_root, "val", pred)
    assert result["AP"] == 1.0 and result["AP50"] == 1.0
    assert result["num_images"] == len(frames)
    present = {int(v) // 1000 for _, _, inst in frames for v in np.unique(inst) if v >= 1000}
    names = {24: "person", 25: "rider", 26: "car", 27: "truck", 28: "bus", 31: "train",
             32: "motorcycle", 33: "bicycle"}
    for lid, name in names.items():
        expected = 1.0 if lid in present else None
        # A class whose every instance is under the 100 px minimum also has no AP.
        if lid in present:
            sizes = [(inst == v).sum() for _, _, inst in frames for v in np.unique(inst)
                     if v // 1000 == lid and v >= 1000]
            expected = 1.0 if max(sizes) >= 100 else None
        assert result["per_class"][name]["AP"] == expected, name
    assert result["AP100m"] is None and result["AP50m"] is None
    # the official script's cwd output (matches.json) must not leak into the cwd
    assert not os.path.exists("matches.json")


def test_missing_class_gets_ap_zero_and_others_stay_one(synthcity_root, frames, tmp_path):
    pred = write_all(tmp_path / "pred", frames,
                     lambda s, l, i: [x for x in gt_instances(i) if x[1] != CAR])
    result = evaluate_instances(synthcity_root, "val", pred)
    assert result["per_class"]["car"]["AP"] == 0.0
    others = [v["AP"] for k, v in result["per_class"].items() if k != "car" and v["AP"] is not None]
    assert others and all(ap == 1.0 for ap in others)
    # the mean is over classes with ground truth: one zero among them
    assert result["AP"] == pytest.approx(len(others) / (len(others) + 1))


def test_wrong_labels_score_zero(synthcity_root, frames, tmp_path):
    # every car called a bus and everything else called a car: no prediction has the right class
    def relabel(s, l, i):
        return [(m, BUS if lid == CAR else CAR, sc) for m, lid, sc in gt_instances(i)]
    result = evaluate_instances(synthcity_root, "val", write_all(tmp_path / "p", frames, relabel))
    assert result["AP"] == 0.0


def test_half_the_instances_lowers_ap(synthcity_root, frames, tmp_path):
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i)[::2])
    result = evaluate_instances(synthcity_root, "val", pred)
    assert 0.0 < result["AP"] < 1.0


def test_confident_false_positive_lowers_car_ap(synthcity_root, frames, tmp_path):
    # a car prediction on the sky, scored above every true car: precision drops at every recall
    def with_fp(s, l, i):
        fp = np.zeros(l.shape, bool)
        fp[0:40, 200:300] = True
        fp &= l == 23
        return gt_instances(i) + [(fp, CAR, 2.0)]
    result = evaluate_instances(synthcity_root, "val", write_all(tmp_path / "p", frames, with_fp))
    assert result["per_class"]["car"]["AP"] < 1.0
    assert result["per_class"]["person"]["AP"] in (1.0, None)


def test_a_class_whose_only_prediction_is_ignored_scores_zero_not_a_crash(synthcity_root,
                                                                          frames, tmp_path):
    """cityscapesScripts' evaluateMatches indexes an empty array when a class has
    ground truth and predictions but no prediction counts (here: every car
    predicted only on void pixels): the wrapper scores that class 0 -- no true
    positive, recall 0 -- with every other class untouched."""
    def cars_on_void(s, l, i):
        void = l == 1  # ego vehicle: an ignoreInEval label, so an ignore region
        keep = [x for x in gt_instances(i) if x[1] != CAR]
        return keep + ([(void, CAR, 0.5)] if void.sum() >= 100 else [])
    assert any((l == 1).sum() >= 100 for _, l, _ in frames)
    result = evaluate_instances(synthcity_root, "val", write_all(tmp_path / "p", frames,
                                                                  cars_on_void))
    assert result["per_class"]["car"]["AP"] == 0.0
    others = [v["AP"] for k, v in result["per_class"].items() if k != "car" and v["AP"] is not None]
    assert others and all(ap == 1.0 for ap in others)


def test_export_json_is_the_official_result_file(synthcity_root, frames, tmp_path):
    import json
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i))
    out = tmp_path / "res" / "result.json"
    evaluate_instances(synthcity_root, "val", pred, export_json=str(out))
    data = json.loads(out.read_text())
    assert data["averages"]["allAp"] == 1.0 and "resultApMatrix" in data


def test_prediction_files_follow_the_official_format(tmp_path):
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:5] = True
    txt = write_instance_predictions(str(tmp_path), "somecity_000001_000019",
                                     [(mask, CAR, 0.75), (np.zeros((4, 6), bool), BUS, 0.5)])
    assert os.path.basename(txt) == "somecity_000001_000019.txt"
    lines = open(txt).read().splitlines()
    assert lines == ["masks/somecity_000001_000019_0000.png 26 0.75"]  # empty mask skipped
    png = cv2.imread(str(tmp_path / "masks" / "somecity_000001_000019_0000.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and ((png > 0) == mask).all()


@pytest.mark.parametrize("instances, match", [
    ([(np.ones((4, 4), bool), 13, 1.0)], "labelId, not trainId"),
    ([(np.ones((4, 4), bool), 7, 1.0)], "instance label id"),
    ([(np.ones(4, bool), 26, 1.0)], "must be 2-D"),
    ([(np.ones((4, 4), bool), 26, float("nan"))], "finite"),
    ([(np.ones((4, 4), bool), 26, 1.0), (np.ones((5, 4), bool), 26, 1.0)], "shape"),
    ([(np.ones((4, 4), bool), 26)], r"\(mask, label_id, score\)"),
])
def test_bad_instances_are_refused(tmp_path, instances, match):
    with pytest.raises(ValueError, match=match):
        write_instance_predictions(str(tmp_path), "somecity_000001_000019", instances)


@pytest.mark.parametrize("name", ["a b", "city/000001_000019", "../x", ".hidden", "", "a\tb"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="plain file name"):
        write_instance_predictions(str(tmp_path), name, [])
    with pytest.raises(ValueError, match="plain file name"):
        write_semantic_prediction(str(tmp_path), name, np.zeros((2, 2), np.uint8))


def test_coco_names_are_accepted(tmp_path):
    # COCO frames are named by image file ("000000000139"), not <city>_<seq>_<frame>
    write_semantic_prediction(str(tmp_path), "000000000139", np.zeros((2, 2), np.uint8))
    ann = write_panoptic_prediction(str(tmp_path), "000000000139", np.array([[1, 0]]), {1: 3},
                                    image_id=139, category_ids=(1, 3))
    assert ann == {"image_id": 139, "file_name": "000000000139.png",
                   "segments_info": [{"id": 1, "category_id": 3}]}


# ------------------------------------------------ relative roots, no cwd changes
@pytest.fixture()
def no_chdir(monkeypatch):
    """Fail if anything changes the process's working directory."""
    def refuse(path):
        raise AssertionError("os.chdir(%r) called during evaluation" % (path,))
    monkeypatch.setattr(os, "chdir", refuse)


def test_relative_dataset_root_works(synthcity_root, frames, tmp_path, monkeypatch):
    # evaluate_instances("data/synthcity", ...) used to raise FileNotFoundError inside
    # cityscapesScripts: the wrapper changed the cwd but kept the root relative
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i))
    for stem, label, _ in frames:
        write_semantic_prediction(str(tmp_path / "sem"), stem, label)
    json_path, folder = write_panoptic(tmp_path, frames)
    parent, name = os.path.split(synthcity_root)
    monkeypatch.chdir(parent)
    assert evaluate_instances(name, "val", pred)["AP"] == 1.0
    assert evaluate_semantic(name, "val", str(tmp_path / "sem"))["mIoU"] == 1.0
    assert evaluate_panoptic(name, "val", json_path, folder)["PQ"] == 1.0
    # relative prediction paths too
    monkeypatch.chdir(str(tmp_path))
    rel_root = os.path.relpath(synthcity_root)
    assert evaluate_instances(rel_root, "val", "pred")["AP"] == 1.0
    assert evaluate_semantic(rel_root, "val", "sem")["mIoU"] == 1.0
    assert evaluate_panoptic(rel_root, "val", "pan.json", "pan")["PQ"] == 1.0


def test_evaluation_never_changes_the_working_directory(synthcity_root, frames, tmp_path,
                                                        no_chdir):
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i))
    for stem, label, _ in frames:
        write_semantic_prediction(str(tmp_path / "sem"), stem, label)
    assert evaluate_instances(synthcity_root, "val", pred)["AP"] == 1.0
    assert evaluate_semantic(synthcity_root, "val", str(tmp_path / "sem"))["mIoU"] == 1.0
    assert evaluate_panoptic(synthcity_root, "val", *write_panoptic(tmp_path, frames))["PQ"] == 1.0


def test_missing_prediction_names_the_image(synthcity_root, frames, tmp_path):
    pred = write_all(tmp_path / "pred", frames[1:], lambda s, l, i: gt_instances(i))
    # checked before the official code runs (whose printError would sys.exit)
    with pytest.raises(CityscapesEvalError, match="no instance prediction for ground truth .*%s"
                       ".*expected .*pred/%s.txt" % (frames[0][0], frames[0][0])):
        evaluate_instances(synthcity_root, "val", pred)


def test_missing_ground_truth_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="gtFine"):
        evaluate_instances(str(tmp_path), "val", str(tmp_path))


def test_real_cityscapes_frame_ground_truth_scores_one(cityscapes_sample_root, tmp_path):
    (stem, label, inst), = val_frames(cityscapes_sample_root)
    write_instance_predictions(str(tmp_path / "inst"), stem, gt_instances(inst))
    assert evaluate_instances(cityscapes_sample_root, "val", str(tmp_path / "inst"))["AP"] == 1.0
    write_semantic_prediction(str(tmp_path / "sem"), stem, label)
    assert evaluate_semantic(cityscapes_sample_root, "val", str(tmp_path / "sem"))["mIoU"] == 1.0


# ---------------------------------------------------------------- semantic IoU
def test_semantic_ground_truth_scores_miou_one(synthcity_root, frames, tmp_path):
    for stem, label, _ in frames:
        write_semantic_prediction(str(tmp_path), stem, label)
    result = evaluate_semantic(synthcity_root, "val", str(tmp_path))
    assert result["mIoU"] == 1.0 and result["iIoU"] == 1.0
    present = {int(v) for _, label, _ in frames for v in np.unique(label)}
    assert result["per_class"]["road"] == 1.0
    assert result["per_class"]["fence"] == (1.0 if 13 in present else None)


def test_semantic_cars_called_road_gives_hand_computed_iou(synthcity_root, frames, tmp_path):
    n_road = n_car = 0
    for stem, label, _ in frames:
        pred = label.copy()
        pred[label == CAR] = ROAD
        write_semantic_prediction(str(tmp_path), stem, pred)
        n_road += int((label == ROAD).sum())
        n_car += int((label == CAR).sum())
    result = evaluate_semantic(synthcity_root, "val", str(tmp_path))
    assert result["per_class"]["car"] == 0.0
    # road: all road pixels right, every car pixel a false positive
    assert result["per_class"]["road"] == pytest.approx(n_road / (n_road + n_car), abs=1e-12)


def test_semantic_prediction_must_use_label_ids(tmp_path):
    with pytest.raises(ValueError, match="labelId, not trainId"):
        write_semantic_prediction(str(tmp_path), "somecity_000001_000019", np.full((4, 4), 255))


# ---------------------------------------------------------------- panoptic PQ
def write_panoptic(tmp_path, frames, transform=lambda inst: inst):
    anns = []
    for stem, _, inst in frames:
        seg, labels = panoptic_from_instance_ids(transform(inst))
        anns.append(write_panoptic_prediction(str(tmp_path / "pan"), stem, seg, labels))
    write_panoptic_json(str(tmp_path / "pan.json"), anns)
    return str(tmp_path / "pan.json"), str(tmp_path / "pan")


def test_panoptic_ground_truth_scores_pq_one(synthcity_root, frames, tmp_path):
    result = evaluate_panoptic(synthcity_root, "val", *write_panoptic(tmp_path, frames))
    assert result["PQ"] == 1.0 and result["PQ_things"] == 1.0 and result["PQ_stuff"] == 1.0
    assert result["per_class"]["car"]["PQ"] == 1.0
    # nothing was written next to the dataset
    assert not glob.glob(os.path.join(synthcity_root, "gtFine", "cityscapes_panoptic*"))


def test_panoptic_merged_cars_lower_car_pq_only(synthcity_root, frames, tmp_path):
    def merge_cars(inst):
        out = inst.copy()
        out[inst // 1000 == CAR] = CAR * 1000
        return out
    result = evaluate_panoptic(synthcity_root, "val", *write_panoptic(tmp_path, frames, merge_cars))
    assert result["per_class"]["car"]["PQ"] < 1.0
    assert result["PQ_stuff"] == 1.0 and result["per_class"]["road"]["PQ"] == 1.0


def test_panoptic_from_instance_ids_by_hand():
    inst = np.array([[7, 7, 26001, 26001],
                     [1, 26, 26000, 24000],
                     [0, 23, 23, 24000]], np.uint16)
    seg, labels = panoptic_from_instance_ids(inst)
    assert seg.tolist() == [[7, 7, 26001, 26001], [0, 26, 26000, 24000], [0, 23, 23, 24000]]
    assert labels == {7: 7, 23: 23, 26: 26, 24000: 24, 26000: 26, 26001: 26}


def test_panoptic_writer_refuses_unlabelled_segments(tmp_path):
    with pytest.raises(ValueError, match="no label id"):
        write_panoptic_prediction(str(tmp_path), "somecity_000001_000019",
                                  np.array([[1, 2]]), {1: 26})
    with pytest.raises(ValueError, match="evaluated classes"):
        write_panoptic_prediction(str(tmp_path), "somecity_000001_000019", np.array([[1]]), {1: 1})


def test_panoptic_missing_image_is_named(synthcity_root, frames, tmp_path):
    json_path, folder = write_panoptic(tmp_path, frames[1:])
    with pytest.raises(EvaluationError, match=frames[0][0]):
        evaluate_panoptic(synthcity_root, "val", json_path, folder)


def test_official_module_settings_are_left_alone(synthcity_root, frames, tmp_path):
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as official
    before = dict(vars(official.args))
    pred = write_all(tmp_path / "pred", frames, lambda s, l, i: gt_instances(i))
    evaluate_instances(synthcity_root, "val", pred, min_region_size=5)
    after = vars(official.args)
    assert after.keys() == before.keys()
    for key, value in before.items():
        same = np.array_equal(value, after[key]) if isinstance(value, np.ndarray) else value == after[key]
        assert same, key


def test_prepared_panoptic_ground_truth_decodes_to_instance_ids(synthcity_root, frames, tmp_path):
    import json
    from ssap_gluon.evaluation import prepare_panoptic_gt
    json_path, folder = prepare_panoptic_gt(synthcity_root, "val", str(tmp_path))
    assert json_path == str(tmp_path / "cityscapes_panoptic_val.json")
    gt = json.load(open(json_path))
    stem, label, inst = frames[0]
    ann = next(a for a in gt["annotations"] if a["image_id"] == stem)
    rgb = cv2.imread(os.path.join(folder, ann["file_name"]))[:, :, ::-1].astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    expected, labels = panoptic_from_instance_ids(inst)
    assert np.array_equal(ids, expected)
    segments = {s["id"]: s for s in ann["segments_info"]}
    assert {k: s["category_id"] for k, s in segments.items()} == labels
    # crowd regions (thing class, value < 1000) are flagged iscrowd, nothing else
    assert all(s["iscrowd"] == int(k < 1000 and k in (24, 25, 26, 27, 28, 31, 32, 33))
               for k, s in segments.items())
    with pytest.raises(FileExistsError):
        prepare_panoptic_gt(synthcity_root, "val", str(tmp_path))


def test_semantic_export_json_is_the_official_result_file(synthcity_root, frames, tmp_path):
    import json
    for stem, label, _ in frames:
        write_semantic_prediction(str(tmp_path / "sem"), stem, label)
    out = tmp_path / "res.json"
    evaluate_semantic(synthcity_root, "val", str(tmp_path / "sem"), export_json=str(out))
    data = json.loads(out.read_text())
    assert data["averageScoreClasses"] == 1.0 and "confMatrix" in data
