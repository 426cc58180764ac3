"""Run the experiments behind a paper table and collect our numbers per row.

Where a table runs (:class:`Setting`):

* **cityscapes** -- ``$CITYSCAPES_DATASET`` is set (or ``--dataset
  cityscapes``): every row's config is the paper's setting under
  ``configs/tables/``; models are trained with the paper's schedule (GPUs);
* **synthcity** -- the embedded default: the same rows with
  ``configs/synthcity_tables.yaml`` laid over them (SynthCity data, ResNet-18,
  a short schedule); inference tables evaluate the shipped model
  ``models/synthcity_r18``. Numbers are not comparable with the paper's; the
  shape of each result is what a reader checks.

Everything a table makes lives under ``output/reproduction/<mode>/``:
``runs/<row>/`` (one training run per distinct training config; a finished run
whose config matches is reused, an unfinished one resumed),
``table<N>/<row>/`` (predictions in the official formats + ``metrics.json``;
frames already written are not predicted again) and ``table<N>.md`` /
``table<N>.json``.
"""
import json
import os
import time
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..utils.io import write_json_atomic

__all__ = ["Setting", "make_setting", "row_config", "training_signature", "ensure_trained",
           "infer_rows", "SHIPPED_WEIGHTS", "SHIPPED_CONFIG", "EMBEDDED_OVERLAY"]

EMBEDDED_OVERLAY = os.path.join("configs", "synthcity_tables.yaml")
SHIPPED_DIR = os.path.join("models", "synthcity_r18")
SHIPPED_WEIGHTS = os.path.join(SHIPPED_DIR, "model_fp16.params")
SHIPPED_CONFIG = os.path.join(SHIPPED_DIR, "config.yaml")
MODEL_CONFIGS = {"r50": "r50.yaml", "r101": "r101.yaml", "coco_r101": "coco_r101.yaml"}

#: Keys that do not change what a training run learns: two runs that differ only
#: here are the same experiment (the second one reuses the first).
TRAINING_IGNORED = ("NAME", "TRAIN.OUTPUT_DIR", "TRAIN.LOG_PERIOD", "TRAIN.CHECKPOINT_PERIOD",
                    "TRAIN.KEEP_CHECKPOINTS", "TRAIN.EVAL_PERIOD", "TRAIN.VALIDATE_AT_END",
                    "TRAIN.VAL_MAX_IMAGES", "TRAIN.DEVICES", "DATASET.ROOT", "DATALOADER.",
                    "TEST.")

#: --smoke: the whole pipeline on tiny sizes (the test suite runs every table so)
SMOKE_TRAIN_OPTS = ["MODEL.DECODER_CHANNELS", "16", "MODEL.HEAD_CHANNELS", "8",
                    "INPUT.CROP_SIZE", "[64, 128]", "SOLVER.MAX_ITER", "1", "SOLVER.STEPS", "[]",
                    "SOLVER.IMS_PER_BATCH", "2", "TRAIN.CHECKPOINT_PERIOD", "1",
                    "DATALOADER.NUM_WORKERS", "0", "TRAIN.DEVICES", "cpu",
                    # an untrained network's thousands of specks: keep only large ones
                    "TEST.MIN_INSTANCE_AREA", "256"]
SMOKE_FRAMES = 1


@dataclass
class Setting:
    repo: str
    mode: str                      # "cityscapes" | "synthcity"
    out: str                       # output/reproduction/<mode>
    smoke: bool = False
    opts: List[str] = field(default_factory=list)
    weights: Optional[str] = None  # the model of inference tables (default: see model_weights)
    max_frames: int = 0
    progress: bool = True

    @property
    def embedded(self):
        return self.mode == "synthcity"

    def path(self, *parts):
        return os.path.join(self.repo, *parts)


def make_setting(repo, dataset="auto", out=None, smoke=False, opts=(), weights=None,
                 max_frames=0, progress=True):
    """``dataset``: ``"auto"`` (Cityscapes when ``$CITYSCAPES_DATASET`` is set, else
    the embedded default), ``"cityscapes"`` or ``"synthcity"``."""
    if dataset == "auto":
        dataset = "cityscapes" if os.environ.get("CITYSCAPES_DATASET") else "synthcity"
    if dataset not in ("cityscapes", "synthcity"):
        raise ValueError("dataset must be auto, cityscapes or synthcity, got %r" % dataset)
    repo = os.path.abspath(repo)
    out = os.path.abspath(out or os.path.join(repo, "output", "reproduction"))
    frames = max_frames or (SMOKE_FRAMES if smoke else 0)
    return Setting(repo, dataset, os.path.join(out, dataset + ("_smoke" if smoke else "")),
                   smoke, list(opts), weights, frames, progress)


# ---------------------------------------------------------------- configs
def row_config(setting, stem, kind="train"):
    """The config of table row ``stem`` in this setting (frozen)."""
    from ..config import load_config

    path = setting.path("configs", "tables", stem + ".yaml")
    overlays = [setting.path(EMBEDDED_OVERLAY)] if setting.embedded else []
    opts = list(SMOKE_TRAIN_OPTS) if setting.smoke and kind == "train" else []
    opts += ["TRAIN.OUTPUT_DIR", os.path.join(setting.out, "runs", stem)]
    return load_config(path, opts + list(setting.opts), overlays=overlays)


def model_config(setting, model):
    """The config of an inference table's model (``r50``, ``r101``, ``coco_r101``)."""
    from ..config import load_config

    if setting.embedded:  # the shipped model's config (its training copy is in SHIPPED_DIR)
        return load_config(setting.path("configs", "synthcity_r18.yaml"), list(setting.opts))
    return load_config(setting.path("configs", MODEL_CONFIGS[model]),
                       ["TRAIN.OUTPUT_DIR", os.path.join(setting.out, "runs", model)]
                       + list(setting.opts))


def training_signature(cfg):
    """``{key: value}`` of every config key that changes what training learns."""
    from ..config import config_to_dict

    flat = {}

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                flat[prefix + k] = v

    walk(config_to_dict(cfg), "")
    return {k: json.loads(json.dumps(v)) for k, v in flat.items()
            if not any(k == p or (p.endswith(".") and k.startswith(p)) for p in TRAINING_IGNORED)}


def _saved_signature(run_dir):
    """The training signature of a run directory's ``config.yaml`` (None if absent)."""
    from ..config import ConfigError, load_config

    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        return None
    try:
        return training_signature(load_config(path))
    except ConfigError:
        return None


def find_finished_run(setting, cfg):
    """``model_final.params`` of a finished run (under ``out/runs``) trained with
    the same training config as ``cfg``, or None."""
    want = training_signature(cfg)
    root = os.path.join(setting.out, "runs")
    if not os.path.isdir(root):
        return None
    for name in sorted(os.listdir(root)):
        run = os.path.join(root, name)
        final = os.path.join(run, "model_final.params")
        if os.path.isfile(final) and _saved_signature(run) == want:
            return final
    return None


def ensure_trained(setting, cfg, log=print):
    """The weights of ``cfg``'s model: a finished matching run, else train it
    (resuming its own run directory if a run was interrupted)."""
    from ..training import SSAPTrainer

    found = find_finished_run(setting, cfg)
    if found:
        log("  reusing %s" % os.path.relpath(found, setting.repo))
        return found
    log("  training %s -> %s (%d iterations)"
        % (cfg.NAME, os.path.relpath(cfg.TRAIN.OUTPUT_DIR, setting.repo), cfg.SOLVER.MAX_ITER))
    summary = SSAPTrainer(cfg, resume="auto", progress=setting.progress).train()
    return summary["final_weights"]


def model_weights(setting, model, log=print):
    """The weights an inference table evaluates: ``--weights``, the shipped
    SynthCity model (embedded default, its checksum checked) or the paper
    model's run (trained if absent)."""
    if setting.weights:
        return os.path.abspath(setting.weights)
    if setting.embedded:
        from .shipped import verify_shipped

        return verify_shipped(setting.repo)
    return ensure_trained(setting, model_config(setting, model), log)


# ---------------------------------------------------------------- inference rows
def _run_info(cfg, dataset, weights_file, weights_sha):
    from ..evaluation.runner import _prediction_config, dataset_kind

    return {"format": 1, "mode": "network", "dataset": dataset_kind(cfg, dataset),
            "root": dataset.root, "split": dataset.split, "weights_sha256": weights_sha,
            "random_init": False, "oracle_strides": None, "config": _prediction_config(cfg)}


def _load_net(cfg, weights, ctx):
    from ..inference.weights import load_weights
    from ..model import build_model

    net = build_model(cfg, num_devices=1, ctx=ctx)
    load_weights(net, weights, ctx)
    if cfg.TRAIN.HYBRIDIZE:
        net.hybridize(static_alloc=True)
    return net


def _object_area(instance):
    """Mean area (pixels) of the frame's ground-truth instances (Fig. 5's x axis)."""
    ids, counts = np.unique(instance[instance > 0], return_counts=True)
    return float(counts.mean()) if ids.size else 0.0


def infer_rows(setting, table_dir, rows, weights, semantic_weights=None, split="val",
               panels=0, log=print):
    """Predict and score several rows that share one model.

    ``rows``: ``[(name, cfg)]`` -- same MODEL/INPUT/AFFINITY, other ``TEST.*``.
    Per frame the network runs once for every pass (scale, flip) some row needs;
    each row averages its own passes and runs its own cascade. With
    ``semantic_weights`` a second, semantic-only network gives the semantic
    scores (Table 3 "w/o JL"). ``panels``: Fig. 6 panels of the first N frames
    of the row whose cascade starts at 1/16 (the paper's setting, whose
    proposals from 1/16 and 1/8 Fig. 6 shows), else of the first row.
    Returns ``{name: metrics}`` (``metrics.json`` of each row's directory).
    """
    from ..data import build_dataset
    from ..evaluation.frame_outputs import (frame_done, remove_temporaries,
                                            write_frame_outputs)
    from ..evaluation.runner import _check_run_file, score_outputs
    from ..inference.predictor import Predictor
    from ..inference.pyramid import Pyramid
    from ..inference.test_time import average_pyramids, pass_pyramids, passes_of
    from ..inference.weights import file_sha256, resolve_weights
    from ..training.devices import parse_devices

    base = rows[0][1]
    dataset = build_dataset(base, split, is_train=False)
    total = len(dataset)
    n = total if setting.max_frames <= 0 else min(setting.max_frames, total)
    stems = [dataset.name(i) for i in range(n)]
    weights = resolve_weights(weights)
    sha = file_sha256(weights)
    if semantic_weights:
        semantic_weights = resolve_weights(semantic_weights)
        sha = sha + "+" + file_sha256(semantic_weights)
    dirs, todo = {}, {}
    for name, cfg in rows:
        out = os.path.join(table_dir, name)
        os.makedirs(out, exist_ok=True)
        _check_run_file(out, _run_info(cfg, dataset, weights, sha), force=False)
        remove_temporaries(out)
        dirs[name] = out
        todo[name] = {s for s in stems if not frame_done(out, s)}
    ctx = parse_devices(base.TRAIN.DEVICES)[0]
    predictors = {name: Predictor(cfg, None, ctx, dataset.thing_train_ids, dataset.label_ids)
                  for name, cfg in rows}
    row_passes = {name: passes_of(cfg) for name, cfg in rows}
    frames = [i for i, s in enumerate(stems) if any(s in t for t in todo.values())]
    panel_row = next((name for name, cfg in rows if cfg.TEST.CASCADE_INIT_STRIDE == 16),
                     rows[0][0])
    started = time.perf_counter()
    if frames:
        net = _load_net(base, weights, ctx)
        sem_net = None
        if semantic_weights:
            from ..config import load_config

            sem_cfg = load_config(os.path.join(os.path.dirname(semantic_weights),
                                               "config.yaml"))
            sem_net = _load_net(sem_cfg, semantic_weights, ctx)
        from tqdm import tqdm

        for i in tqdm(frames, desc="table rows", unit="frame", disable=not setting.progress):
            stem = stems[i]
            image, _, instance = dataset.load(i)
            need = [name for name, _ in rows if stem in todo[name]]
            passes = []
            for name in need:
                passes += [p for p in row_passes[name] if p not in passes]
            per_pass, seconds, geometry = {}, {}, None
            for p in passes:
                t0 = time.perf_counter()
                one, geometry = pass_pyramids(net, image, base, ctx, [p])
                if sem_net is not None:  # semantic from the semantic-only network
                    sem, _ = pass_pyramids(sem_net, image, base, ctx, [p])
                    one = {p: Pyramid(one[p].strides, sem[p].semantic, one[p].affinity)}
                per_pass.update(one)
                seconds[p] = time.perf_counter() - t0
            for name in need:
                pyramid = average_pyramids(per_pass[p] for p in row_passes[name])
                network = sum(seconds[p] for p in row_passes[name])
                frame = predictors[name].from_pyramid(pyramid, geometry, network)
                write_frame_outputs(
                    dirs[name], stem, frame.instances, dataset.label_ids,
                    record={"network_seconds": network, "gp_seconds": frame.gp_seconds,
                            "assemble_seconds": frame.assemble_seconds,
                            "cascade_timings": dict(frame.cascade.timings),
                            "num_nodes": {str(k): v for k, v in frame.cascade.num_nodes.items()},
                            "mean_object_area": _object_area(instance)})
                if panels and name == panel_row and i < panels:
                    _write_panel(setting, table_dir, dataset, i, image, frame)
    predict_start = started
    results = {}
    for name, cfg in rows:
        log("  scoring %s" % name)
        results[name] = score_outputs(cfg, dataset, dirs[name], stems, split, total,
                                      os.path.join(setting.out, "gt_cache"),
                                      _run_info(cfg, dataset, weights, sha), weights,
                                      started=started, predict_start=predict_start,
                                      frames_predicted=len(todo[name]))
    return results


def _write_panel(setting, table_dir, dataset, index, image, frame):
    """Fig. 6 and Fig. 7 panels of one frame under ``table_dir/figures``."""
    from ..inference.panels import (fig6_from_prediction, fig7_panel, ground_truth_instances,
                                    write_panel)

    _, _, instance = dataset.load(index)
    panel, info = fig6_from_prediction(image, frame, frame.geometry,
                                       ground_truth_instances(instance))
    stem = dataset.name(index)
    write_panel(os.path.join(table_dir, "figures", "fig6_%s.png" % stem), panel)
    label_ids = np.asarray(dataset.label_ids)[frame.instances.semantic]
    write_panel(os.path.join(table_dir, "figures", "fig7_%s.png" % stem),
                fig7_panel(image, label_ids, frame.instances.instance_map,
                           info["instance_keys"]))


def write_table_files(setting, number, payload, markdown):
    """``table<N>.json`` and ``table<N>.md`` under the setting's output root."""
    os.makedirs(setting.out, exist_ok=True)
    write_json_atomic(os.path.join(setting.out, "table%d.json" % number), payload)
    from ..utils.io import atomic_write

    with atomic_write(os.path.join(setting.out, "table%d.md" % number), "w") as f:
        f.write(markdown)
