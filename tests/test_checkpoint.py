"""Checkpoints: atomic directories, manifest checks, corrupt/mismatched handling,
retention, RNG state round trips, exact continuation of a toy optimisation."""
import json
import os
import random

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from ssap_gluon.config import load_config
from ssap_gluon.training import checkpoint as ckpt
from ssap_gluon.training.optim import build_optimizer


def make_cfg(*opts):
    return load_config(None, ["SOLVER.STEPS", [3], "SOLVER.BASE_LR", 0.01] + list(opts))


def toy(cfg, seed=0):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(4, in_units=3), gluon.nn.BatchNorm(in_channels=4),
            gluon.nn.Dense(1, in_units=4))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), build_optimizer(cfg, net.collect_params()))
    return net, trainer


X = mx.nd.array(np.linspace(-1, 1, 24).reshape(8, 3))
Y = mx.nd.array(np.linspace(0, 2, 8).reshape(8, 1))


def step(net, trainer):
    with autograd.record():
        loss = ((net(X) - Y) ** 2).mean()
    loss.backward()
    trainer.step(1)
    return float(loss.asscalar())


def save(tmp_path, cfg, iteration, net, trainer, extra=None):
    return ckpt.save_checkpoint(str(tmp_path), iteration, net, trainer, cfg,
                                dict({"rng": ckpt.capture_rng_state()}, **(extra or {})))


def test_save_layout_and_manifest(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    step(net, trainer)
    path = save(tmp_path, cfg, 5, net, trainer, {"epoch": 2})
    assert path == os.path.join(str(tmp_path), "checkpoints", "iter_00000005")
    assert sorted(os.listdir(path)) == ["config.yaml", "manifest.json", "model.params",
                                        "state.json", "trainer.states"]
    manifest = ckpt.verify_checkpoint(path)
    assert manifest["iteration"] == 5
    assert manifest["config_hash"] == ckpt.config_hash(cfg)
    assert manifest["compat"]["MODEL.BACKBONE"] == cfg.MODEL.BACKBONE
    for name in ("model.params", "trainer.states", "state.json", "config.yaml"):
        info = manifest["files"][name]
        assert info["bytes"] == os.path.getsize(os.path.join(path, name))
    state = json.load(open(os.path.join(path, "state.json")))
    assert state["iteration"] == 5 and state["epoch"] == 2
    # no temporary left behind
    assert os.listdir(os.path.join(str(tmp_path), "checkpoints")) == ["iter_00000005"]


def test_resumed_optimisation_continues_exactly(tmp_path):
    """Weights + optimizer state (Nadam's moments, m_schedule, lr scheduler position)
    round-trip: the resumed losses equal the uninterrupted ones."""
    cfg = make_cfg()
    net, trainer = toy(cfg)
    for _ in range(2):
        step(net, trainer)
    path = save(tmp_path, cfg, 2, net, trainer)
    straight = [step(net, trainer) for _ in range(4)]  # crosses the lr step at 3

    net2, trainer2 = toy(cfg, seed=99)  # different init: everything must come from disk
    state, manifest, other = ckpt.load_checkpoint(path, cfg, net2, trainer2)
    assert state["iteration"] == 2 and other == []
    resumed = [step(net2, trainer2) for _ in range(4)]
    np.testing.assert_allclose(resumed, straight, rtol=1e-6)
    assert trainer2.learning_rate == pytest.approx(trainer.learning_rate)
    assert trainer2.learning_rate == pytest.approx(0.001)


def corrupt_byte(path, offset=100):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def test_corrupt_files_are_detected_and_named(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 1, net, trainer)
    corrupt_byte(os.path.join(path, "model.params"))
    with pytest.raises(ckpt.CheckpointError, match=r"iter_00000001.*SHA-256 of model.params"):
        ckpt.verify_checkpoint(path)

    path2 = save(tmp_path, cfg, 2, net, trainer)
    with open(os.path.join(path2, "trainer.states"), "ab") as f:
        f.write(b"x")
    with pytest.raises(ckpt.CheckpointError, match=r"trainer.states has \d+ bytes"):
        ckpt.verify_checkpoint(path2)

    path3 = save(tmp_path, cfg, 3, net, trainer)
    os.remove(os.path.join(path3, "manifest.json"))
    with pytest.raises(ckpt.CheckpointError, match="incomplete: no manifest.json"):
        ckpt.verify_checkpoint(path3)

    path4 = save(tmp_path, cfg, 4, net, trainer)
    with open(os.path.join(path4, "manifest.json"), "w") as f:
        f.write('{"format": 1, "iter')
    with pytest.raises(ckpt.CheckpointError, match="not valid JSON"):
        ckpt.verify_checkpoint(path4)

    with pytest.raises(ckpt.CheckpointError, match="checkpoint not found"):
        ckpt.verify_checkpoint(os.path.join(str(tmp_path), "nope"))


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[p] = open(p, "rb").read()
    return out


def test_auto_resume_skips_a_corrupt_newest_and_leaves_it(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    save(tmp_path, cfg, 2, net, trainer)
    newest = save(tmp_path, cfg, 4, net, trainer)
    corrupt_byte(os.path.join(newest, "trainer.states"), 10)
    before = _tree(str(tmp_path))
    warnings = []
    path = ckpt.find_resume_checkpoint(str(tmp_path), cfg, warn=warnings.append)
    assert path.endswith("iter_00000002")
    assert len(warnings) == 1 and "iter_00000004" in warnings[0]
    assert _tree(str(tmp_path)) == before  # nothing deleted or rewritten


def test_auto_resume_without_checkpoints_and_with_only_corrupt_ones(tmp_path):
    cfg = make_cfg()
    assert ckpt.find_resume_checkpoint(str(tmp_path), cfg, warn=lambda m: None) is None
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 1, net, trainer)
    os.remove(os.path.join(path, "state.json"))
    with pytest.raises(ckpt.CheckpointError, match="(?s)no valid checkpoint.*state.json is missing"):
        ckpt.find_resume_checkpoint(str(tmp_path), cfg, warn=lambda m: None)


def test_incompatible_config_is_refused_with_the_keys(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 3, net, trainer)
    before = _tree(str(tmp_path))
    other = make_cfg("MODEL.HEAD_CHANNELS", 64, "SOLVER.NADAM_SCHEDULE", "per_step")
    with pytest.raises(ckpt.CheckpointMismatchError) as info:
        ckpt.load_checkpoint(path, other, net, trainer)
    message = str(info.value)
    assert "iter_00000003" in message
    assert "MODEL.HEAD_CHANNELS: checkpoint 128, current config 64" in message
    assert "SOLVER.NADAM_SCHEDULE: checkpoint 'mxnet', current config 'per_step'" in message
    # auto resume refuses too (no silent fallback past a valid checkpoint)
    with pytest.raises(ckpt.CheckpointMismatchError):
        ckpt.find_resume_checkpoint(str(tmp_path), other)
    assert _tree(str(tmp_path)) == before


def test_harmless_differences_are_reported_not_refused(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 3, net, trainer)
    changed = make_cfg("LOSS.FOCAL_GAMMA", 0.0, "SOLVER.MAX_ITER", 99,
                       "TRAIN.OUTPUT_DIR", "elsewhere")
    _, _, other = ckpt.load_checkpoint(path, changed)
    assert other == ["LOSS.FOCAL_GAMMA"]


def test_weights_that_do_not_fit_the_network(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 1, net, trainer)
    small = gluon.nn.Dense(1, in_units=3)
    small.initialize()
    with pytest.raises(ckpt.CheckpointMismatchError, match="do not fit the network"):
        ckpt.load_checkpoint(path, cfg, small)


def test_retention_keeps_the_newest_valid(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    for it in (1, 2, 3, 4):
        save(tmp_path, cfg, it, net, trainer)
    bad = os.path.join(ckpt.checkpoint_dir(str(tmp_path)), "iter_00000004")
    corrupt_byte(os.path.join(bad, "model.params"))
    removed = ckpt.prune_checkpoints(str(tmp_path), keep=2)
    assert [os.path.basename(p) for p in removed] == ["iter_00000001"]
    left = [os.path.basename(p) for _, p in ckpt.list_checkpoints(str(tmp_path))]
    assert left == ["iter_00000002", "iter_00000003", "iter_00000004"]  # corrupt one kept


def test_failed_save_leaves_no_partial_directory(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    good = save(tmp_path, cfg, 1, net, trainer)

    class Broken:
        def save_states(self, fname):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(str(tmp_path), 2, net, Broken(), cfg, {})
    assert os.listdir(ckpt.checkpoint_dir(str(tmp_path))) == ["iter_00000001"]
    ckpt.verify_checkpoint(good)


def test_leftovers_of_a_killed_save_are_removed(tmp_path):
    root = ckpt.checkpoint_dir(str(tmp_path))
    os.makedirs(os.path.join(root, ".iter_00000007.tmp-1234"))
    os.makedirs(os.path.join(root, "unrelated"))
    removed = ckpt.remove_stale_temporaries(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == [".iter_00000007.tmp-1234"]
    assert os.listdir(root) == ["unrelated"]


def test_saving_the_same_iteration_replaces_it(tmp_path):
    cfg = make_cfg()
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 2, net, trainer)
    corrupt_byte(os.path.join(path, "model.params"))
    save(tmp_path, cfg, 2, net, trainer)
    ckpt.verify_checkpoint(path)


def test_rng_state_round_trip_through_json():
    gen = np.random.default_rng(5)
    random.seed(1)
    np.random.seed(2)
    state = json.loads(json.dumps(ckpt.capture_rng_state(gen)))
    first = (gen.random(3).tolist(), random.random(), np.random.rand())
    gen.random(10)
    random.random()
    np.random.rand(4)
    ckpt.restore_rng_state(state, gen)
    assert (gen.random(3).tolist(), random.random(), np.random.rand()) == first
