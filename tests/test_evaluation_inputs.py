"""Bad predictions give clear errors naming the file, never a sys.exit from inside
cityscapesScripts; legal edge cases (an empty prediction) are scored as the official
code scores them; the ground-truth caches are reused and rebuilt when the
ground truth changes."""
import glob
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from ssap_gluon.evaluation import (CityscapesEvalError, EvaluationError, evaluate_instances,
                                   evaluate_panoptic, evaluate_semantic,
                                   panoptic_from_instance_ids, panoptic_gt,
                                   write_instance_predictions, write_panoptic_json,
                                   write_panoptic_prediction, write_semantic_prediction)
from ssap_gluon.evaluation.cityscapes_instance import load_gt_instances

from test_test_script import _frames, assert_same_as_direct, direct_official


@pytest.fixture(autouse=True)
def no_sys_exit(monkeypatch):
    """Any official printError (-> sys.exit) reached during a test fails it."""
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as inst
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as pan
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pix
    from cityscapesscripts.helpers import csHelpers
    from cityscapesscripts.preparation import createPanopticImgs

    def refuse(message):
        raise AssertionError("cityscapesScripts' printError was reached: %s" % message)
    for module in (inst, pan, pix, csHelpers, createPanopticImgs):
        monkeypatch.setattr(module, "printError", refuse)


@pytest.fixture()
def written(synthcity_root, tmp_path):
    """Ground truth written back as predictions in all three formats."""
    frames = _frames(synthcity_root)
    annotations = []
    for stem, label, inst in frames:
        write_instance_predictions(str(tmp_path / "inst"), stem,
                                   [(inst == v, int(v) // 1000, 1.0)
                                    for v in np.unique(inst) if v >= 1000])
        write_semantic_prediction(str(tmp_path / "sem"), stem, label)
        seg, labels = panoptic_from_instance_ids(inst)
        annotations.append(write_panoptic_prediction(str(tmp_path / "pan"), stem, seg, labels))
    write_panoptic_json(str(tmp_path / "pan.json"), annotations)
    return frames, tmp_path


def _first(pattern):
    return sorted(glob.glob(pattern))[0]


# ---------------------------------------------------------------- legal edge cases
def test_an_empty_prediction_is_scored_as_cityscapesscripts_scores_it(synthcity_root, written):
    frames, tmp = written
    stem = frames[0][0]
    write_instance_predictions(str(tmp / "inst"), stem, [])      # no instance at all
    assert open(str(tmp / "inst" / (stem + ".txt"))).read() == ""
    ours = evaluate_instances(synthcity_root, "val", str(tmp / "inst"))
    direct = direct_official(tmp / "direct", synthcity_root, instance=tmp / "inst")
    assert_same_as_direct(ours, None, None, direct)
    assert ours["AP"] < 1.0


# ---------------------------------------------------------------- instance errors
def test_empty_mask_file_is_named(synthcity_root, written):
    _, tmp = written
    mask = _first(str(tmp / "inst" / "masks" / "*.png"))
    open(mask, "wb").close()
    with pytest.raises(CityscapesEvalError, match="empty \\(0 bytes\\): %s" % mask):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))


def test_truncated_mask_is_named(synthcity_root, written):
    _, tmp = written
    mask = _first(str(tmp / "inst" / "masks" / "*.png"))
    data = open(mask, "rb").read()
    open(mask, "wb").write(data[:len(data) // 2])
    with pytest.raises(CityscapesEvalError, match="not a readable PNG.*%s" % mask):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))


def test_wrong_size_mask_names_both_files(synthcity_root, written):
    _, tmp = written
    mask = _first(str(tmp / "inst" / "masks" / "*.png"))
    cv2.imwrite(mask, np.full((128, 256), 255, np.uint8))
    with pytest.raises(CityscapesEvalError,
                       match="instance mask %s .* is 128x256 but the ground truth .*instanceIds"
                             ".png is 256x512" % mask):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))


@pytest.mark.parametrize("line, match", [
    ("masks/x.png 26\n", "expected '<relative/mask.png> <labelId> <score>'"),
    ("masks/x.png car 0.5\n", "must be numbers"),
    ("masks/x.png 99 0.5\n", "label id 99 is not in cityscapesScripts' label table"),
    ("masks/x.png 26 nan\n", "score nan is not finite"),
    ("/abs/x.png 26 0.5\n", "must be relative"),
    ("../x.png 26 0.5\n", "points outside the prediction directory"),
    ("masks/missing.png 26 0.5\n", "not found: .*masks/missing.png"),
])
def test_bad_results_lines_are_named(synthcity_root, written, line, match):
    _, tmp = written
    txt = _first(str(tmp / "inst" / "*.txt"))
    with open(txt, "a") as f:
        f.write(line)
    with pytest.raises(CityscapesEvalError, match=match):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))
    with pytest.raises(CityscapesEvalError, match=txt):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))


def test_two_results_files_for_one_image_are_refused(synthcity_root, written):
    frames, tmp = written
    shutil.copy(str(tmp / "inst" / (frames[0][0] + ".txt")),
                str(tmp / "inst" / (frames[0][0] + "_copy.txt")))
    with pytest.raises(CityscapesEvalError, match="several instance predictions .*%s"
                       % frames[0][0]):
        evaluate_instances(synthcity_root, "val", str(tmp / "inst"))


# ---------------------------------------------------------------- semantic errors
def test_semantic_errors_are_named(synthcity_root, written):
    frames, tmp = written
    png = str(tmp / "sem" / (frames[1][0] + ".png"))
    os.unlink(png)
    with pytest.raises(CityscapesEvalError, match="no semantic prediction .*expected %s" % png):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"))
    open(png, "wb").close()
    with pytest.raises(CityscapesEvalError, match="empty \\(0 bytes\\): %s" % png):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"))
    cv2.imwrite(png, np.zeros((256, 511), np.uint8))
    with pytest.raises(CityscapesEvalError, match="%s is 256x511 but the ground truth" % png):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"))
    cv2.imwrite(png, np.zeros((256, 512, 3), np.uint8))
    with pytest.raises(CityscapesEvalError, match="%s has 3 channels" % png):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"))
    cv2.imwrite(png, np.full((256, 512), 255, np.uint8))
    with pytest.raises(CityscapesEvalError, match="%s holds values 255..255" % png):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"))


# ---------------------------------------------------------------- panoptic errors
def test_panoptic_errors_are_named(synthcity_root, written):
    frames, tmp = written
    png = str(tmp / "pan" / (frames[2][0] + ".png"))
    good = open(png, "rb").read()
    cv2.imwrite(png, np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(EvaluationError, match="%s is 100x100 but the ground truth" % png):
        evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"))
    open(png, "wb").close()
    with pytest.raises(EvaluationError, match="empty \\(0 bytes\\): %s" % png):
        evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"))
    open(png, "wb").write(good)
    # a segment in the PNG the JSON does not list: the official KeyError, with the file
    data = json.load(open(str(tmp / "pan.json")))
    data["annotations"][2]["segments_info"].pop()
    json.dump(data, open(str(tmp / "pan.json"), "w"))
    with pytest.raises(EvaluationError, match="%s .*presented in PNG and not presented in JSON"
                       % png):
        evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"))
    json.dump({"annotations": data["annotations"][1:]}, open(str(tmp / "pan.json"), "w"))
    with pytest.raises(EvaluationError, match="no prediction for image '%s'" % frames[0][0]):
        evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"))
    open(str(tmp / "pan.json"), "w").write("{not json")
    with pytest.raises(EvaluationError, match="is not valid JSON"):
        evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"))


def test_a_split_without_ground_truth_is_named(tmp_path):
    for evaluate in (evaluate_instances, evaluate_semantic):
        with pytest.raises(FileNotFoundError, match="nothing matches %s"
                           % os.path.join(str(tmp_path), "gtFine", "val")):
            evaluate(str(tmp_path), "val", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no ground truth folder"):
        evaluate_panoptic(str(tmp_path), "val", str(tmp_path / "p.json"), str(tmp_path))


def test_a_subset_of_frames_is_scored_alone(synthcity_root, written):
    frames, tmp = written
    names = [frames[1][0], frames[3][0]]
    os.unlink(str(tmp / "inst" / (frames[0][0] + ".txt")))  # not needed for the subset
    assert evaluate_instances(synthcity_root, "val", str(tmp / "inst"), names=names)[
        "num_images"] == 2
    assert evaluate_semantic(synthcity_root, "val", str(tmp / "sem"), names=names)["mIoU"] == 1.0
    result = evaluate_panoptic(synthcity_root, "val", str(tmp / "pan.json"), str(tmp / "pan"),
                               names=names)
    assert result["num_images"] == 2 and result["PQ"] == 1.0
    with pytest.raises(FileNotFoundError, match="no ground truth for frame.*nowhere_000000_000000"):
        evaluate_semantic(synthcity_root, "val", str(tmp / "sem"),
                          names=["nowhere_000000_000000"])


# ---------------------------------------------------------------- ground-truth caches
def test_panoptic_ground_truth_cache_is_reused_and_rebuilt(synthcity_root, written):
    frames, tmp = written
    root = str(tmp / "data")
    shutil.copytree(os.path.join(synthcity_root, "gtFine"), os.path.join(root, "gtFine"))
    cache = str(tmp / "cache")
    gt_json, folder = panoptic_gt(root, "val", cache)
    stamp = os.path.getmtime(gt_json)
    assert panoptic_gt(root, "val", cache) == (gt_json, folder)
    assert os.path.getmtime(gt_json) == stamp  # reused
    assert evaluate_panoptic(root, "val", str(tmp / "pan.json"), str(tmp / "pan"),
                             gt_cache=cache)["PQ"] == 1.0
    # the ground truth changes: one car becomes part of another
    path = glob.glob(os.path.join(root, "gtFine", "val", "*", frames[0][0] + "*instanceIds.png"))[0]
    inst = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cars = [v for v in np.unique(inst) if v // 1000 == 26]
    inst[inst == cars[1]] = cars[0]
    cv2.imwrite(path, inst)
    panoptic_gt(root, "val", cache)
    assert os.path.getmtime(gt_json) != stamp  # rebuilt
    assert evaluate_panoptic(root, "val", str(tmp / "pan.json"), str(tmp / "pan"),
                             gt_cache=cache)["PQ"] < 1.0
    assert not [p for p in os.listdir(cache) if p.startswith(".build") or p.startswith(".old")]


def test_instance_ground_truth_cache_converts_only_changed_files(synthcity_root, tmp_path,
                                                                 monkeypatch):
    from cityscapesscripts.evaluation import instances2dict as module

    gts = sorted(glob.glob(os.path.join(synthcity_root, "gtFine", "val", "*",
                                        "*instanceIds.png")))
    fresh = load_gt_instances(gts)
    calls = []
    original = module.instances2dict

    def counting(files, verbose=False):
        calls.append(list(files))
        return original(files, verbose)
    monkeypatch.setattr(module, "instances2dict", counting)
    assert load_gt_instances(gts, str(tmp_path)) == fresh
    assert load_gt_instances(gts, str(tmp_path)) == fresh
    assert calls == [gts]  # the second call read the cache
    cache = json.load(open(str(tmp_path / "gt_instances.json")))
    cache["frames"][gts[2]]["sha256"] = "0" * 64  # as if the file had changed
    json.dump(cache, open(str(tmp_path / "gt_instances.json"), "w"))
    assert load_gt_instances(gts, str(tmp_path)) == fresh
    assert calls == [gts, [gts[2]]]
