"""A whole split through inference and the official evaluators (``scripts/test.py``).

:func:`run_split` predicts every frame of a split (the network, or the ground
truth itself with ``oracle=True``), writes each frame in the official formats
(:mod:`~ssap_gluon.evaluation.frame_outputs`), then scores the written files
with cityscapesScripts (AP, PQ, mIoU; COCO: PQ) and writes ``DIR/metrics.json``.

* **Overlap.** The network runs one frame after another in the calling
  thread; the graph partition of frame *i* (pure numpy + the compiled solver,
  which releases the GIL) runs in a worker thread while the network runs on
  frame *i + 1*. Everything that touches mxnet (the network, the full-resolution
  semantic map of the assembly step) stays in the calling thread.
* **Resumable.** A frame whose record and files exist is not redone
  (``force=True`` redoes every frame). ``DIR/run.json`` records what the
  predictions were made with (mode, dataset, the prediction-relevant config,
  the weights' SHA-256); a resumed run with other settings is refused.
  ``DIR/.lock`` keeps two runs from writing one directory.
* **Nothing outside DIR** (and the ground-truth cache) is written; every file
  is written atomically.
"""
import contextlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..utils.io import write_json_atomic
from ._official import EvaluationError, check_name
from .cityscapes_instance import AP_DISTANCE_REASON
from .frame_outputs import (FRAMES_DIR, INSTANCE_DIR, PANOPTIC_DIR, SEMANTIC_DIR, OutputFormat,
                            frame_done, panoptic_annotations, read_frame_record,
                            remove_temporaries, write_frame_outputs)

__all__ = ["RunError", "run_split", "ORACLE_STRIDES", "RUN_FILE", "METRICS_FILE",
           "PREDICTION_KEYS", "dataset_kind"]

#: Pyramid levels of the oracle: full resolution up, so instance masks can be exact.
ORACLE_STRIDES = (1, 2, 4, 8, 16, 32, 64)
RUN_FILE, METRICS_FILE, LOCK_FILE = "run.json", "metrics.json", ".lock"
GT_CACHE_DIR, OFFICIAL_DIR, SUBMISSION_DIR = "gt_cache", "official", "submission"
#: Config sections that change predictions: a resumed run must agree on them
#: (TEST.NUM_THREADS excepted: it changes speed, not results).
PREDICTION_KEYS = ("DATASET", "INPUT", "MODEL", "AFFINITY", "TEST")
NOT_SCORED_TEST = ("the Cityscapes test ground truth is withheld: scores come from the benchmark "
                   "server (submit the archive under submission/ at "
                   "https://www.cityscapes-dataset.com/submit/)")
AP_COCO_REASON = ("not applicable: COCO instance annotations overlap and SSAP is evaluated on "
                  "COCO panoptic only (paper Sec. 4 'Results on COCO', Table 9)")
MIOU_COCO_REASON = ("not computed: the paper reports no COCO mIoU and cityscapesScripts' pixel "
                    "evaluator is bound to the Cityscapes label table")


class RunError(EvaluationError):
    """The run cannot go on as asked (a user error: the message says what to do)."""


# ---------------------------------------------------------------- small helpers
def dataset_kind(cfg, dataset):
    """``"Cityscapes"``, ``"SynthCity"``, ``"COCO panoptic"`` or ``"SynthCity in
    COCO panoptic format"`` (a ``coco_convert`` copy of SynthCity)."""
    if cfg.DATASET.NAME == "coco_panoptic":
        source = getattr(dataset, "source_root", None)
        if source and os.path.isfile(os.path.join(source, "synthcity_manifest.json")):
            return "SynthCity in COCO panoptic format"
        return "COCO panoptic"
    if os.path.isfile(os.path.join(dataset.root, "synthcity_manifest.json")):
        return "SynthCity"
    return "Cityscapes"


def _prediction_config(cfg):
    from ..config import config_to_dict

    full = config_to_dict(cfg)
    out = {k: full[k] for k in PREDICTION_KEYS if k in full}
    out["TEST"] = {k: v for k, v in out["TEST"].items() if k != "NUM_THREADS"}
    return out


def _stats_ms(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    ms = np.asarray(values, np.float64) * 1000.0
    return {"mean": float(ms.mean()), "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)), "frames": int(ms.size)}


@contextlib.contextmanager
def _directory_lock(out_dir):
    import fcntl

    path = os.path.join(out_dir, LOCK_FILE)
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunError("%s is in use by another scripts/test.py run (lock %s); wait for it or "
                           "choose another --out" % (out_dir, path)) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _check_run_file(out_dir, run_info, force):
    """Refuse to mix predictions of different runs in one directory."""
    path = os.path.join(out_dir, RUN_FILE)
    if os.path.isfile(path) and not force:
        try:
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
        except ValueError:
            old = {}
        differ = [k for k in sorted(set(old) | set(run_info)) if old.get(k) != run_info.get(k)]
        if differ:
            details = []
            for k in differ:
                if k == "config":
                    a, b = old.get(k) or {}, run_info[k]
                    keys = ["%s.%s" % (s, n) for s in sorted(set(a) | set(b))
                            for n in sorted(set(a.get(s, {})) | set(b.get(s, {})))
                            if a.get(s, {}).get(n) != b.get(s, {}).get(n)]
                    details.append("config keys %s" % ", ".join(keys[:6]))
                else:
                    details.append("%s (%r there, %r now)" % (k, old.get(k), run_info.get(k)))
            raise RunError("%s holds predictions made with other settings: %s differ. Use --force "
                           "to redo every frame there, or choose another --out"
                           % (out_dir, "; ".join(details)))
    if force and os.path.isdir(os.path.join(out_dir, FRAMES_DIR)):
        # every frame is redone: a run killed from here on resumes with the new settings
        shutil.rmtree(os.path.join(out_dir, FRAMES_DIR))
    write_json_atomic(path, run_info)


# ---------------------------------------------------------------- prediction
def _timed_partition(predictor, pyramid):
    start = time.perf_counter()
    result = predictor.partition(pyramid)
    return result, time.perf_counter() - start


def _predict(predictor, dataset, indices, out_dir, fmt, oracle, progress):
    """Predict and write ``indices``; the GP of a frame overlaps the next network pass."""
    from tqdm import tqdm

    from ..inference.oracle import oracle_pyramid

    transform = dataset.transform
    bar = tqdm(total=len(indices), desc="test %s" % dataset.split, unit="frame",
               disable=not progress, dynamic_ncols=True)

    def finish(item):
        index, future, pyramid, geometry, times = item
        result, gp_seconds = future.result()
        start = time.perf_counter()
        frame = predictor.assemble(result, pyramid, geometry)
        times.update(gp_seconds=gp_seconds, assemble_seconds=time.perf_counter() - start)
        start = time.perf_counter()
        image_id = dataset.records[index].image_id if fmt.dataset == "coco_panoptic" else None
        write_frame_outputs(out_dir, dataset.name(index), frame, dataset.label_ids,
                            record=times, fmt=fmt, image_id=image_id)
        bar.set_postfix(gp_ms="%.0f" % (1000 * gp_seconds), refresh=False)
        bar.update(1)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssap-gp")
    pending = None
    try:
        for index in indices:
            start = time.perf_counter()
            if oracle:
                image, semantic, instance = dataset.load(index)
                geometry = transform.geometry(image.shape[0], image.shape[1])
                pyramid = oracle_pyramid(semantic, instance, ORACLE_STRIDES, predictor.window,
                                         dataset.num_classes, dataset.thing_train_ids, geometry,
                                         dataset.ignore_label)
                times = {"network_seconds": None, "oracle_seconds": time.perf_counter() - start}
            else:
                image = dataset.load_image(index)
                pyramid, geometry, seconds = predictor.network(image)
                times = {"network_seconds": seconds}
            future = pool.submit(_timed_partition, predictor, pyramid)
            if pending is not None:
                finish(pending)
            pending = (index, future, pyramid, geometry, times)
        if pending is not None:
            finish(pending)
            pending = None
    finally:
        pool.shutdown(wait=True)
        bar.close()


def _make_predictor(cfg, dataset, oracle, weights, ctx):
    from ..inference.predictor import Predictor

    if oracle:
        predictor = Predictor(cfg, None, None, dataset.thing_train_ids, dataset.label_ids)
        # the cascade uses every oracle level; its first level stays TEST.CASCADE_INIT_STRIDE
        predictor.options["affinity_strides"] = list(ORACLE_STRIDES)
        return predictor
    return Predictor.from_config(cfg, weights=weights, dataset=dataset, ctx=ctx)


# ---------------------------------------------------------------- evaluation
def _evaluate_cityscapes(dataset, out_dir, stems, gt_cache):
    from .cityscapes_instance import evaluate_instances
    from .cityscapes_panoptic import evaluate_panoptic, write_panoptic_json
    from .cityscapes_semantic import evaluate_semantic

    official = os.path.join(out_dir, OFFICIAL_DIR)
    pan_json = os.path.join(out_dir, "panoptic.json")
    write_panoptic_json(pan_json, panoptic_annotations(out_dir, stems))
    instance = evaluate_instances(dataset.root, dataset.split, os.path.join(out_dir, INSTANCE_DIR),
                                  names=stems, gt_cache=gt_cache,
                                  export_json=os.path.join(official, "instance.json"))
    semantic = evaluate_semantic(dataset.root, dataset.split, os.path.join(out_dir, SEMANTIC_DIR),
                                 names=stems,
                                 export_json=os.path.join(official, "semantic.json"))
    panoptic = evaluate_panoptic(dataset.root, dataset.split, pan_json,
                                 os.path.join(out_dir, PANOPTIC_DIR), names=stems,
                                 gt_cache=gt_cache)
    write_json_atomic(os.path.join(official, "panoptic.json"), panoptic)
    return instance, semantic, panoptic


def _evaluate_coco(dataset, out_dir, stems, indices):
    from .coco_panoptic import coco_categories, evaluate_coco_panoptic
    from .cityscapes_panoptic import write_panoptic_json

    pan_json = os.path.join(out_dir, "panoptic.json")
    write_panoptic_json(pan_json, panoptic_annotations(out_dir, stems),
                        categories=coco_categories(dataset.json_path))
    image_ids = [dataset.records[i].image_id for i in indices]
    panoptic = evaluate_coco_panoptic(dataset.json_path, dataset.panoptic_dir, pan_json,
                                      os.path.join(out_dir, PANOPTIC_DIR), image_ids=image_ids)
    write_json_atomic(os.path.join(out_dir, OFFICIAL_DIR, "panoptic.json"), panoptic)
    return panoptic


def _summary(instance, semantic, panoptic):
    out = {}
    if instance is not None:
        out.update(AP=instance["AP"], AP50=instance["AP50"], AP50m=None, AP100m=None)
    if panoptic is not None:
        for metric in ("PQ", "SQ", "RQ"):
            out[metric] = panoptic[metric]
            out[metric + "_Th"] = panoptic[metric + "_things"]
            out[metric + "_St"] = panoptic[metric + "_stuff"]
    if semantic is not None:
        out["mIoU"] = semantic["mIoU"]
    return out


# ---------------------------------------------------------------- the run
def run_split(cfg, out_dir, split="val", weights=None, random_init=False, oracle=False,
              force=False, max_frames=0, gt_cache=None, ctx=None, progress=True):
    """Predict and score one split; returns the metrics dictionary (also in
    ``out_dir/metrics.json``). See the module docstring and docs/EVALUATION.md.

    ``split``: ``"val"`` or ``"test"`` (``DATASET.VAL_SPLIT`` / ``TEST_SPLIT``).
    Exactly one of ``weights`` (a ``.params`` file or checkpoint directory),
    ``random_init`` (an untrained network: timing only) and ``oracle`` (ground
    truth instead of the network). ``max_frames``: the first N frames only.
    ``gt_cache``: folder for the converted ground truth (default ``out_dir/gt_cache``).
    """
    from ..data import build_dataset
    from ..inference.weights import file_sha256, resolve_weights

    started = time.perf_counter()
    if int(bool(weights)) + int(bool(random_init)) + int(bool(oracle)) != 1:
        raise RunError("give exactly one of --weights FILE, --random-init and --oracle")
    if split not in ("val", "test"):
        raise RunError("--split must be 'val' or 'test', got %r" % (split,))
    out_dir = os.path.abspath(os.path.expanduser(os.fspath(out_dir)))
    gt_cache = os.path.abspath(os.path.expanduser(gt_cache)) if gt_cache else \
        os.path.join(out_dir, GT_CACHE_DIR)
    weights_file = resolve_weights(weights) if weights else None

    dataset = build_dataset(cfg, split, is_train=False)
    kind = dataset_kind(cfg, dataset)
    fmt = OutputFormat.for_dataset(dataset)
    if cfg.DATASET.NAME == "coco_panoptic" and split == "test":
        raise RunError("--split test is the Cityscapes benchmark server's split; COCO test-dev "
                       "submissions are not supported (score COCO with --split val)")
    if oracle and not dataset.with_labels:
        raise RunError("--oracle needs ground truth, and split %r of %s has none (the Cityscapes "
                       "test labels are withheld)" % (dataset.split, dataset.root))
    total = len(dataset)
    n = total if max_frames <= 0 else min(int(max_frames), total)
    indices = list(range(n))
    stems = [check_name(dataset.name(i)) for i in indices]
    if len(set(stems)) != len(stems):
        raise RunError("frame names of %s are not unique (predictions are files named by frame)"
                       % dataset.root)

    os.makedirs(out_dir, exist_ok=True)
    with _directory_lock(out_dir):
        weights_sha = file_sha256(weights_file) if weights_file else None
        run_info = {"format": 1, "mode": "oracle" if oracle else "network",
                    "dataset": kind, "root": dataset.root, "split": dataset.split,
                    "weights_sha256": weights_sha, "random_init": bool(random_init),
                    "oracle_strides": list(ORACLE_STRIDES) if oracle else None,
                    "config": _prediction_config(cfg)}
        _check_run_file(out_dir, run_info, force)
        remove_temporaries(out_dir)
        # results of an earlier run must not outlive a run that stops before its own
        for stale in [METRICS_FILE] + ["table%d.md" % t for t in (8, 9, 10)]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(out_dir, stale))
        todo = [i for i, s in zip(indices, stems) if not frame_done(out_dir, s)]
        predict_start = time.perf_counter()
        if todo:
            predictor = _make_predictor(cfg, dataset, oracle, weights_file, ctx)
            _predict(predictor, dataset, todo, out_dir, fmt, oracle, progress)
        return score_outputs(cfg, dataset, out_dir, stems, split, total, gt_cache, run_info,
                             weights_file, random_init, started, predict_start,
                             frames_predicted=len(todo))


def score_outputs(cfg, dataset, out_dir, stems, split, total, gt_cache, run_info,
                  weights_file=None, random_init=False, started=None, predict_start=None,
                  frames_predicted=0):
    """Score the frames ``stems`` written under ``out_dir`` (the frame_outputs
    layout), write ``out_dir/metrics.json`` and return the metrics. ``run_info``:
    what the predictions were made with (``run.json``). :func:`run_split` calls
    it; the table scripts too, after writing several directories from one
    network pass per frame."""
    now = time.perf_counter()
    started = now if started is None else started
    predict_start = now if predict_start is None else predict_start
    n = len(stems)
    kind = run_info["dataset"]
    oracle = run_info["mode"] == "oracle"
    weights_sha = run_info.get("weights_sha256")
    scored = split == "val"
    indices = list(range(n))  # the first n frames of the split: stems[i] is frame i
    records = [read_frame_record(out_dir, s) for s in stems]
    evaluate_start = time.perf_counter()

    instance = semantic = panoptic = None
    null_reasons = {}
    submission = None
    if scored and cfg.DATASET.NAME == "coco_panoptic":
        panoptic = _evaluate_coco(dataset, out_dir, stems, indices)
        null_reasons.update(AP=AP_COCO_REASON, AP50=AP_COCO_REASON, mIoU=MIOU_COCO_REASON)
    elif scored:
        instance, semantic, panoptic = _evaluate_cityscapes(dataset, out_dir, stems, gt_cache)
        null_reasons.update(AP50m=AP_DISTANCE_REASON, AP100m=AP_DISTANCE_REASON)
    else:
        from .submission import write_submission

        for key in ("AP", "AP50", "AP50m", "AP100m", "PQ", "mIoU"):
            null_reasons[key] = NOT_SCORED_TEST
        submission = write_submission(out_dir, stems, total,
                                      os.path.join(out_dir, SUBMISSION_DIR))
    metrics = {
        "format": 1,
        "dataset": {"kind": kind, "name": cfg.DATASET.NAME, "root": dataset.root,
                    "split": dataset.split, "frames": n, "frames_in_split": total},
        "mode": run_info["mode"],
        "oracle": ({"pyramid_strides": list(ORACLE_STRIDES),
                    "cascade_affinity_strides": list(ORACLE_STRIDES),
                    "cascade_init_stride": int(cfg.TEST.CASCADE_INIT_STRIDE)}
                   if oracle else None),
        "weights": ({"path": weights_file, "sha256": weights_sha} if weights_file else None),
        "random_init": bool(random_init),
        "backbone": cfg.MODEL.BACKBONE,
    }
    metrics.update({k: None for k in ("AP", "AP50", "AP50m", "AP100m", "PQ", "SQ", "RQ",
                                       "PQ_Th", "SQ_Th", "RQ_Th", "PQ_St", "SQ_St", "RQ_St",
                                       "mIoU")})
    metrics.update(_summary(instance, semantic, panoptic))
    metrics["null_reasons"] = {k: v for k, v in null_reasons.items() if metrics.get(k) is None}
    metrics["instance"], metrics["panoptic"], metrics["semantic"] = instance, panoptic, semantic
    metrics["submission"] = submission
    metrics["config"] = _config_dump(cfg)
    metrics["timing"] = {
        "network_ms": _stats_ms([r.get("network_seconds") for r in records]),
        "gp_ms": _stats_ms([r.get("gp_seconds") for r in records]),
        "assemble_ms": _stats_ms([r.get("assemble_seconds") for r in records]),
        "oracle_pyramid_ms": _stats_ms([r.get("oracle_seconds") for r in records]),
        "frames_predicted_now": frames_predicted, "frames_resumed": n - frames_predicted,
        "predict_seconds": evaluate_start - predict_start,
        "evaluate_seconds": time.perf_counter() - evaluate_start,
        "wall_seconds": time.perf_counter() - started,
        "note": ("per-frame wall times; the GP of a frame runs while the network runs on "
                 "the next one, so both are measured under that overlap"),
    }
    write_json_atomic(os.path.join(out_dir, METRICS_FILE), metrics)
    return metrics


def _config_dump(cfg):
    from ..config import config_to_dict

    return config_to_dict(cfg)
