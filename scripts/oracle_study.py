#!/usr/bin/env python
"""What the cascade does with ground truth as its input (no network).

Ground-truth labels become a probability pyramid (``inference.oracle``): one-hot
semantics and the exact affinity pyramid of ``ssap_gluon.targets``. Fed
through the cascade, the instance assembly and the official instance evaluator,
they show what the method itself can and cannot recover:

1. **AP of the oracle per init stride** at the network's resolution (finest
   level 1/4, as SSAPNet predicts) and down to full resolution (levels 1/1 ...
   1/64: exact masks). The first is the ceiling a perfect 1/4 output allows.
2. **Occluder-split instances** (an instance of 100+ pixels in several parts
   at 1/4): how many come out whole, per init stride, with and without the
   long-range edges of coarser levels.
3. **Noise**: affinities ``clip(gt + N(0, sigma))``, AP per init stride for
   sigma 0.1, 0.2, 0.3 (network resolution).

    python scripts/oracle_study.py [--root data/synthcity] [--split val] [--json PATH]
        [--frames N] [--smoke]

Prints three tables; ``--json`` writes every number. docs/INFERENCE.md shows
this script's output.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

NETWORK = [4, 8, 16, 32, 64]
FULL = [1, 2, 4, 8, 16, 32, 64]
INITS = [4, 8, 16, 32, 64]
SIGMAS = [0.1, 0.2, 0.3]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="data/synthcity",
                   help="a dataset in the Cityscapes layout (default: the embedded SynthCity)")
    p.add_argument("--split", default="val")
    p.add_argument("--frames", type=int, default=0, help="first N frames only (0: all)")
    p.add_argument("--json", default=None, help="write every number here")
    p.add_argument("--seed", type=int, default=0, help="seed of the affinity noise")
    p.add_argument("--smoke", action="store_true",
                   help="2 frames, init strides 4 and 16, sigma 0.3: a quick check")
    return p.parse_args(argv)


def load_frames(cfg, split, limit):
    from ssap_gluon.data import build_dataset

    dataset = build_dataset(cfg, split, is_train=False)
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    frames = []
    for i in range(n):
        image, sem, inst = dataset.load(i)
        frames.append((dataset.name(i), sem, inst,
                       dataset.transform.geometry(*image.shape[:2])))
    return dataset, frames


def evaluate(dataset, frames, predictor, strides, sigma=0.0, seed=0):
    """Official AP of the cascade on the oracle pyramids of ``frames``."""
    from ssap_gluon.evaluation import evaluate_instances, write_instance_predictions
    from ssap_gluon.inference.oracle import noisy_pyramid, oracle_pyramid

    gp = []
    stems = []
    with tempfile.TemporaryDirectory(prefix="ssap_oracle_") as out:
        for i, (stem, sem, inst, geometry) in enumerate(frames):
            pyr = oracle_pyramid(sem, inst, strides, predictor.window, dataset.num_classes,
                                 dataset.thing_train_ids, geometry)
            pyr = noisy_pyramid(pyr, sigma, np.random.default_rng([seed, i]))
            frame = predictor.from_pyramid(pyr, geometry)
            gp.append(frame.gp_seconds)
            write_instance_predictions(out, stem, frame.instances.instances())
            stems.append(stem)
        with tempfile.TemporaryDirectory(prefix="ssap_oracle_gt_") as gt_root:
            # the evaluator scores every ground-truth file of a split: give it these frames'
            gt_dir = os.path.join(gt_root, "gtFine", dataset.split)
            for i in range(len(frames)):
                for kind in ("instanceIds", "labelIds"):
                    src = dataset.label_path(i).replace("labelIds", kind)
                    dst = os.path.join(gt_dir, os.path.basename(os.path.dirname(src)),
                                       os.path.basename(src))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    os.symlink(src, dst)
            result = evaluate_instances(gt_root, dataset.split, out)
    return {"AP": result["AP"], "AP50": result["AP50"], "gp_ms_mean": 1000 * float(np.mean(gp))}


def split_instances(dataset, frames, predictor, long_range):
    """``(instances in parts at 1/4, of them whole)`` for the current init stride."""
    from scipy import ndimage

    from ssap_gluon.inference.oracle import oracle_pyramid

    total = whole = 0
    options = dict(predictor.options, long_range_edges=long_range)
    from ssap_gluon.partition import cascaded_partition

    for stem, sem, inst, geometry in frames:
        pyr = oracle_pyramid(sem, inst, NETWORK, predictor.window, dataset.num_classes,
                             dataset.thing_train_ids, geometry)
        labels = cascaded_partition(pyr.semantic, pyr.affinity, pyr.strides, predictor.window,
                                    predictor.thing_classes, **options).labels
        level = np.full(labels.shape, -1, np.int64)
        sub = inst[::4, ::4]
        level[:sub.shape[0], :sub.shape[1]] = sub
        for g in np.unique(inst[inst > 0]):
            at_level = level == g
            if (inst == g).sum() < 100 or ndimage.label(at_level)[1] < 2:
                continue
            total += 1
            got = np.unique(labels[at_level])
            if got.size == 1 and got[0] >= 0 and not (
                    (labels == got[0]) & (level != g)).any():
                whole += 1
    return total, whole


def main(argv=None):
    args = parse_args(argv)
    from ssap_gluon.config import load_config
    from ssap_gluon.inference.predictor import Predictor

    inits = [4, 16] if args.smoke else INITS
    sigmas = [0.3] if args.smoke else SIGMAS
    frames_limit = 2 if args.smoke else args.frames
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = load_config(os.path.join(repo, "configs", "synthcity_r18.yaml"),
                      ["DATASET.ROOT", os.path.abspath(args.root),
                       "TEST.MIN_INSTANCE_AREA", "100"])
    dataset, frames = load_frames(cfg, args.split, frames_limit)
    predictor = Predictor(cfg, None, None, dataset.thing_train_ids, dataset.label_ids)
    base = dict(predictor.options)
    started = time.time()
    report = {"root": os.path.abspath(args.root), "split": args.split, "frames": len(frames),
              "seed": args.seed, "ap": {}, "split_instances": {}, "noise": {}}

    print("== %s %s: %d frames; official instance AP of the ground truth through the cascade"
          % (args.root, args.split, len(frames)))
    print("%-8s %18s %18s" % ("init", "finest 1/4 (AP)", "finest 1/1 (AP)"))
    for init in inits:
        row = {}
        for name, strides in (("network", NETWORK), ("full", FULL)):
            predictor.options = dict(base, init_stride=init, affinity_strides=strides)
            row[name] = evaluate(dataset, frames, predictor, strides)
        report["ap"][init] = row
        print("1/%-6d %18.4f %18.4f" % (init, row["network"]["AP"], row["full"]["AP"]))

    print("\n== instances of 100+ px that are in several parts at 1/4: how many come out whole")
    print("%-8s %26s %26s" % ("init", "with long-range edges", "without"))
    for init in inits:
        predictor.options = dict(base, init_stride=init, affinity_strides=NETWORK)
        row = {}
        for long_range in (True, False):
            total, whole = split_instances(dataset, frames, predictor, long_range)
            row["long_range" if long_range else "own_window"] = {"split": total,
                                                                 "whole": whole}
        report["split_instances"][init] = row
        print("1/%-6d %26s %26s" % (init, "%d of %d" % (row["long_range"]["whole"],
                                                       row["long_range"]["split"]),
                                    "%d of %d" % (row["own_window"]["whole"],
                                                  row["own_window"]["split"])))

    print("\n== affinities clip(gt + N(0, sigma)), finest 1/4: AP per init stride")
    print("%-8s" % "sigma" + "".join("%10s" % ("1/%d" % i) for i in inits))
    for sigma in sigmas:
        row = {}
        for init in inits:
            predictor.options = dict(base, init_stride=init, affinity_strides=NETWORK)
            row[init] = evaluate(dataset, frames, predictor, NETWORK, sigma, args.seed)
        report["noise"][sigma] = row
        print("%-8.1f" % sigma + "".join("%10.4f" % row[i]["AP"] for i in inits))
    report["seconds"] = time.time() - started
    print("\n(%.0f s)" % report["seconds"])
    if args.json:
        from ssap_gluon.utils.io import write_json_atomic

        write_json_atomic(args.json, json.loads(json.dumps(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
