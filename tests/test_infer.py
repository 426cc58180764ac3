"""scripts/infer.py and the Fig. 6 / Fig. 7 panels (ssap_gluon/inference/panels.py).

A tiny random-init network (tests/test_train.py's tiny_opts: ResNet-18 with
16/8 decoder/head channels, AFFINITY.STRIDES [4, 8, 16, 32, 64]) runs on
SynthCity fixture frames: every output at the image's size, one log line per
frame, panels with the expected tiles. The colours are checked by hand on a
small map, and the oracle pyramid (ground truth as the network's output, no
network) must draw the ground-truth instances in the instance tile in the
ground-truth tile's colours. Every user error exits 2 naming the file or key.
"""
import glob
import json
import os
import shutil
import subprocess
import sys

import cv2
import mxnet as mx
import numpy as np
import pytest

from ssap_gluon.config import load_config
from ssap_gluon.inference import panels as P

from test_train import tiny_opts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "synthcity_r18.yaml")
SCRIPT = os.path.join(REPO, "scripts", "infer.py")
sys.path.insert(0, os.path.join(REPO, "scripts"))
import infer  # noqa: E402

TILE = 256  # panel tile width in these tests (SynthCity frames are 256 x 512)


def _opts(root, out, **extra):
    # single-thread GAEC: the random network's affinities make many tiny
    # instances; the default KL refinement would only cost time here
    extra.setdefault("TEST.MULTICUT_SOLVER", "gaec")
    extra.setdefault("TEST.NUM_THREADS", 1)
    opts = tiny_opts(root, out, **extra)
    assert opts[opts.index("MODEL.DECODER_CHANNELS") + 1] == "16"
    return opts


def _read_rgb(path):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _tile_columns(n):
    return [(i * (TILE + P.GAP), i * (TILE + P.GAP) + TILE) for i in range(n)]


def _expected_panel_shape(image_shape, n):
    h, w = P.tile_size(image_shape, TILE)
    return (P.title_height(w) + h, n * w + (n - 1) * P.GAP, 3)


def _assert_tiles(panel, image_shape, n):
    assert panel.shape == _expected_panel_shape(image_shape, n)
    th = P.title_height(TILE)
    for i, (a, b) in enumerate(_tile_columns(n)):
        if i:  # the gap before the tile: background colour, full height
            assert (panel[:, a - P.GAP:a] == P.BACKGROUND).all(), i
        # the title bar: its colour plus (lighter) text pixels
        bar = panel[:th, a:b]
        assert (bar == P.TITLE_BAR).all(axis=-1).mean() > 0.5, i
        assert (bar.max(axis=-1) > 200).any(), "tile %d has no title text" % i


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny(synthcity_root, tmp_path_factory):
    """(opts, weights file) of the tiny random-init network."""
    from ssap_gluon.model import build_model

    work = str(tmp_path_factory.mktemp("tiny_net"))
    opts = _opts(synthcity_root, work)
    cfg = load_config(CONFIG, opts)
    assert list(cfg.AFFINITY.STRIDES) == [4, 8, 16, 32, 64]
    mx.random.seed(7)
    np.random.seed(7)
    net = build_model(cfg, num_devices=1, ctx=mx.cpu())
    net(mx.nd.zeros((1, 3, 64, 128)))  # finish deferred shapes
    weights = os.path.join(work, "tiny.params")
    net.save_parameters(weights)
    return opts, weights


@pytest.fixture(scope="module")
def cityscapes_tree(synthcity_root, tmp_path_factory):
    """A Cityscapes-layout copy of 2 fixture val frames (images + gtFine)."""
    root = str(tmp_path_factory.mktemp("tree"))
    images = sorted(glob.glob(os.path.join(synthcity_root, "leftImg8bit", "val", "*", "*.png")))
    assert len(images) >= 2
    picked = []
    for src in images[:2]:
        city = os.path.basename(os.path.dirname(src))
        name = os.path.basename(src)[:-len("_leftImg8bit.png")]
        dst = os.path.join(root, "leftImg8bit", "val", city)
        os.makedirs(dst, exist_ok=True)
        shutil.copy(src, dst)
        gt_src = os.path.join(synthcity_root, "gtFine", "val", city)
        gt_dst = os.path.join(root, "gtFine", "val", city)
        os.makedirs(gt_dst, exist_ok=True)
        for f in glob.glob(os.path.join(gt_src, name + "_gtFine_*.png")):
            shutil.copy(f, gt_dst)
        picked.append((name, os.path.join(dst, os.path.basename(src))))
    return root, picked


@pytest.fixture(scope="module")
def directory_run(tiny, cityscapes_tree, tmp_path_factory):
    """infer.py on the tree's root (2 frames; its gtFine PNGs are not inputs)."""
    opts, weights = tiny
    root, picked = cityscapes_tree
    out = str(tmp_path_factory.mktemp("infer_dir"))
    rc = infer.main(["--cfg", CONFIG, "--weights", weights, "--images", root, "--out", out,
                     "--fig7", "--tile-width", str(TILE), "--no-progress", "--opts"] + opts)
    assert rc == 0
    return out, picked


# ---------------------------------------------------------------- runs
def test_every_output_has_the_image_size(directory_run):
    out, picked = directory_run
    for stem, image_path in picked:
        shape = cv2.imread(image_path).shape[:2]
        semantic = cv2.imread(os.path.join(out, "semantic", stem + ".png"), cv2.IMREAD_UNCHANGED)
        panoptic = cv2.imread(os.path.join(out, "panoptic", stem + ".png"), cv2.IMREAD_UNCHANGED)
        assert semantic.shape == shape and panoptic.shape == shape + (3,)
        with open(os.path.join(out, "panoptic", stem + ".json")) as f:
            assert json.load(f)["file_name"] == stem + ".png"
        with open(os.path.join(out, "instance", stem + ".txt")) as f:
            lines = f.read().splitlines()
        record = json.load(open(os.path.join(out, "frames", stem + ".json")))
        assert record["image"] == image_path and record["num_instances"] >= len(lines)
        for line in lines[:5]:
            mask = cv2.imread(os.path.join(out, "instance", line.split()[0]),
                              cv2.IMREAD_UNCHANGED)
            assert mask.shape == shape and set(np.unique(mask)) <= {0, 255}
        # semantic PNG holds Cityscapes label ids of the 19 classes
        assert set(np.unique(semantic).tolist()) <= set(infer.class_metadata(
            load_config(CONFIG, [])).label_ids.tolist())
        panel = _read_rgb(os.path.join(out, "panels", stem + ".png"))
        _assert_tiles(panel, shape, 5)  # image, 1/16, 1/8, instances, ground truth
        fig7 = _read_rgb(os.path.join(out, "panels_fig7", stem + ".png"))
        _assert_tiles(fig7, shape, 2)


def test_log_has_one_line_per_frame_with_finite_times(directory_run):
    out, picked = directory_run
    with open(os.path.join(out, "infer_log.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert [r["stem"] for r in records] == [stem for stem, _ in picked]
    for r, (stem, image_path) in zip(records, picked):
        assert r["image"] == image_path and (r["height"], r["width"]) == (256, 512)
        assert r["ground_truth"].endswith(os.path.join(
            "gtFine", "val", stem.split("_")[0], stem + "_gtFine_instanceIds.png"))
        times = [r["network_ms"], r["gp_ms"], r["assemble_ms"]] + list(r["cascade_ms"].values())
        assert all(np.isfinite(t) and t >= 0 for t in times), r
        assert {"graph", "solve", "proposals", "total"} <= set(r["cascade_ms"])
        assert r["network_ms"] > 0 and r["gp_ms"] > 0
        frame = json.load(open(os.path.join(out, "frames", stem + ".json")))
        assert r["num_instances"] == frame["num_instances"]


def test_ground_truth_tile_draws_the_instance_ids(directory_run):
    out, picked = directory_run
    stem, image_path = picked[0]
    panel = _read_rgb(os.path.join(out, "panels", stem + ".png"))
    image = _read_rgb(image_path)
    ids = cv2.imread(infer.ground_truth_path(image_path), cv2.IMREAD_UNCHANGED)
    gt = P.ground_truth_instances(ids)
    assert (gt >= 0).sum() > 100 and ids.dtype == np.uint16
    small = cv2.resize(image, (TILE, 128), interpolation=cv2.INTER_AREA)
    expected = P.overlay(small, P._resize_labels(gt, (128, TILE)))
    a, b = _tile_columns(5)[4]
    tile = panel[P.title_height(TILE):, a:b]
    np.testing.assert_array_equal(tile, expected)


def test_a_single_file_with_a_non_cityscapes_name(tiny, cityscapes_tree, tmp_path):
    opts, weights = tiny
    _, picked = cityscapes_tree
    image = str(tmp_path / "my photo (1).png")
    shutil.copy(picked[0][1], image)
    out = str(tmp_path / "out")
    rc = infer.main(["--cfg", CONFIG, "--weights", weights, "--images", image, "--out", out,
                     "--tile-width", str(TILE), "--no-progress", "--opts"] + opts)
    assert rc == 0
    stem = "my-photo-1_000000_000000"
    for rel in ("instance/%s.txt", "panoptic/%s.png", "panoptic/%s.json", "semantic/%s.png",
                "frames/%s.json", "panels/%s.png"):
        assert os.path.isfile(os.path.join(out, rel % stem)), rel
    assert not os.path.exists(os.path.join(out, "panels_fig7"))
    panel = _read_rgb(os.path.join(out, "panels", stem + ".png"))
    _assert_tiles(panel, (256, 512), 4)  # no ground truth next to a loose file
    assert cv2.imread(os.path.join(out, "semantic", stem + ".png")).shape[:2] == (256, 512)
    (record,) = [json.loads(l) for l in open(os.path.join(out, "infer_log.jsonl"))]
    assert record["stem"] == stem and record["image"] == image
    assert record["ground_truth"] is None


def test_stems():
    names = ["/a/x/b_000001_000002_leftImg8bit.png", "/a/y/my photo.jpg", "/a/z/my_photo.png",
             "/a/my-photo_000000_000000.png", "/a/ü.png"]
    assert infer.frame_stems(names) == [
        "b_000001_000002", "my-photo_000000_000001", "my-photo_000000_000002",
        "my-photo_000000_000000", "image_000000_000000"]
    with pytest.raises(infer.UserError, match="/a/b_000000_000000.png and "
                                              "/c/b_000000_000000_leftImg8bit.png"):
        infer.frame_stems(["/a/b_000000_000000.png", "/c/b_000000_000000_leftImg8bit.png"])


def test_list_images(tmp_path):
    root = tmp_path / "imgs"
    for rel in ("b/2.JPG", "b/1.png", "a.jpeg", "notes.txt",
                "gtFine/val/c/c_000000_000001_gtFine_instanceIds.png",
                "gtFine/val/c/c_000000_000001_gtFine_color.png", "out/panels/x.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    out = str(root / "out")
    found = infer.list_images(str(root), out)  # sorted; no annotations, nothing under OUT
    assert found == [str(root / "a.jpeg"), str(root / "b/1.png"), str(root / "b/2.JPG")]
    assert infer.list_images(str(root / "notes.txt"), out) == [str(root / "notes.txt")]


def test_ground_truth_path(cityscapes_tree, tmp_path):
    root, picked = cityscapes_tree
    stem, image = picked[0]
    assert infer.ground_truth_path(image) == os.path.join(
        root, "gtFine", "val", stem.split("_")[0], stem + "_gtFine_instanceIds.png")
    loose = str(tmp_path / os.path.basename(image))
    shutil.copy(image, loose)
    assert infer.ground_truth_path(loose) is None


# ---------------------------------------------------------------- colours
def test_colours_are_a_fixed_function_of_the_id():
    assert P.id_colour(7) == P.id_colour(7) == (P.id_colour(7.0))
    colours = [P.id_colour(k) for k in range(64)]
    assert len(set(colours)) == 64
    assert all(0 <= c <= 255 for rgb in colours for c in rgb)
    # ground-truth ids of one class are consecutive: neighbours differ strongly
    a, b = np.array(P.id_colour(26000)), np.array(P.id_colour(26001))
    assert np.abs(a - b).max() >= 60


def test_overlay_by_hand():
    image = np.full((2, 4, 3), 100, np.uint8)
    labels = np.array([[0, 0, -1, 3], [3, 0, -1, 3]])
    out = P.overlay(image, labels, edges=False)
    c0, c3 = np.array(P.id_colour(0)), np.array(P.id_colour(3))
    expect0 = np.rint(0.6 * c0 + 0.4 * 100)
    expect3 = np.rint(0.6 * c3 + 0.4 * 100)
    for y, x in [(0, 0), (0, 1), (1, 1)]:
        np.testing.assert_array_equal(out[y, x], expect0)
    for y, x in [(0, 3), (1, 0), (1, 3)]:  # id 3 twice, apart: the same colour
        np.testing.assert_array_equal(out[y, x], expect3)
    np.testing.assert_array_equal(out[:, 2], np.full((2, 3), 40))  # dimmed, 0.4 * 100
    # a colour key replaces the id: label 0 drawn as key 3
    np.testing.assert_array_equal(P.overlay(image, labels, {0: 3}, edges=False)[0, 0], expect3)
    # outlines darken labelled pixels next to another label, nothing else
    a = np.zeros((5, 5), np.int64) - 1
    a[1:4, 1:4] = 2
    with_edges = P.overlay(np.full((5, 5, 3), 100, np.uint8), a)
    plain = P.overlay(np.full((5, 5, 3), 100, np.uint8), a, edges=False)
    ring = (a >= 0)
    ring[2, 2] = False
    np.testing.assert_array_equal(with_edges[ring],
                                  np.rint(plain[ring] * P.EDGE_FACTOR).astype(np.uint8))
    np.testing.assert_array_equal(with_edges[~ring], plain[~ring])


def test_matching():
    gt = np.array([[5, 5, 5, -1], [5, 5, 9, 9], [-1, -1, 9, 9]])
    pred = np.array([[0, 0, 0, -1], [0, 1, 2, 2], [-1, -1, 2, 2]])
    assert P.match_instances(pred, gt) == {0: 5, 2: 9}  # 1 has IoU 1/5 with 5
    keys, prop_keys = P.display_keys(pred, gt, {8: np.array(
        [[3, 3, -1, -1], [-1, -1, -1, 4], [-1, -1, 6, 6]])})
    assert keys == {0: 5, 1: 1, 2: 9}
    # proposal 3 -> instance 0 (-> gt 5); 6 is instance 2's best overlap, 4 is not
    assert prop_keys == {8: {3: 5, 4: P.PROPOSAL_KEY_BASE * 8 + 4, 6: 9}}


def test_fig7_uses_the_cityscapes_palette():
    from cityscapesscripts.helpers.labels import name2label

    image = np.full((32, 64, 3), 90, np.uint8)
    label_ids = np.full((32, 64), name2label["road"].id)
    label_ids[10:20, 10:30] = name2label["car"].id
    instances = np.full((32, 64), -1)
    instances[10:20, 10:30] = 0
    panel = P.fig7_panel(image, label_ids, instances, {0: 26000}, tile_width=64)
    th = P.title_height(64)
    assert panel.shape == (th + 32, 2 * 64 + P.GAP, 3)
    sem = panel[th:, :64]
    assert tuple(sem[15, 15]) == name2label["car"].color == (0, 0, 142)
    assert tuple(sem[0, 0]) == name2label["road"].color
    inst = panel[th:, 64 + P.GAP:]
    np.testing.assert_array_equal(inst[15, 15], np.rint(0.6 * np.array(P.id_colour(26000))
                                                        + 0.4 * 90))


# ---------------------------------------------------------------- the oracle
def _oracle(synthcity_root, index=0, **extra):
    from ssap_gluon.data import build_dataset, build_transform
    from ssap_gluon.inference import Predictor
    from ssap_gluon.inference.oracle import oracle_pyramid

    opts = ["DATASET.ROOT", synthcity_root, "TEST.NUM_THREADS", "1"]
    for k, v in extra.items():
        opts += [k, str(v)]
    cfg = load_config(CONFIG, opts)
    ds = build_dataset(cfg, "val", is_train=False, transform=None)
    image, semantic, instance = ds[index]
    geometry = build_transform(cfg, False).geometry(*image.shape[:2])
    pyramid = oracle_pyramid(semantic, instance, cfg.AFFINITY.STRIDES, cfg.AFFINITY.WINDOW,
                             ds.num_classes, ds.thing_train_ids, geometry=geometry)
    predictor = Predictor(cfg, None, None, ds.thing_train_ids, ds.label_ids)
    prediction = predictor.from_pyramid(pyramid, geometry)
    gt, problem = infer.read_ground_truth(infer.ground_truth_path(ds.image_path(index)),
                                          image.shape[:2])
    assert problem is None
    return image, prediction, geometry, gt


def test_oracle_panel_shows_the_ground_truth_instances(synthcity_root):
    image, prediction, geometry, gt = _oracle(synthcity_root)
    panel, info = P.fig6_from_prediction(image, prediction, geometry, gt, tile_width=TILE)
    assert info["tiles"][0] == "Image" and info["tiles"][1].startswith("Proposals from 1/16")
    assert info["tiles"][2].startswith("Proposals from 1/8")
    assert info["tiles"][3].startswith("Instance Seg.") and info["tiles"][4].startswith(
        "Ground Truth")
    _assert_tiles(panel, image.shape, 5)
    pred = prediction.instances.instance_map
    matched = P.match_instances(pred, gt)
    # The oracle finds the ground truth, up to the 1/4 grid: every instance of
    # 300 pixels or more is matched (IoU > 0.5); thin persons of ~50-100
    # pixels can fall apart into 4x4 blocks that match nothing.
    ids, areas = np.unique(gt[gt >= 0], return_counts=True)
    assert (areas >= 300).sum() >= 5 and set(ids[areas >= 300]) <= set(matched.values())
    assert {info["instance_keys"][k] for k in matched} == set(matched.values())
    size = info["tile_size"]
    th = P.title_height(TILE)
    (a3, b3), (a4, b4) = _tile_columns(5)[3:5]
    inst_tile, gt_tile = panel[th:, a3:b3], panel[th:, a4:b4]
    pred_small, gt_small = P._resize_labels(pred, size), P._resize_labels(gt, size)
    edge = P._edges(pred_small) | P._edges(gt_small)
    compared = 0
    for k, g in matched.items():
        both = (pred_small == k) & (gt_small == g) & ~edge
        if both.sum() == 0:
            continue
        np.testing.assert_array_equal(inst_tile[both], gt_tile[both])
        compared += 1
    assert compared >= 0.8 * len(matched)
    # and the proposals handed on by 1/16 and 1/8 follow the same objects' colours
    used = set(info["instance_keys"].values())
    for s in (16, 8):
        keys = info["proposal_keys"][s]
        assert keys and sum(v in used for v in keys.values()) >= 0.5 * len(keys), s


def test_a_level_the_cascade_did_not_visit(synthcity_root):
    image, prediction, geometry, gt = _oracle(synthcity_root, **{
        "TEST.CASCADE_INIT_STRIDE": 8})
    assert 16 not in prediction.cascade.proposals and 8 in prediction.cascade.proposals
    panel, info = P.fig6_from_prediction(image, prediction, geometry, None, tile_width=TILE)
    _assert_tiles(panel, image.shape, 4)
    assert info["tiles"][1] == "Proposals from 1/16"
    a, b = _tile_columns(4)[1]
    tile = panel[P.title_height(TILE):, a:b]
    grey = (tile == P.NOT_VISITED).all(axis=-1)
    assert grey.mean() > 0.9 and (tile.max(axis=-1) > 200).any()  # grey, with its text
    assert P.not_visited_reason(prediction.cascade, 16) == "cascade starts at 1/8"


# ---------------------------------------------------------------- user errors
def _fail(capsys, argv):
    rc = infer.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # one paragraph
    return err


def test_user_errors_name_the_file_or_key(tiny, cityscapes_tree, tmp_path, capsys):
    opts, weights = tiny
    root, picked = cityscapes_tree
    image = picked[0][1]
    out = str(tmp_path / "out")

    def argv(images=image, w=weights, o=out, extra=()):
        return ["--cfg", CONFIG, "--weights", w, "--images", images, "--out", o,
                "--no-progress", "--opts"] + opts + list(extra)

    missing = str(tmp_path / "nope.png")
    assert missing in _fail(capsys, argv(images=missing))
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("x")
    err = _fail(capsys, argv(images=str(empty)))
    assert str(empty) in err and "no images found" in err
    assert str(tmp_path / "w.params") in _fail(capsys, argv(w=str(tmp_path / "w.params")))
    err = _fail(capsys, argv(extra=["TEST.NO_SUCH_KEY", "1"]))
    assert "TEST.NO_SUCH_KEY" in err
    a_file = tmp_path / "taken"
    a_file.write_text("")
    err = _fail(capsys, argv(o=str(a_file)))
    assert str(a_file) in err and "is a file" in err
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png")
    assert str(corrupt) in _fail(capsys, argv(images=str(corrupt)))
    # weights of another network: one parameter has another shape
    arrays = mx.nd.load(weights)
    name = sorted(k for k in arrays if k.endswith("weight"))[-1]
    arrays[name] = mx.nd.zeros(tuple(arrays[name].shape[:-1]) + (arrays[name].shape[-1] + 1,))
    other = str(tmp_path / "other.params")
    mx.nd.save(other, arrays)
    err = _fail(capsys, argv(w=other))
    assert other in err and "does not fit the network" in err and name in err
    assert not glob.glob(os.path.join(out, "panels", "*"))  # nothing written on an error


def test_the_script_exits_2_without_a_traceback(tiny, cityscapes_tree, tmp_path):
    """The real entry point (a subprocess), on weights that are not parameters."""
    opts, _ = tiny
    bad = tmp_path / "bad.params"
    bad.write_bytes(b"\0" * 64)
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--cfg", CONFIG, "--weights", str(bad), "--images",
         cityscapes_tree[1][0][1], "--out", str(tmp_path / "out"), "--opts"] + opts,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    # one paragraph, no Python traceback (weights.py quotes the first line of
    # mxnet's own message, which is "Traceback (most recent call last):")
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(bad) in proc.stderr and "not an mxnet parameter file" in proc.stderr
    assert not os.path.exists(tmp_path / "out")  # nothing created on an error
