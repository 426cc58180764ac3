#!/usr/bin/env python
"""Benchmark the affinity targets and the network forward pass.

1. Targets: ``build_targets`` (affinity pyramid + BD/OL weights + semantic
   levels) for one 512x1024 crop, r = 5, strides 4..64 (goal: <= 10 ms).
2. Forward: the full SSAP net against its bare backbone (res1..res5) on the
   same input, in the same run, both hybridized, inference mode
   (goal: full / backbone <= 1.3). Also the dense-head variant, for the
   MODEL.HEAD_CONV choice.

    python scripts/bench_model.py [--json out.json] [--backbone resnet50_v1b]
        [--size 512 1024] [--repeat 3]

CPU timings on a shared machine are noisy; compare rows of the same run.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

THINGS = list(range(11, 19))


def synthetic_scene(rng, height, width, num_instances=30):
    """A street-like label crop: stuff bands, thing boxes (some occluding each
    other), void and crowd patches."""
    sem = np.zeros((height, width), np.int32)
    sem[: height // 3] = 10  # sky
    sem[height // 3: height // 2] = 2  # building
    sem[height // 2:] = 0  # road
    inst = np.zeros((height, width), np.int32)
    for k in range(num_instances):
        h = int(rng.integers(height // 20, height // 3))
        w = int(rng.integers(width // 40, width // 5))
        y = int(rng.integers(height // 4, height - h // 2))
        x = int(rng.integers(-w // 4, width - w // 2))
        cls = int(rng.choice(THINGS))
        sem[y:y + h, max(x, 0):x + w] = cls
        inst[y:y + h, max(x, 0):x + w] = (cls + 13) * 1000 + k
    sem[height - height // 10:] = 255  # ego-vehicle void
    inst[height - height // 10:] = -1
    y, x = height // 2, width // 3
    sem[y:y + height // 10, x:x + width // 10] = 11  # crowd
    inst[y:y + height // 10, x:x + width // 10] = -1
    return sem, inst


def bench_targets(cfg, height, width, repeat):
    from ssap_gluon.targets import affinity_pyramid_targets, build_targets

    rng = np.random.default_rng(0)
    sem, inst = synthetic_scene(rng, height, width)
    sem, inst = sem[None], inst[None]
    full, pyramid = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        affinity_pyramid_targets(sem, inst, cfg.AFFINITY.WINDOW, cfg.AFFINITY.STRIDES, THINGS)
        t1 = time.perf_counter()
        build_targets(cfg, sem, inst, THINGS, rng)
        t2 = time.perf_counter()
        pyramid.append((t1 - t0) * 1e3)
        full.append((t2 - t1) * 1e3)
    return {"crop": [height, width], "window": cfg.AFFINITY.WINDOW,
            "strides": list(cfg.AFFINITY.STRIDES), "runs": repeat,
            "affinity_pyramid_ms_median": float(np.median(pyramid)),
            "affinity_pyramid_ms_min": float(np.min(pyramid)),
            "build_targets_ms_median": float(np.median(full)),
            "build_targets_ms_min": float(np.min(full)),
            "goal_ms": 10.0}


def loss_balance(cfg, height, width, seed=0):
    """alpha * lambda_i * L_a^i per level at initialisation (all logits 0, so
    every affinity is 0.5) on the synthetic crop, for each normalisation of
    Eq. 1: shows which normalisation the paper's lambda_i equalise."""
    import mxnet as mx

    from ssap_gluon.losses import AffinityLoss
    from ssap_gluon.losses.affinity import NORMALIZATIONS
    from ssap_gluon.targets import build_targets

    rng = np.random.default_rng(seed)
    sem, inst = synthetic_scene(rng, height, width)
    t = build_targets(cfg, sem[None], inst[None], THINGS, rng)
    out = {}
    for norm in NORMALIZATIONS:
        loss = AffinityLoss(norm)
        raw = []
        for i in range(len(t.strides)):
            logits = mx.nd.zeros((1,) + t.affinity[i].shape[1:])
            raw.append(float(loss(logits, mx.nd.array(t.affinity[i]),
                                  mx.nd.array(t.affinity_valid[i]),
                                  mx.nd.array(t.affinity_weight[i])).asscalar()))
        weighted = [cfg.LOSS.AFFINITY_ALPHA * lam * r
                    for lam, r in zip(cfg.LOSS.LEVEL_WEIGHTS, raw)]
        out[norm] = {"raw": raw, "alpha_lambda_L": weighted}
    return {"strides": list(t.strides), "crop": [height, width], "normalizations": out}


def bench_forward(cfg_path, backbone, height, width, repeat, batch):
    import mxnet as mx

    from ssap_gluon.config import load_config
    from ssap_gluon.model import build_model

    x = mx.nd.array(np.random.default_rng(0).normal(size=(batch, 3, height, width)))
    variants = [("full_net_%s_k%d" % ("separable" if conv == "separable" else "dense", k),
                 ["MODEL.HEAD_CONV", conv, "MODEL.HEAD_KERNEL", str(k)])
                for conv in ("separable", "full") for k in (5, 3)]
    nets = {}
    for name, opts in variants:
        cfg = load_config(cfg_path, ["MODEL.BACKBONE", backbone, "MODEL.PRETRAINED", "",
                                     "MODEL.NORM", "bn"] + opts)
        net = build_model(cfg)
        net.hybridize(static_alloc=True, static_shape=True)
        nets[name] = net
    bare = nets["full_net_separable_k5"].backbone  # same weights, same input

    def run(fn):
        out = fn(x)
        mx.nd.waitall()
        return out

    calls = [("backbone", bare)] + list(nets.items())
    for _, fn in calls:  # warm-up: graph build, memory planning
        run(fn)
    times = {name: [] for name, _ in calls}
    for _ in range(repeat):  # interleaved so load changes hit every row alike
        for name, fn in calls:
            t0 = time.perf_counter()
            run(fn)
            times[name].append((time.perf_counter() - t0) * 1e3)
    base = float(np.median(times["backbone"]))
    rows = {}
    for name, _ in calls:
        med = float(np.median(times[name]))
        rows[name] = {"ms_median": med, "ms_min": float(np.min(times[name])),
                      "ratio_to_backbone": med / base}
    return {"backbone": backbone, "input": [batch, 3, height, width], "runs": repeat,
            "mode": "inference, hybridized (static_alloc)", "rows": rows, "goal_ratio": 1.3}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cfg", default="configs/r50.yaml")
    parser.add_argument("--backbone", default="resnet50_v1b")
    parser.add_argument("--size", type=int, nargs=2, default=[512, 1024], metavar=("H", "W"),
                        help="forward input size (targets always use a 512x1024 crop)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="forward repetitions")
    parser.add_argument("--target-repeat", type=int, default=50)
    parser.add_argument("--skip-forward", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    from ssap_gluon.config import load_config
    from ssap_gluon.utils.io import write_json_atomic

    cfg = load_config(args.cfg)
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "processor": platform.processor() or platform.machine()}}
    result["targets"] = t = bench_targets(cfg, 512, 1024, args.target_repeat)
    print("targets, 512x1024, r=%d, strides %s, %d runs:" % (t["window"], t["strides"], t["runs"]))
    print("  %-32s %8.2f ms (min %.2f)" % ("affinity_pyramid_targets",
                                           t["affinity_pyramid_ms_median"],
                                           t["affinity_pyramid_ms_min"]))
    print("  %-32s %8.2f ms (min %.2f)   goal <= %.0f ms" % (
        "build_targets (+ BD/OL, semantic)", t["build_targets_ms_median"],
        t["build_targets_ms_min"], t["goal_ms"]))
    result["loss_balance"] = lb = loss_balance(cfg, 512, 1024)
    print("alpha * lambda_i * L_a^i at init (logits 0), 512x1024 synthetic crop, strides %s:"
          % lb["strides"])
    for norm, v in lb["normalizations"].items():
        print("  %-12s %s" % (norm, "  ".join("%.2e" % x for x in v["alpha_lambda_L"])))
    if not args.skip_forward:
        h, w = args.size
        result["forward"] = f = bench_forward(args.cfg, args.backbone, h, w, args.repeat,
                                              args.batch)
        print("forward, %s, input %s, %s, %d runs:" % (f["backbone"], f["input"], f["mode"],
                                                      f["runs"]))
        print("  %-24s %10s %10s %8s" % ("model", "median ms", "min ms", "ratio"))
        for name, r in f["rows"].items():
            print("  %-24s %10.1f %10.1f %8.2f" % (name, r["ms_median"], r["ms_min"],
                                                   r["ratio_to_backbone"]))
        print("  goal: full net <= %.1f x backbone" % f["goal_ratio"])
    if args.json:
        write_json_atomic(args.json, result)
    return result


if __name__ == "__main__":
    main()
