#!/usr/bin/env python
"""Benchmark the cascaded graph partition: GP time per frame at Cityscapes scale.

The paper's "GP time" (Table 4) is the wall time of the cascaded graph
partition of one frame, from the probability pyramid to the 1/4 instance
labels. Here it is :func:`ssap_gluon.partition.cascaded_partition`'s wall time
at 1024x2048 input (graphs of 256x512 pixels at 1/4, levels 1/4 .. 1/64,
5x5 window, ``gaec+kl``), on noisy oracle pyramids
(``clip(ground-truth affinity + N(0, sigma))``, one-hot semantics; fixed
seed), for every initial stride, each

* on one core (the process pinned to one CPU, ``num_threads=1``), with and
  without segmentation refinement (SR), and
* on all cores (no pinning, ``num_threads = cpu count``), with SR,

interleaved (every repeat visits frames, init strides and settings in a new
seeded order) so machine load hits all alike. Input sets:

(a) SynthCity val frames, labels upscaled x4 (nearest) to 1024x2048;
(b) the real Cityscapes sample frame (128x256), labels upscaled x8; skipped
    with a note when the sample is absent.

Per set it prints init stride -> median GP ms (one core SR / no SR, all
cores SR), nodes per level, the stage breakdown at init 1/16, the paper's
Table 4 GP times beside ours, our 1/4-vs-1/16 speed-up beside the paper's
5x, the goal line (<= 50 ms per frame at init 1/16 with SR on one core:
PASS/FAIL) and Fig. 5-style data: GP time against object size, per frame
(mean object area) and per instance (each instance alone in its frame,
bucketed by area), at init 1/4 and 1/16.

    python scripts/bench_cascade.py [--json PATH] [--figure PNG] [--repeats 3] [--frames 8]
                                    [--sigma 0.2] [--smoke]

Timings depend on machine load: the JSON records the CPU model and the load
average before, during and after the run. docs/BENCH_CASCADE.md holds a
measured report.
"""
import argparse
import gc
import os
import platform
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, REPO)

from ssap_gluon.inference.oracle import noisy_pyramid, oracle_pyramid  # noqa: E402
from ssap_gluon.partition import cascaded_partition  # noqa: E402
from ssap_gluon.utils.io import write_json_atomic  # noqa: E402

STRIDES = (4, 8, 16, 32, 64)
WINDOW = 5
#: Full-scale input: the paper's Cityscapes frames.
INPUT_SHAPE = (1024, 2048)
#: --smoke input: a quarter of the side, graphs of 64x128 at 1/4.
SMOKE_INPUT_SHAPE = (256, 512)
#: Paper Table 4: GP time (s) per image by init stride, on the paper's hardware.
PAPER_GP_SECONDS = {4: 1.26, 8: 0.33, 16: 0.26, 32: 0.26, 64: 0.26}
PAPER_SPEEDUP = 5.0
GOAL_INIT_STRIDE = 16
GOAL_MS = 50.0
#: The three timed settings: (key, label, one core?, segmentation refinement?)
SETTINGS = (("one_core_sr", "1 core SR", True, True),
            ("one_core_no_sr", "1 core no SR", True, False),
            ("all_cores_sr", "all cores SR", False, True))
STAGES = ("graph", "solve", "proposals", "refine")
#: Fig. 5 settings: one core with SR, at these init strides.
FIG5_INIT_STRIDES = (4, 16)
#: --soft-semantics: logit margin of the ground-truth class over N(0, 1) noise.
SOFT_MARGIN = 6.0
#: Per-instance area buckets, in input pixels (1024x2048 frame): lower edges.
AREA_EDGES = (0, 1000, 4000, 16000, 64000, 256000)
DEFAULT_SYNTHCITY = os.path.join(REPO, "data", "synthcity")
DEFAULT_CITYSCAPES = os.environ.get(
    "SSAP_CITYSCAPES_SAMPLE", os.path.join(REPO, "..", "shared", "data", "cityscapes_sample"))


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
class Frame:
    """One frame's noisy oracle pyramid and what Fig. 5 needs of its labels."""

    def __init__(self, name, semantic, instance, num_classes, thing_classes, sigma, rng,
                 soft=False):
        self.name = name
        self.shape = semantic.shape
        pyramid = oracle_pyramid(semantic, instance, STRIDES, WINDOW, num_classes, thing_classes)
        self.pyramid = noisy_pyramid(pyramid, sigma, rng)
        if soft:
            self.pyramid = self.pyramid.map(lambda p: soft_semantics(p, rng), None)
        self.num_classes = num_classes
        ids, areas = np.unique(instance[instance > 0], return_counts=True)
        self.instance_ids = ids
        self.instance_areas = areas  # input pixels
        # instance id per pixel of every level (level pixel i = input pixel s*i)
        self.level_instances = [np.ascontiguousarray(instance[::s, ::s]) for s in STRIDES]
        self.thing_pixels = int(np.isin(semantic, thing_classes).sum())

    @property
    def num_instances(self):
        return int(self.instance_ids.size)

    @property
    def mean_object_area(self):
        return float(self.instance_areas.mean()) if self.instance_areas.size else 0.0

    def alone(self, instance_id):
        """Semantic levels in which every thing pixel outside ``instance_id`` is
        class 0 (a stuff class): the frame as if the instance were alone in it.
        Affinities stay: pairs to a non-thing pixel are no graph edges."""
        levels = []
        for sem, ins in zip(self.pyramid.semantic, self.level_instances):
            sem = sem.copy()
            other = (ins != instance_id) & (ins != 0)
            sem[:, other] = 0.0
            sem[0, other] = 1.0
            levels.append(sem)
        return levels


def soft_semantics(onehot, rng, margin=SOFT_MARGIN):
    """``softmax(margin * one-hot + N(0, 1))`` per pixel (float32): every class
    gets a probability > 0, as from a network's softmax, and the argmax stays
    the ground truth's (void pixels, all-zero oracle columns, stay class 0).
    One-hot oracles make Eq. 6-8 nearly free (D_JS of two one-hot columns
    costs two logarithms, of softmax columns 2c); this input does not."""
    z = margin * onehot.astype(np.float64) + rng.normal(0.0, 1.0, onehot.shape)
    z[0] += margin * (onehot.sum(axis=0) == 0)
    z -= z.max(axis=0, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=0, keepdims=True)
    return z.astype(np.float32)


def _upscale(array, factor):
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1) if factor > 1 else array


def _factor(shape, target):
    fy, fx = target[0] / shape[0], target[1] / shape[1]
    if fy != fx or fy != int(fy) or fy < 1:
        raise SystemExit("labels of %dx%d cannot be upscaled by an integer factor to %dx%d"
                         % (shape + target))
    return int(fy)


def load_frames(root, count, target_shape, sigma, seed, offset, soft=False):
    """``count`` val frames of the dataset at ``root`` (evenly spread over the
    split, in name order), labels upscaled to ``target_shape``. Returns
    ``(frames, factor, source_shape)``."""
    from ssap_gluon.data import CityscapesInstances

    dataset = CityscapesInstances(root, "val")
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round()
                      .astype(int))
    frames, factor, source = [], None, None
    for k, index in enumerate(picks):
        semantic, instance = dataset.load_labels(int(index))
        source = semantic.shape
        factor = _factor(semantic.shape, target_shape)
        rng = np.random.default_rng([seed, offset, k])
        frames.append(Frame(dataset.name(int(index)), _upscale(semantic, factor),
                            _upscale(instance, factor), dataset.num_classes,
                            dataset.thing_train_ids, sigma, rng, soft))
    return frames, factor, source, list(dataset.thing_train_ids)


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------
class Cores:
    """Switches the calling thread between one pinned CPU and all allowed CPUs
    (threads the cascade starts inherit the setting)."""

    def __init__(self, cpu=None):
        self.all = sorted(os.sched_getaffinity(0))
        self.one = self.all[-1] if cpu is None else int(cpu)
        if self.one not in self.all:
            raise SystemExit("--cpu %d is not one of the allowed CPUs %s" % (self.one, self.all))

    def set(self, one_core):
        os.sched_setaffinity(0, {self.one} if one_core else set(self.all))
        return 1 if one_core else len(self.all)


#: TEST.REFINEMENT_SEED of every run (--refinement-seed)
REFINEMENT_SEED = ["proposals"]


def run_cascade(cores, semantic, affinity, thing_classes, init_stride, one_core, refinement):
    """One timed cascade: ``(wall seconds, CPU seconds, CascadeResult)``. The
    process's CPU time (all threads) is what the run cost whatever else the
    machine was doing; the wall time is the GP time."""
    threads = cores.set(one_core)
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    result = cascaded_partition(semantic, affinity, STRIDES, WINDOW, thing_classes,
                                init_stride=init_stride, refinement=refinement,
                                num_threads=threads, refinement_seed=REFINEMENT_SEED[0])
    return time.perf_counter() - start, time.process_time() - cpu, result


def _stats(seconds):
    ms = np.asarray(seconds, float) * 1e3
    return {"median_ms": float(np.median(ms)), "best_ms": float(ms.min()),
            "mean_ms": float(ms.mean()), "samples": int(ms.size)}


def _frame_median_stats(per_frame):
    """Median over frames of each frame's median over repeats (and the best
    sample of each frame, median over frames)."""
    med = [float(np.median(s)) * 1e3 for s in per_frame]
    best = [float(np.min(s)) * 1e3 for s in per_frame]
    return {"median_ms": float(np.median(med)), "best_ms": float(np.median(best)),
            "mean_ms": float(np.mean(med)), "frame_median_ms": med, "frame_best_ms": best}


def bench_set(frames, thing_classes, init_strides, repeats, cores, seed, loads):
    """Time every (frame, init stride, setting) ``repeats`` times, interleaved.
    Returns per-setting samples and per-run records."""
    jobs = [(f, s, key) for f in range(len(frames)) for s in init_strides
            for key, _, _, _ in SETTINGS]
    flags = {key: (one, sr) for key, _, one, sr in SETTINGS}
    samples = {job: [] for job in jobs}
    cpu = {job: [] for job in jobs}
    timings = {job: [] for job in jobs}
    nodes, found = {}, {}
    # warm-up (imports, first-touch of the pyramid, thread pool code paths)
    for key, _, one, sr in SETTINGS:
        run_cascade(cores, frames[0].pyramid.semantic, frames[0].pyramid.affinity,
                    thing_classes, init_strides[-1], one, sr)
    order_rng = np.random.default_rng(seed)
    for _ in range(repeats):
        for j in order_rng.permutation(len(jobs)):
            f, s, key = jobs[j]
            one, sr = flags[key]
            frame = frames[f]
            seconds, cpu_seconds, result = run_cascade(
                cores, frame.pyramid.semantic, frame.pyramid.affinity, thing_classes, s, one, sr)
            samples[jobs[j]].append(seconds)
            cpu[jobs[j]].append(cpu_seconds)
            timings[jobs[j]].append(dict(result.timings))
            nodes[(f, s, sr)] = {str(k): int(v) for k, v in result.num_nodes.items()}
            found[(f, s, sr)] = result.num_instances
        loads.append(os.getloadavg())
    cores.set(False)
    return samples, cpu, timings, nodes, found


def summarize_set(frames, init_strides, samples, cpu, timings, nodes, found):
    rows = []
    for s in init_strides:
        row = {"init_stride": s}
        for key, _, _, sr in SETTINGS:
            row[key] = _frame_median_stats([samples[(f, s, key)] for f in range(len(frames))])
            cpu_stats = _frame_median_stats([cpu[(f, s, key)] for f in range(len(frames))])
            row[key]["cpu_median_ms"] = cpu_stats["median_ms"]
            row[key]["cpu_best_ms"] = cpu_stats["best_ms"]
        per_level = {}
        for f in range(len(frames)):
            for level, n in nodes[(f, s, True)].items():
                per_level.setdefault(level, []).append(n)
        row["nodes"] = {k: float(np.mean(v)) for k, v in per_level.items()}
        row["segments"] = float(np.mean([found[(f, s, True)] for f in range(len(frames))]))
        rows.append(row)
    breakdown = {}
    if GOAL_INIT_STRIDE in init_strides:
        for key, _, _, _ in SETTINGS:
            entries = [t for f in range(len(frames))
                       for t in timings[(f, GOAL_INIT_STRIDE, key)]]
            stage = {}
            for name in STAGES + ("total",):
                stage[name + "_ms"] = float(np.median([t.get(name, 0.0) for t in entries])) * 1e3
            stage["other_ms"] = float(np.median(
                [t["total"] - sum(t.get(n, 0.0) for n in STAGES) for t in entries])) * 1e3
            breakdown[key] = stage
    return rows, breakdown


def fig5_frames(frames, samples):
    """Per frame: mean object area and GP ms (one core SR) at the Fig. 5 strides."""
    out = []
    for f, frame in enumerate(frames):
        entry = {"frame": frame.name, "mean_object_area": frame.mean_object_area,
                 "instances": frame.num_instances, "thing_pixels": frame.thing_pixels}
        for s in FIG5_INIT_STRIDES:
            key = (f, s, "one_core_sr")
            if key in samples:
                entry["gp_ms_init%d" % s] = float(np.median(samples[key])) * 1e3
        out.append(entry)
    return out


def fig5_instances(frames, thing_classes, repeats, cores, seed, limit, loads):
    """Each instance alone in its frame: GP ms (one core, SR) at init 1/4 and
    1/16 against its area; interleaved like the main run."""
    items = [(f, int(i), int(a)) for f, frame in enumerate(frames)
             for i, a in zip(frame.instance_ids, frame.instance_areas)]
    if limit is not None and len(items) > limit:
        # keep the spread of sizes: evenly spaced in area order
        items.sort(key=lambda x: x[2])
        items = [items[int(k)] for k in np.linspace(0, len(items) - 1, limit).round()]
    jobs = [(k, s) for k in range(len(items)) for s in FIG5_INIT_STRIDES]
    samples = {job: [] for job in jobs}
    order_rng = np.random.default_rng(seed + 1)
    for _ in range(repeats):
        for j in order_rng.permutation(len(jobs)):
            k, s = jobs[j]
            f, instance_id, _ = items[k]
            semantic = frames[f].alone(instance_id)  # rebuilt: 13 MB per instance at full scale
            seconds, _, _ = run_cascade(cores, semantic, frames[f].pyramid.affinity,
                                     thing_classes, s, True, True)
            samples[jobs[j]].append(seconds)
        loads.append(os.getloadavg())
    cores.set(False)
    points = []
    for k, (f, instance_id, area) in enumerate(items):
        point = {"frame": frames[f].name, "instance": instance_id, "area": area}
        for s in FIG5_INIT_STRIDES:
            point["gp_ms_init%d" % s] = float(np.median(samples[(k, s)])) * 1e3
        points.append(point)
    buckets = []
    edges = list(AREA_EDGES) + [None]
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = [p for p in points if p["area"] >= lo and (hi is None or p["area"] < hi)]
        if not inside:
            continue
        bucket = {"area_min": lo, "area_max": hi, "instances": len(inside),
                  "median_area": float(np.median([p["area"] for p in inside]))}
        for s in FIG5_INIT_STRIDES:
            bucket["gp_ms_init%d" % s] = float(np.median([p["gp_ms_init%d" % s]
                                                          for p in inside]))
        buckets.append(bucket)
    return {"points": points, "buckets": buckets}


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _fmt_ms(stats):
    return "%7.1f (%6.1f)" % (stats["median_ms"], stats["best_ms"])


def print_set(entry):
    print("\n=== %s: %d frame(s), %dx%d input (labels x%d), graphs of %dx%d at 1/4, %s "
          "semantics ===" % (entry["name"], len(entry["frames"]), entry["input_shape"][0],
                             entry["input_shape"][1], entry["upscale"], entry["graph_shape"][0],
                             entry["graph_shape"][1], entry["semantics"]))
    levels = [str(s) for s in sorted(STRIDES, reverse=True)] + ["refinement"]
    print("GP ms per frame: median over frames of the per-frame median over repeats "
          "(best sample in brackets; CPU: the process's CPU ms, median, the load-robust figure)")
    header = "%-5s %-16s %-8s %-16s %-16s | nodes %s | %s" % (
        "init", "1 core SR", "(CPU)", "1 core no SR", "all cores SR",
        " ".join("%6s" % ("1/" + l if l.isdigit() else "refine") for l in levels),
        "segments")
    print(header)
    for row in entry["rows"]:
        cells = " ".join("%6s" % ("%d" % round(row["nodes"][l]) if l in row["nodes"] else "-")
                         for l in levels)
        print("1/%-3d %s %8.1f %s %s | nodes %s | %6.1f" % (
            row["init_stride"], _fmt_ms(row["one_core_sr"]), row["one_core_sr"]["cpu_median_ms"],
            _fmt_ms(row["one_core_no_sr"]),
            _fmt_ms(row["all_cores_sr"]), cells, row["segments"]))
    print("(segments: instances the cascade returned, mean per frame; ground truth: %.1f "
          "instances per frame)" % np.mean([f["instances"] for f in entry["fig5"]["frames"]]))
    if entry["breakdown_init16"]:
        print("\nstage breakdown at init 1/%d, median ms (solve: summed over threads; other: "
              "input checks, label maps, renumbering)" % GOAL_INIT_STRIDE)
        print("%-14s %8s %8s %10s %8s %8s %8s" % ("setting", "graph", "solve", "proposals",
                                                  "refine", "other", "total"))
        for key, label, _, _ in SETTINGS:
            b = entry["breakdown_init16"][key]
            print("%-14s %8.1f %8.1f %10.1f %8.1f %8.1f %8.1f" % (
                label, b["graph_ms"], b["solve_ms"], b["proposals_ms"], b["refine_ms"],
                b["other_ms"], b["total_ms"]))
    print("\npaper Table 4 (GP s per image, the paper's hardware) beside ours (1 core SR):")
    print("%-5s %10s %12s %14s %14s" % ("init", "paper s", "ours ms", "paper vs 1/4",
                                        "ours vs 1/4"))
    by = {r["init_stride"]: r for r in entry["rows"]}
    for s in STRIDES:
        ours = by[s]["one_core_sr"]["median_ms"] if s in by else float("nan")
        base = by[4]["one_core_sr"]["median_ms"] if 4 in by else float("nan")
        print("1/%-3d %10.2f %12.1f %13.2fx %13.2fx" % (
            s, PAPER_GP_SECONDS[s], ours, PAPER_GP_SECONDS[4] / PAPER_GP_SECONDS[s], base / ours))
    sp = entry["speedup"]
    if sp:
        print("speed-up of init 1/16 over 1/4 (1 core SR): ours %.2fx (best samples %.2fx), "
              "paper %.2fx (1.26 s / 0.26 s; the text says %gx)"
              % (sp["ours"], sp["ours_best"], sp["paper"], PAPER_SPEEDUP))
    goal = entry["goal"]
    if goal:
        print("goal: <= %g ms per frame at init 1/%d with SR on one core: %s (median %.1f ms, "
              "best %.1f ms, CPU %.1f ms)%s" % (GOAL_MS, GOAL_INIT_STRIDE,
                                                "PASS" if goal["pass"] else "FAIL",
                                                goal["median_ms"], goal["best_ms"],
                                                goal["cpu_median_ms"],
                                   "" if goal["full_scale"] else
                                   " -- smoke scale, not the goal's 1024x2048 input"))
    fig5 = entry["fig5"]
    print("\nFig. 5 data (1 core SR): GP ms against object size")
    print("per frame: %-28s %12s %6s %12s %12s" % ("frame", "mean area", "inst.", "init 1/4",
                                                   "init 1/16"))
    for p in fig5["frames"]:
        print("           %-28s %12.0f %6d %12.1f %12.1f" % (
            p["frame"][:28], p["mean_object_area"], p["instances"],
            p.get("gp_ms_init4", float("nan")), p.get("gp_ms_init16", float("nan"))))
    inst = fig5.get("instances")
    if inst:
        print("per instance, alone in its frame (area in input pixels):")
        print("  %-18s %6s %12s %12s %12s" % ("area bucket", "inst.", "median area",
                                              "init 1/4", "init 1/16"))
        for b in inst["buckets"]:
            span = "%d-%s" % (b["area_min"], "" if b["area_max"] is None else b["area_max"])
            print("  %-18s %6d %12.0f %12.1f %12.1f" % (span, b["instances"], b["median_area"],
                                                       b["gp_ms_init4"], b["gp_ms_init16"]))


def write_figure(path, sets):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure written", file=sys.stderr)
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for entry in sets:
        inst = entry["fig5"].get("instances")
        if inst:
            pts = inst["points"]
            for s, marker in zip(FIG5_INIT_STRIDES, ("o", "s")):
                axes[0].scatter([p["area"] for p in pts], [p["gp_ms_init%d" % s] for p in pts],
                                s=12, marker=marker, alpha=0.6,
                                label="%s, init 1/%d" % (entry["name"], s))
        frames = entry["fig5"]["frames"]
        for s, marker in zip(FIG5_INIT_STRIDES, ("o", "s")):
            axes[1].scatter([p["mean_object_area"] for p in frames],
                            [p.get("gp_ms_init%d" % s, np.nan) for p in frames], s=18,
                            marker=marker, label="%s, init 1/%d" % (entry["name"], s))
    axes[0].set_xscale("log")
    axes[0].set_xlabel("instance area (pixels of the 1024x2048 input), instance alone")
    axes[0].set_ylabel("GP time (ms), 1 core, SR")
    axes[1].set_xlabel("mean object area in the frame (pixels)")
    axes[1].set_ylabel("GP time per frame (ms), 1 core, SR")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Cascaded graph partition time vs object size (cf. paper Fig. 5)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def code_version():
    """Commit and whether the files that decide the timings differ from it."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", REPO] + list(args), capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = git("status", "--porcelain", "--", "csrc", "ssap_gluon/partition",
                "ssap_gluon/inference/oracle.py")
    return {"commit": git("rev-parse", "HEAD"),
            "modified_timing_files": [line[3:] for line in dirty.splitlines()]}


def machine_info(cores):
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "allowed_cpus": cores.all,
            "one_core_cpu": cores.one, "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--figure", help="also draw the Fig. 5 data to this PNG (matplotlib)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per frame, init stride and setting (default 3; smoke 1)")
    parser.add_argument("--frames", type=int, default=None,
                        help="SynthCity val frames, evenly spread over the split (default 8; "
                             "smoke 1)")
    parser.add_argument("--sigma", type=float, default=0.2,
                        help="affinity noise: clip(affinity + N(0, sigma), 0, 1)")
    parser.add_argument("--soft-semantics", action="store_true",
                        help="softmax-like semantic maps (softmax(%g * one-hot + N(0, 1))) "
                             "instead of one-hot: what segmentation refinement (Eq. 6-8) costs "
                             "on a network's output" % SOFT_MARGIN)
    parser.add_argument("--seed", type=int, default=0, help="noise and run-order seed")
    parser.add_argument("--init-strides", default=",".join(map(str, STRIDES)),
                        help="init strides to time (default all levels)")
    parser.add_argument("--fig5-instances", type=int, default=None,
                        help="instances timed alone for Fig. 5, spread over sizes (default 40; "
                             "smoke 2; 0 = none)")
    parser.add_argument("--synthcity-root", default=DEFAULT_SYNTHCITY,
                        help="SynthCity dataset (val split used)")
    parser.add_argument("--cityscapes-root", default=DEFAULT_CITYSCAPES,
                        help="the real Cityscapes sample (skipped with a note when absent)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="CPU the one-core runs are pinned to (default the last allowed)")
    parser.add_argument("--refinement-seed", default="proposals",
                        choices=("coarser_proposals", "proposals", "warm_start"),
                        help="TEST.REFINEMENT_SEED of every run with SR (default proposals)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run for the test suite: 256x512 input, 1 frame, 1 repeat")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.repeats = args.repeats if args.repeats is not None else (1 if smoke else 3)
    args.frames = args.frames if args.frames is not None else (1 if smoke else 8)
    if args.fig5_instances is None:
        args.fig5_instances = 2 if smoke else 40
    args.input_shape = SMOKE_INPUT_SHAPE if smoke else INPUT_SHAPE
    try:
        args.init_strides = sorted({int(s) for s in args.init_strides.split(",")})
    except ValueError:
        parser.error("--init-strides: expected e.g. 4,8,16")
    if any(s not in STRIDES for s in args.init_strides):
        parser.error("--init-strides must be levels of %s" % (STRIDES,))
    if args.repeats < 1 or args.frames < 1 or args.fig5_instances < 0:
        parser.error("--repeats and --frames must be >= 1, --fig5-instances >= 0")
    if args.sigma < 0:
        parser.error("--sigma must be >= 0")
    return args


def run_set(name, root, args, offset, cores, loads):
    frames, factor, source, things = load_frames(root, args.frames, args.input_shape,
                                                 args.sigma, args.seed, offset,
                                                 args.soft_semantics)
    samples, cpu, timings, nodes, found = bench_set(frames, things, args.init_strides,
                                                    args.repeats, cores, args.seed + offset, loads)
    rows, breakdown = summarize_set(frames, args.init_strides, samples, cpu, timings, nodes, found)
    by = {r["init_stride"]: r for r in rows}
    speedup = goal = None
    if 4 in by and 16 in by:
        a, b = by[4]["one_core_sr"], by[16]["one_core_sr"]
        speedup = {"ours": a["median_ms"] / b["median_ms"],
                   "ours_best": a["best_ms"] / b["best_ms"],
                   "paper": PAPER_GP_SECONDS[4] / PAPER_GP_SECONDS[16]}
    if GOAL_INIT_STRIDE in by:
        g = by[GOAL_INIT_STRIDE]["one_core_sr"]
        goal = {"init_stride": GOAL_INIT_STRIDE, "limit_ms": GOAL_MS, "median_ms": g["median_ms"],
                "best_ms": g["best_ms"], "cpu_median_ms": g["cpu_median_ms"],
                "pass": g["median_ms"] <= GOAL_MS,
                "full_scale": not args.smoke}
    fig5 = {"frames": fig5_frames(frames, samples)}
    if args.fig5_instances and all(s in STRIDES for s in FIG5_INIT_STRIDES):
        fig5["instances"] = fig5_instances(frames, things, args.repeats, cores,
                                           args.seed + offset, args.fig5_instances, loads)
    h, w = args.input_shape
    return {"name": name, "root": os.path.abspath(root), "frames": [f.name for f in frames],
            "semantics": "soft" if args.soft_semantics else "one-hot",
            "source_shape": list(source), "upscale": factor, "input_shape": [h, w],
            "graph_shape": [-(-h // STRIDES[0]), -(-w // STRIDES[0])],
            "rows": rows, "breakdown_init16": breakdown, "speedup": speedup, "goal": goal,
            "fig5": fig5}


def main(argv=None):
    args = parse_args(argv)
    REFINEMENT_SEED[0] = args.refinement_seed
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows in a redirected log
    cores = Cores(args.cpu)
    load_before = os.getloadavg()
    print("machine: %s, %d CPUs (one-core runs on CPU %d); load average %.2f %.2f %.2f"
          % ((cpu_model(), len(cores.all), cores.one) + tuple(load_before)))
    started = time.time()
    loads, sets, skipped = [], [], []
    inputs = [("SynthCity val", args.synthcity_root, 0),
              ("Cityscapes sample", args.cityscapes_root, 1)]
    for name, root, offset in inputs:
        if not os.path.isdir(os.path.join(root, "gtFine", "val")):
            note = "%s skipped: no dataset at %s" % (name, os.path.abspath(root))
            print("\n" + note)
            skipped.append(note)
            continue
        entry = run_set(name, root, args, offset, cores, loads)
        print_set(entry)
        sets.append(entry)
    load_after = os.getloadavg()
    print("\nload average: before %.2f, during %.2f-%.2f (1-min, sampled per repeat), after %.2f "
          "(%d CPUs; a load above the CPU count slows every timing)"
          % (load_before[0], min([l[0] for l in loads] or [np.nan]),
             max([l[0] for l in loads] or [np.nan]), load_after[0], len(cores.all)))
    if args.figure and sets:
        if write_figure(args.figure, sets):
            print("wrote %s" % args.figure)
    if args.json:
        write_json_atomic(args.json, {
            "config": {"input_shape": list(args.input_shape), "strides": list(STRIDES),
                       "window": WINDOW, "init_strides": args.init_strides,
                       "sigma": args.sigma, "soft_semantics": args.soft_semantics,
                       "seed": args.seed, "repeats": args.repeats,
                       "frames": args.frames, "fig5_instances": args.fig5_instances,
                       "smoke": args.smoke, "solver": "gaec+kl (cascaded_partition default)",
                       "settings": {key: {"one_core": one, "refinement": sr}
                                    for key, _, one, sr in SETTINGS},
                       "statistic": "median over frames of each frame's median over repeats; "
                                    "best_ms: median over frames of each frame's best"},
            "machine": dict(machine_info(cores), load_average_before=list(load_before),
                            load_average_during=[list(l) for l in loads],
                            load_average_after=list(load_after)),
            "code": code_version(),
            "seconds": time.time() - started,
            "paper_table4_gp_seconds": {str(k): v for k, v in PAPER_GP_SECONDS.items()},
            "paper_speedup": PAPER_SPEEDUP,
            "goal": {"init_stride": GOAL_INIT_STRIDE, "limit_ms": GOAL_MS,
                     "setting": "one_core_sr"},
            "input_sets": sets, "skipped": skipped})
        print("wrote %s" % args.json)


if __name__ == "__main__":
    main()
