"""One paper table: run what it needs (:mod:`.engine`), set our numbers beside
the paper's, write ``table<N>.md`` / ``table<N>.json`` (``scripts/reproduce.py``).
"""
import datetime
import os
import platform

from .engine import (infer_rows, model_config, model_weights, row_config, ensure_trained,
                     write_table_files)
from .paper import paper_table
from .tables import table_spec

__all__ = ["run_table", "format_table", "PERCENT_METRICS"]

#: metrics reported in percent (ours are fractions); the rest as they are
PERCENT_METRICS = ("AP", "AP50", "PQ", "SQ", "RQ", "PQ_Th", "SQ_Th", "RQ_Th", "PQ_St", "SQ_St",
                   "RQ_St", "mIoU", "PQ_val")


def _ours(metrics, keys):
    """Our values of ``keys`` in the paper's units (percent, seconds)."""
    out = {}
    for key in keys:
        if key == "gp_time_s":
            gp = (metrics.get("timing") or {}).get("gp_ms")
            out[key] = None if not gp else gp["mean"] / 1000.0
        elif key == "PQ_val":
            out[key] = None if metrics.get("PQ") is None else 100.0 * metrics["PQ"]
        else:
            v = metrics.get(key)
            out[key] = None if v is None else (100.0 * v if key in PERCENT_METRICS else v)
    return out


def _inference_row_config(setting, stem, model_cfg):
    """An inference row: the model's config with the row's ``TEST`` section."""
    row = row_config(setting, stem, kind="inference")
    cfg = model_cfg.clone()
    cfg.defrost()
    cfg.TEST = row.TEST.clone()
    cfg.freeze()
    return cfg


def _semantic_only(setting, cfg, weights, table_dir):
    """Table 2, r = 0: the semantic mIoU of a semantic-only model."""
    from ..inference.weights import load_weights
    from ..model import build_model
    from ..training.devices import parse_devices
    from ..training.validate import evaluate_semantic_miou

    ctx = parse_devices(cfg.TRAIN.DEVICES)[0]
    net = build_model(cfg, num_devices=1, ctx=ctx)
    load_weights(net, weights, ctx)
    out = os.path.join(table_dir, cfg.NAME)
    result = evaluate_semantic_miou(net, cfg, ctx, out, max_images=setting.max_frames)
    return {"mIoU": result["mIoU"], "semantic": result,
            "dataset": {"frames": result["num_images"]}}


def _train_table(spec, setting, table_dir, log):
    results = {}
    for row in spec.rows:
        cfg = row_config(setting, row.config)
        log("row %s" % row.config)
        weights = ensure_trained(setting, cfg, log)
        if cfg.MODEL.TASKS == "semantic":
            results[row.config] = _semantic_only(setting, cfg, weights, table_dir)
            continue
        sem_weights = None
        if row.semantic_config:
            sem_weights = ensure_trained(setting, row_config(setting, row.semantic_config), log)
        results.update(infer_rows(setting, table_dir, [(row.config, cfg)], weights,
                                  semantic_weights=sem_weights, log=log))
    return results


def _inference_table(spec, setting, table_dir, log, panels=0):
    results, groups = {}, {}
    for row in spec.rows:
        if setting.embedded and not row.embedded:
            results[row.config] = {"skipped": "the embedded default has no %s model"
                                   % (row.model or spec.model)}
            continue
        groups.setdefault(row.model or spec.model, []).append(row)
    for model, rows in groups.items():
        model_cfg = model_config(setting, model)
        weights = model_weights(setting, model, log)
        log("model %s: %s" % (model, os.path.relpath(weights, setting.repo)))
        cfgs = [(r.config, _inference_row_config(setting, r.config, model_cfg)) for r in rows]
        results.update(infer_rows(setting, table_dir, cfgs, weights, panels=panels, log=log))
    return results


def _single_run(spec, setting, table_dir, log, split="val", coco=False):
    """Tables 8-10: one model through ``scripts/test.py``'s run."""
    from ..evaluation.runner import run_split

    row = spec.rows[0] if spec.rows else None
    model = (row.model if row and row.model else spec.model)
    model_cfg = model_config(setting, model)
    weights = model_weights(setting, model, log)
    cfg = _inference_row_config(setting, row.config, model_cfg) if row else model_cfg
    if coco and setting.embedded:
        cfg = _coco_copy_config(setting, cfg, log)
    out = os.path.join(table_dir, "run_%s" % split)
    return run_split(cfg, out, split=split, weights=weights, max_frames=setting.max_frames,
                     gt_cache=os.path.join(setting.out, "gt_cache"), progress=setting.progress)


def _coco_copy_config(setting, cfg, log):
    """The embedded default's val split written in COCO panoptic format (once),
    and ``cfg`` pointed at it (Table 9 on SynthCity)."""
    from ..data.coco_convert import convert_to_coco_panoptic

    root = os.path.join(setting.out, "synthcity_coco")
    marker = os.path.join(root, "annotations", "panoptic_val2017.json")
    if not os.path.isfile(marker):
        log("writing SynthCity val in COCO panoptic format -> %s"
            % os.path.relpath(root, setting.repo))
        from ..data.base import resolve_root

        convert_to_coco_panoptic(resolve_root(cfg.DATASET.ROOT, "CITYSCAPES_DATASET"),
                                 cfg.DATASET.VAL_SPLIT, root)
    coco = cfg.clone()
    coco.defrost()
    coco.DATASET.NAME = "coco_panoptic"
    coco.DATASET.ROOT = root
    coco.DATASET.VAL_SPLIT = "val"
    coco.freeze()
    return coco


def run_table(number, setting, log=print):
    """Run Table ``number`` in ``setting``; returns ``(payload, markdown)`` (also
    written as ``table<N>.json`` / ``.md`` under ``setting.out``)."""
    spec, paper = table_spec(number), paper_table(number)
    table_dir = os.path.join(setting.out, "table%d" % number)
    started = datetime.datetime.now()
    if spec.kind == "train":
        results = _train_table(spec, setting, table_dir, log)
    elif spec.kind == "inference":
        results = _inference_table(spec, setting, table_dir, log,
                                   panels=3 if number == 4 else 0)
    else:
        split = "test" if spec.kind == "server" else "val"
        results = {"single": _single_run(spec, setting, table_dir, log, split=split,
                                         coco=spec.kind == "coco")}
    payload = _payload(spec, paper, setting, results, started)
    extras = []
    if number == 4:
        from .figures import fig5

        figure = fig5(setting, table_dir, results)
        if figure:
            payload["figures"] = {"fig5": figure}
            extras.append("Fig. 5 (GP time vs object size): %s"
                          % os.path.relpath(figure, setting.repo))
        if setting.embedded:
            scale = cityscapes_scale_gp(setting, table_dir, log)
            payload["cityscapes_scale_gp"] = scale
            extras.append(format_scale_gp(scale))
    markdown = format_table(spec, paper, payload, results, extras)
    write_table_files(setting, number, payload, markdown)
    return payload, markdown


def cityscapes_scale_gp(setting, table_dir, log):
    """GP time per frame at the paper's scale (1024x2048 frames: graphs of
    256x512 at 1/4) from ``scripts/bench_cascade.py`` on noisy ground-truth
    pyramids of SynthCity layouts -- SynthCity's own frames are 256x512, so the
    GP column above is not at the paper's scale."""
    import json
    import subprocess
    import sys

    from ..config import load_config

    root = load_config(setting.path("configs", "synthcity_r18.yaml"),
                       list(setting.opts)).DATASET.ROOT
    out = os.path.join(table_dir, "bench_cascade.json")
    cmd = [sys.executable, setting.path("scripts", "bench_cascade.py"), "--json", out,
           "--synthcity-root", root, "--fig5-instances", "0"]
    cmd += ["--smoke"] if setting.smoke else ["--frames", "4", "--repeats", "3"]
    log("GP time at the paper's scale: %s" % " ".join(os.path.relpath(c, setting.repo)
                                                      if c.startswith(setting.repo) else c
                                                      for c in cmd[1:]))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=setting.repo)
    with open(out, encoding="utf-8") as f:
        data = json.load(f)
    first = data["input_sets"][0]
    return {"command": "python scripts/bench_cascade.py " + " ".join(cmd[2:]).replace(
                setting.repo + os.sep, ""),
            "input": first["name"], "input_shape": first["input_shape"],
            "graph_shape": first["graph_shape"], "frames": len(first["frames"]),
            "smoke": setting.smoke,
            "sigma": data["config"]["sigma"],
            "rows": {r["init_stride"]: {k: r["one_core_sr"][k] for k in ("median_ms",
                                                                          "cpu_median_ms")}
                     for r in first["rows"]},
            "speedup_16_over_4": first["speedup"]["ours"], "paper_speedup": first["speedup"]
            ["paper"], "load_average_after": data["machine"].get("load_average_after")}


def format_scale_gp(scale):
    shape = "x".join(map(str, scale["input_shape"]))
    lines = ["GP time at %s (%s frames, graphs of %s at 1/4) on noisy ground truth (sigma "
             "%.1f, %d SynthCity layouts, not the network), one core with SR, from `%s`:"
             % ("small sizes (--smoke)" if scale["smoke"] else "the paper's scale", shape,
                "x".join(map(str, scale["graph_shape"])), scale["sigma"], scale["frames"],
                scale["command"]), "",
             "| Init. Res. | GP time (s) paper | ours, wall (s) | ours, CPU (s) |",
             "|---|---|---|---|"]
    paper = {4: 1.26, 8: 0.33, 16: 0.26, 32: 0.26, 64: 0.26}
    for init, row in sorted(scale["rows"].items(), key=lambda kv: int(kv[0])):
        lines.append("| 1/%s | %.2f | %.3f | %.3f |" % (init, paper[int(init)],
                                                       row["median_ms"] / 1000.0,
                                                       row["cpu_median_ms"] / 1000.0))
    lines.append("")
    lines.append("Speed-up of init 1/16 over 1/4: ours %.1fx, the paper's %.1fx."
                 % (scale["speedup_16_over_4"], scale["paper_speedup"]))
    return "\n".join(lines)


def _payload(spec, paper, setting, results, started):
    rows = []
    single = results.get("single")
    for i, paper_row in enumerate(paper.rows):
        if spec.kind in ("train", "inference"):
            row = spec.rows[i]
            metrics = results.get(row.config, {})
            rows.append({"config": row.config, "paper": paper_row,
                         "ours": None if "skipped" in metrics else _ours(metrics, spec.metrics),
                         "skipped": metrics.get("skipped")})
        else:
            rows.append({"paper": paper_row})
    any_metrics = next((m for m in results.values() if "dataset" in m and "skipped" not in m),
                       {})
    dataset = any_metrics.get("dataset", {})
    return {
        "table": spec.number, "kind": spec.kind, "mode": setting.mode, "smoke": setting.smoke,
        "dataset": dataset, "rows": rows,
        "ours": _ours(single, spec.metrics + ("AP50",)) if single else None,
        "ours_metrics_file": (os.path.join(setting.out, "table%d" % spec.number)
                              if single else None),
        "paper_caption": paper.caption, "paper_dataset": paper.dataset,
        "notes": list(spec.notes),
        "date": started.strftime("%Y-%m-%d %H:%M"),
        "machine": "%s, %d cores" % (platform.machine(), os.cpu_count() or 1),
    }


def _fmt(value, key):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "✓" if value else ""
    if key == "gp_time_s":
        return "%.3f" % value
    if isinstance(value, float):
        return "%.1f" % value
    return str(value)


def format_table(spec, paper, payload, results, extras=()):
    """The paper's layout with, per metric, the paper's number, ours and the difference."""
    from ..evaluation.report import comparison_markdown

    lines = ["# Table %d: %s" % (spec.number, paper.caption), ""]
    d = payload["dataset"] or {}
    if payload["mode"] == "synthcity":
        lines.append("**Ours: the embedded default (SynthCity%s, ResNet-18, short schedules); "
                     "the paper: %s. The numbers are not comparable; the shape of each result "
                     "is what is checked.**" % (", %s frames" % d["frames"] if d.get("frames")
                                                else "", paper.dataset))
    else:
        lines.append("Ours: Cityscapes (%s frames); the paper: %s."
                     % (d.get("frames", "?"), paper.dataset))
    if payload["smoke"]:
        lines.append("")
        lines.append("**--smoke: tiny models and 1 frame -- a check that the pipeline runs, "
                     "not a result.**")
    lines.append("")
    if spec.kind in ("comparison", "coco", "server"):
        single = results["single"]
        _, text = comparison_markdown(single)
        lines.append(text)
    else:
        label_keys = [k for k in paper.keys if k not in spec.metrics]
        titles = [paper.title(k) for k in label_keys]
        for key in spec.metrics:
            name = paper.title(key)
            titles += ["%s paper" % name, "%s ours" % name, "Δ"]
        lines.append("| " + " | ".join(titles) + " |")
        lines.append("|" + "|".join("---" for _ in titles) + "|")
        for row in payload["rows"]:
            cells = [_fmt(row["paper"][k], k) for k in label_keys]
            ours = row["ours"] or {}
            for key in spec.metrics:
                p, o = row["paper"].get(key), ours.get(key)
                cells += [_fmt(p, key), "n/a" if row["skipped"] else _fmt(o, key),
                          "" if p is None or o is None else
                          ("%+.3f" if key == "gp_time_s" else "%+.1f") % (o - p)]
            lines.append("| " + " | ".join(cells) + " |")
        skipped = [r for r in payload["rows"] if r["skipped"]]
        for row in skipped:
            lines.append("")
            lines.append("n/a (%s): %s." % (row["config"], row["skipped"]))
    for note in list(payload["notes"]) + list(extras):
        lines.append("")
        lines.append(note)
    lines.append("")
    lines.append("Generated by `bash scripts/reproduce_table%d.sh` on %s (%s)."
                 % (spec.number, payload["date"], payload["machine"]))
    return "\n".join(lines) + "\n"
