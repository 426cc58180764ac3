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


# ---------------------------------------------------------------------------
# Parameters are matched by name; structural changes are refused
# ---------------------------------------------------------------------------
def toy_prefixed(cfg, prefixes, seed=0, widths=(4, 1), extra=False):
    """The toy network with explicit layer prefixes: gluon's Trainer orders the
    parameters by these names, so other prefixes give other state positions."""
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(widths[0], in_units=3, prefix=prefixes[0]),
            gluon.nn.BatchNorm(in_channels=widths[0], prefix=prefixes[1]),
            gluon.nn.Dense(widths[1], in_units=widths[0], prefix=prefixes[2]))
    if extra:
        net.add(gluon.nn.Dense(1, in_units=widths[1], prefix="zz_"))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), build_optimizer(cfg, net.collect_params()))
    return net, trainer


def test_optimizer_state_is_matched_by_name_not_position(tmp_path):
    cfg = make_cfg()
    net, trainer = toy_prefixed(cfg, ("a_", "b_", "c_"))
    for _ in range(2):
        step(net, trainer)
    path = save(tmp_path, cfg, 2, net, trainer)
    straight = [step(net, trainer) for _ in range(4)]
    manifest = ckpt.verify_checkpoint(path)
    assert [n for n, _ in manifest["parameters"]][:2] == ["0.bias", "0.weight"]

    # same structure, reversed prefixes: the Trainer's positions of layer 0 and 2 swap
    net2, trainer2 = toy_prefixed(cfg, ("c_", "b_", "a_"), seed=99)
    assert [p.name for p in trainer2._params][:2] == ["a_bias", "a_weight"]  # layer 2 first
    ckpt.load_checkpoint(path, cfg, net2, trainer2)
    resumed = [step(net2, trainer2) for _ in range(4)]
    np.testing.assert_allclose(resumed, straight, rtol=1e-6)


@pytest.mark.parametrize("widths, extra, expected", [
    ((4, 2), False, ["2.weight: checkpoint shape (1, 4), network shape (2, 4)",
                     "2.bias: checkpoint shape (1,), network shape (2,)"]),
    ((4, 1), True, ["2 in the network, not in the checkpoint: 3.weight, 3.bias"]),
])
def test_a_structural_change_is_refused_listing_every_difference(tmp_path, widths, extra,
                                                                 expected):
    cfg = make_cfg()
    net, trainer = toy_prefixed(cfg, ("a_", "b_", "c_"))
    step(net, trainer)
    path = save(tmp_path, cfg, 1, net, trainer)
    other, other_trainer = toy_prefixed(cfg, ("a_", "b_", "c_"), seed=5, widths=widths,
                                        extra=extra)
    before = {k: p.data().asnumpy().copy() for k, p in other.collect_params().items()}
    with pytest.raises(ckpt.CheckpointMismatchError) as info:
        ckpt.load_checkpoint(path, cfg, other, other_trainer)
    message = str(info.value)
    assert "iter_00000001" in message and "do not fit the network" in message
    for line in expected:
        assert line in message, message
    # nothing was loaded
    for k, p in other.collect_params().items():
        np.testing.assert_array_equal(p.data().asnumpy(), before[k])
    # the optimizer state is refused by name too (when asked directly)
    with pytest.raises(ckpt.CheckpointMismatchError, match="optimizer state does not fit"):
        ckpt.load_trainer_states(path, other_trainer, other)


def test_norm_is_a_compatibility_key(tmp_path):
    cfg = make_cfg("MODEL.NORM", "bn")
    net, trainer = toy(cfg)
    path = save(tmp_path, cfg, 1, net, trainer)
    with pytest.raises(ckpt.CheckpointMismatchError,
                       match="MODEL.NORM: checkpoint 'bn', current config 'syncbn'"):
        ckpt.load_checkpoint(path, make_cfg("MODEL.NORM", "syncbn"), net, trainer)
    # checkpoints made before MODEL.NORM was a compatibility key: read from the saved config
    manifest_path = os.path.join(path, "manifest.json")
    manifest = json.load(open(manifest_path))
    del manifest["compat"]["MODEL.NORM"]
    del manifest["parameters"]  # ... and before the manifest listed the parameters
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    ckpt.load_checkpoint(path, cfg, net, trainer)
    with pytest.raises(ckpt.CheckpointMismatchError, match="MODEL.NORM: checkpoint 'bn'"):
        ckpt.load_checkpoint(path, make_cfg("MODEL.NORM", "syncbn"), net, trainer)


# ---------------------------------------------------------------------------
# One run per directory
# ---------------------------------------------------------------------------
def test_a_second_lock_on_a_run_directory_names_it_and_the_holder(tmp_path):
    out = str(tmp_path / "run")
    with ckpt.RunLock(out):
        with pytest.raises(ckpt.RunDirectoryLocked) as info:
            ckpt.RunLock(out).acquire()
        message = str(info.value)
        assert out in message and "pid %d" % os.getpid() in message
        assert "another training run" in message
        assert ckpt.lock_holder(out)["pid"] == os.getpid()
        with pytest.raises(ckpt.RunDirectoryLocked):
            ckpt.check_lock_free(out)
    assert ckpt.lock_holder(out) is None
    ckpt.RunLock(out).acquire().release()
    # other ranks of a distributed run lock their own file
    with ckpt.RunLock(out, rank=0), ckpt.RunLock(out, rank=1):
        pass


def test_the_lock_of_a_killed_run_is_free(tmp_path):
    import signal
    import subprocess
    import sys

    out = str(tmp_path / "run")
    code = ("import sys, time\nfrom ssap_gluon.training.checkpoint import RunLock\n"
            "lock = RunLock(sys.argv[1]).acquire()\nprint('locked', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, out], stdout=subprocess.PIPE,
                            text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ckpt.RunDirectoryLocked, match="pid %d" % proc.pid):
            ckpt.RunLock(out).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert ckpt.lock_holder(out) is None
    ckpt.RunLock(out).acquire().release()


def test_output_dir_that_is_a_file_is_a_config_error(tmp_path):
    from ssap_gluon.config import ConfigError

    path = tmp_path / "out"
    path.write_text("not a directory")
    with pytest.raises(ConfigError, match="TRAIN.OUTPUT_DIR: .*out exists and is not a directory"):
        ckpt.check_output_dir(str(path))
    with pytest.raises(ConfigError, match="cannot be created"):
        ckpt.check_output_dir(str(path / "sub"))
    assert ckpt.check_output_dir(str(tmp_path / "new" / "run")) == str(tmp_path / "new" / "run")
