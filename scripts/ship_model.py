#!/usr/bin/env python
"""Package a finished training run as the shipped model (models/synthcity_r18/).

    python scripts/ship_model.py --run output/synthcity_r18 --out models/synthcity_r18 \
        --command "python scripts/train.py --cfg configs/synthcity_r18.yaml" \
        --commit <the commit the run was trained with> [--metrics <test.py metrics.json>]

Writes, atomically: ``model_fp16.params`` (the run's ``model_final.params`` in
float16: half the size, loads into the float32 network through
``ssap_gluon.inference.load_weights``), ``config.yaml`` and ``metrics.jsonl``
(the run's), ``loss_curve.png``, ``README.md`` (the exact command, the commit,
the training time and, with ``--metrics``, the SynthCity val scores) and
``SHA256SUMS`` (checked by the table scripts and a test).
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a finished training run (TRAIN.OUTPUT_DIR)")
    p.add_argument("--out", default=os.path.join(REPO, "models", "synthcity_r18"))
    p.add_argument("--command", required=True, help="the exact training command")
    p.add_argument("--commit", required=True, help="the commit the run was trained with")
    p.add_argument("--metrics", default=None, help="scripts/test.py's metrics.json of it")
    args = p.parse_args(argv)
    from ssap_gluon.inference.weights import save_weights_fp16
    from ssap_gluon.training.progress import read_metrics
    from ssap_gluon.utils.io import atomic_write, copy_atomic

    final = os.path.join(args.run, "model_final.params")
    if not os.path.isfile(final):
        print("error: %s not found: the run is not finished" % final, file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    save_weights_fp16(final, os.path.join(args.out, "model_fp16.params"))
    for name in ("config.yaml", "metrics.jsonl", "loss_curve.png"):
        copy_atomic(os.path.join(args.run, name), os.path.join(args.out, name))
    records = read_metrics(os.path.join(args.run, "metrics.jsonl"))
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    hours = (train[-1]["time"] - train[0]["time"]) / 3600.0 if len(train) > 1 else None
    lines = ["# The shipped SynthCity model", "",
             "ResNet-18 SSAP trained from random init on SynthCity (the embedded default) by "
             "the project's own `scripts/train.py`; the weights are stored in float16 "
             "(`model_fp16.params`, %.1f MB) and load into the float32 network "
             "(`ssap_gluon.inference.load_weights`)."
             % (os.path.getsize(os.path.join(args.out, "model_fp16.params")) / 2 ** 20), "",
             "* command: `%s`" % args.command,
             "* code: commit `%s`" % args.commit,
             "* config: `config.yaml` (the run's full config); log: `metrics.jsonl`; loss "
             "curve: `loss_curve.png`",
             "* %d iterations, batch %d, final loss %.3f%s"
             % (train[-1]["iteration"], _batch(args.run),
                train[-1]["loss"], "; %.1f h of training on 2 shared CPU cores" % hours
                if hours else "")]
    if val:
        lines.append("* semantic mIoU on SynthCity val during training (the trainer's own "
                     "validation): " + ", ".join("%.3f at %d" % (r["mIoU"], r["iteration"])
                                                  for r in val))
    if args.metrics:
        with open(args.metrics, encoding="utf-8") as f:
            m = json.load(f)
        lines.append("* SynthCity val (%d frames), `python scripts/test.py --cfg "
                     "configs/synthcity_r18.yaml --weights models/synthcity_r18/model_fp16.params "
                     "--out DIR`: AP %.1f, AP50 %.1f, PQ %.1f (things %.1f, stuff %.1f), mIoU "
                     "%.1f (%%)" % (m["dataset"]["frames"], 100 * m["AP"], 100 * m["AP50"],
                                    100 * m["PQ"], 100 * m["PQ_Th"], 100 * m["PQ_St"],
                                    100 * m["mIoU"]))
    lines += ["", "Packaged by `python scripts/ship_model.py` on %s; `SHA256SUMS` is checked "
              "before use." % datetime.date.today().isoformat(), ""]
    with atomic_write(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines))
    sums = ["%s  %s" % (_sha256(os.path.join(args.out, n)), n)
            for n in ("model_fp16.params", "config.yaml", "metrics.jsonl")]
    with atomic_write(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        f.write("\n".join(sums) + "\n")
    print("\n".join(lines))
    return 0


def _batch(run):
    from ssap_gluon.config import load_config

    return int(load_config(os.path.join(run, "config.yaml")).SOLVER.IMS_PER_BATCH)


if __name__ == "__main__":
    sys.exit(main())
