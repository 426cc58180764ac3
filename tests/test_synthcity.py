"""SynthCity: Cityscapes layout and encoding, determinism, the paper's cases, the script."""
import glob
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label

from ssap_gluon.data import synthcity as sc
from ssap_gluon.utils.io import read_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = {"seed": 1234, "num_train": 6, "num_val": 4, "num_test": 2}  # tests/conftest.py
THINGS = (24, 25, 26, 27, 28, 31, 32, 33)


def dataset_files(root):
    return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "**", "*.png"),
                                                             recursive=True))


@pytest.fixture(scope="module")
def rendered():
    """24 frames rendered in memory (a different seed from the fixture)."""
    return [sc.render_frame(256, 512, sc.frame_rng(7, "train", i), "alderwick") for i in range(24)]


# ------------------------------------------------------------------ layout & encoding
def test_layout_is_cityscapes(synthcity_root):
    stem_re = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})$")
    for split in ("train", "val", "test"):
        images = sorted(glob.glob(os.path.join(synthcity_root, "leftImg8bit", split, "*", "*.png")))
        assert len(images) == FIXTURE["num_" + split]
        cities = set()
        for img in images:
            city = os.path.basename(os.path.dirname(img))
            stem = os.path.basename(img)[:-len("_leftImg8bit.png")]
            m = stem_re.match(stem)
            assert m and m.group(1) == city and m.group(3) == "000019", img
            cities.add(city)
            gt = os.path.join(synthcity_root, "gtFine", split, city, stem + "_gtFine_")
            for kind in ("labelIds", "instanceIds", "color"):
                assert os.path.isfile(gt + kind + ".png"), gt + kind
        assert cities <= set(sc.CITIES[split])
        assert len(cities) == min(len(sc.CITIES[split]), FIXTURE["num_" + split])
    # cities never cross splits
    assert not set(sc.CITIES["train"]) & (set(sc.CITIES["val"]) | set(sc.CITIES["test"]))
    assert sorted(os.listdir(synthcity_root)) == ["gtFine", "leftImg8bit", sc.MANIFEST_NAME]


def test_encoding_matches_cityscapes(synthcity_root):
    color_of = {l.id: l.color for l in id2label.values() if l.id >= 0}
    for path in glob.glob(os.path.join(synthcity_root, "gtFine", "*", "*", "*_labelIds.png")):
        label = read_image(path, expect_channels=1, expect_dtype=np.uint8)
        inst = read_image(path.replace("labelIds", "instanceIds"), expect_channels=1,
                          expect_dtype=np.uint16).astype(np.int64)
        color = read_image(path.replace("labelIds", "color"), expect_channels=4)
        image = read_image(path.replace("gtFine", "leftImg8bit", 1).replace("_gtFine_labelIds", "_leftImg8bit"),
                           expect_channels=3, expect_dtype=np.uint8)
        assert label.shape == inst.shape == color.shape[:2] == image.shape[:2] == (256, 512)
        thing = inst >= 1000
        # labelId*1000+k for instances, the label id itself everywhere else
        assert (inst[thing] // 1000 == label[thing]).all()
        assert (inst[~thing] == label[~thing]).all()
        assert set(np.unique(label[thing])) <= set(THINGS)
        for lid in np.unique(inst[thing] // 1000):
            ks = np.unique(inst[inst // 1000 == lid]) - lid * 1000
            assert ks.tolist() == list(range(len(ks))), "instance numbers per class are 0..n-1"
        # colour PNG: Cityscapes colour of the label id, opaque (BGRA on disk)
        for lid in np.unique(label):
            px = color[label == lid][0]
            assert tuple(px[[2, 1, 0]]) == tuple(color_of[int(lid)]) and px[3] == 255


def test_void_and_crowd_regions_are_present(rendered):
    labels = np.stack([r[1] for r in rendered])
    insts = np.stack([r[2] for r in rendered])
    for void in (1, 2, 3):  # ego vehicle, rectification border, out of roi
        assert (labels == void).any(), void
    crowd = (insts < 1000) & np.isin(insts, THINGS)
    assert crowd.any(), "a thing-class region without instance id (car/person group)"
    assert (labels[crowd] == insts[crowd]).all()


def test_all_19_classes_and_8_thing_classes_occur():
    frames = [sc.render_frame(128, 256, sc.frame_rng(3, "train", i), "brammelton") for i in range(60)]
    label_ids = set(np.unique(np.stack([f[1] for f in frames])).tolist())
    evaluated = {l.id for l in id2label.values() if l.id >= 0 and not l.ignoreInEval}
    assert evaluated <= label_ids, sorted(evaluated - label_ids)
    instance_classes = {v // 1000 for f in frames for v in np.unique(f[2]) if v >= 1000}
    assert set(THINGS) <= instance_classes


# ------------------------------------------------------------------ the paper's cases
def test_frames_contain_the_cases_the_paper_is_about(rendered):
    totals = {"split": 0, "touching": 0, "large": 0, "small": 0}
    for _, label, inst in rendered:
        st = sc.frame_statistics(label, inst)
        for k in totals:
            totals[k] += st[k]
    n = len(rendered)
    # measured on the default generator: about 1 split, 6 touching pairs, 0.8 large and
    # 6 small instances per frame; the bounds leave room for sampling noise
    assert totals["split"] >= 0.3 * n
    assert totals["touching"] >= 2 * n
    assert totals["large"] >= 0.25 * n
    assert totals["small"] >= 2 * n


def test_perspective_near_objects_are_lower_and_bigger(rendered):
    bottoms, heights = [], []
    for _, _, inst in rendered:
        for v in np.unique(inst):
            if v // 1000 == 24 and v >= 1000:  # people: upright, rarely cut by the border
                rows = np.nonzero((inst == v).any(1))[0]
                bottoms.append(rows[-1])
                heights.append(rows[-1] - rows[0] + 1)
    from scipy.stats import spearmanr
    assert len(heights) > 30
    assert spearmanr(bottoms, heights).correlation > 0.6


def test_colour_alone_does_not_give_the_class(synthcity_root):
    """Best colour -> class lookup table, fitted on the very pixels it is scored on
    (an upper bound for any per-pixel colour rule), stays far from perfect."""
    train_id = np.array([id2label[i].trainId if i in id2label else 255 for i in range(256)])
    keys, ys = [], []
    for path in glob.glob(os.path.join(synthcity_root, "gtFine", "*", "*", "*_labelIds.png")):
        tid = train_id[cv2.imread(path, cv2.IMREAD_UNCHANGED)]
        img = cv2.imread(path.replace("gtFine", "leftImg8bit", 1).replace("_gtFine_labelIds", "_leftImg8bit"))
        q = (img // 16).astype(np.int64)
        key = q[..., 0] * 256 + q[..., 1] * 16 + q[..., 2]
        keys.append(key[tid != 255])
        ys.append(tid[tid != 255])
    key, y = np.concatenate(keys), np.concatenate(ys)
    counts = np.zeros((4096, 19), np.int64)
    np.add.at(counts, (key, y), 1)
    accuracy = (counts.argmax(1)[key] == y).mean()
    assert accuracy < 0.75, accuracy


# ------------------------------------------------------------------ statistics & ids by hand
def test_frame_statistics_by_hand():
    inst = np.array([
        [26000, 26000, 17, 26000, 26001, 0],
        [26000, 26000, 17, 26000, 26001, 0],
        [24000, 24001, 7, 7, 7, 26],
        [7, 7, 7, 7, 7, 7]], np.int32)
    label = np.where(inst >= 1000, inst // 1000, inst).astype(np.uint8)
    st = sc.frame_statistics(label, inst, large_fraction=0.5, small_area=4, min_part=2)
    assert st["instances"] == {24: 2, 26: 2}
    assert st["groups"] == {26: 1}
    assert st["split"] == 1            # 26000: two parts of 4 and 2 pixels around the pole
    assert st["touching"] == 2         # 26000|26001 and 24000|24001
    assert st["large"] == 1            # 26000 spans 4 of 6 columns
    assert st["small"] == 3            # 26001 (2 px), 24000, 24001 (1 px each)
    assert st["pixels"][7] == 9


def test_compact_instance_ids_renumbers_per_class_in_order():
    inst = np.array([[7, 26003, 26007], [24005, 26003, 24002]], np.int32)
    assert sc.compact_instance_ids(inst).tolist() == [[7, 26000, 26001], [24001, 26000, 24000]]


# ------------------------------------------------------------------ determinism & manifest
def test_same_seed_same_bytes_for_any_worker_count(synthcity_root, tmp_path):
    # a smaller set with 2 worker processes: every frame it shares with the fixture
    # (same seed, split and index) must be byte-identical
    out = tmp_path / "again"
    sc.generate_synthcity(str(out), num_train=2, num_val=1, num_test=0, seed=1234, workers=2)
    files = dataset_files(str(out))
    assert len(files) == 3 * 4
    for rel in files:
        with open(os.path.join(out, rel), "rb") as a, open(os.path.join(synthcity_root, rel), "rb") as b:
            assert a.read() == b.read(), rel


def test_different_seed_different_images(synthcity_root):
    image = sc.render_frame(256, 512, sc.frame_rng(1235, "val", 0), "everholt")[0]
    path = glob.glob(os.path.join(synthcity_root, "leftImg8bit", "val", "everholt", "*_000000_*.png"))[0]
    fixture = cv2.imread(path)[:, :, ::-1]
    assert image.shape == fixture.shape and not np.array_equal(image, fixture)
    same = sc.render_frame(256, 512, sc.frame_rng(1234, "val", 0), "everholt")[0]
    assert np.array_equal(same, fixture)


def test_manifest_and_summary(synthcity_root):
    manifest = json.load(open(os.path.join(synthcity_root, sc.MANIFEST_NAME)))
    assert manifest["complete"] is True
    args = manifest["arguments"]
    assert {k: args[k] for k in FIXTURE} == FIXTURE
    summary = manifest["summary"]
    assert summary["frames"] == {"train": 6, "val": 4, "test": 2}
    # instance counts in the summary = counts read back from the PNGs
    counted = {}
    for path in glob.glob(os.path.join(synthcity_root, "gtFine", "val", "*", "*_instanceIds.png")):
        for v in np.unique(cv2.imread(path, cv2.IMREAD_UNCHANGED)):
            if v >= 1000:
                name = id2label[int(v) // 1000].name
                counted[name] = counted.get(name, 0) + 1
    per_split = {k: v for k, v in summary["instances_per_split"]["val"].items() if v}
    assert per_split == counted


def test_rerun_with_same_arguments_skips(synthcity_root):
    before = os.path.getmtime(os.path.join(synthcity_root, sc.MANIFEST_NAME))
    summary = sc.generate_synthcity(synthcity_root, **FIXTURE)
    assert summary["skipped"] is True and summary["frames"]["val"] == 4
    assert os.path.getmtime(os.path.join(synthcity_root, sc.MANIFEST_NAME)) == before


def test_other_arguments_or_foreign_directory_are_refused(synthcity_root, tmp_path):
    with pytest.raises(sc.SynthCityDirectoryError, match="already holds a SynthCity made with"):
        sc.generate_synthcity(synthcity_root, **dict(FIXTURE, num_val=5))
    foreign = tmp_path / "real_data"
    (foreign / "gtFine").mkdir(parents=True)
    with pytest.raises(sc.SynthCityDirectoryError, match="not empty and holds no SynthCity"):
        sc.generate_synthcity(str(foreign), num_train=1, num_val=0)
    with pytest.raises(sc.SynthCityDirectoryError, match="refusing to delete"):
        sc.remove_synthcity(str(foreign))
    assert (foreign / "gtFine").is_dir()


@pytest.mark.parametrize("kwargs, match", [
    ({"num_train": -1}, "num_train must be an integer >= 0"),
    ({"height": 32}, "height must be an integer >= 64"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"workers": 0}, "workers must be an integer >= 1"),
])
def test_bad_arguments_name_the_argument(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sc.generate_synthcity(str(tmp_path / "x"), **kwargs)


def test_other_sizes_render():
    image, label, inst = sc.render_frame(96, 160, sc.frame_rng(0, "train", 0), "alderwick")
    assert image.shape == (96, 160, 3) and label.shape == inst.shape == (96, 160)


def test_importing_the_generator_never_imports_mxnet():
    """Spawned workers import the package; mxnet would cost each of them seconds."""
    code = "import sys, ssap_gluon.data.synthcity; print('mxnet' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.stdout.strip() == "False", proc.stdout + proc.stderr


# ------------------------------------------------------------------ the script
def run_script(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_synthcity.py")] + list(args),
                          capture_output=True, text=True, timeout=300)


def script_main():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_synthcity",
                                                  os.path.join(REPO, "scripts", "make_synthcity.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_script_generates_skips_refuses_and_forces(tmp_path, capsys):
    out = str(tmp_path / "sc")
    # once as a program (what the README runs), then in-process (fast)
    first = run_script("--out", out, "--num-train", "1", "--num-val", "1", "--num-test", "0",
                       "--seed", "3")
    assert first.returncode == 0, first.stderr
    assert "1 train / 1 val / 0 test frames of 256x512 (seed 3)" in first.stdout
    assert re.search(r"^car\s+\d+\s+\d+\s+\d+$", first.stdout, re.M)
    main = script_main()
    small = ["--num-val", "1", "--num-test", "0", "--seed", "3"]
    assert main(["--out", out, "--num-train", "1"] + small) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(["--out", out, "--num-train", "2"] + small) == 2
    assert "already holds a SynthCity" in capsys.readouterr().err
    assert main(["--out", out, "--num-train", "2", "--force"] + small) == 0
    assert len(glob.glob(os.path.join(out, "leftImg8bit", "train", "*", "*.png"))) == 2
