#!/usr/bin/env python
"""Predict a split and score it with the official evaluators: AP, PQ, mIoU.

    python scripts/test.py --cfg CFG (--weights W | --oracle | --random-init) --out DIR
        [--overlay YAML ...] [--split val|test] [--force] [--max-frames N] [--gt-cache DIR2]
        [--device cpu|gpu:I] [--no-progress] [--opts KEY VALUE ...]

Writes DIR/instance/ (cityscapesScripts results format), DIR/panoptic/ +
DIR/panoptic.json (COCO panoptic format), DIR/semantic/ (labelId PNGs),
DIR/metrics.json and DIR/table8.md (our row beside the paper's Table 8; COCO:
table9.md; Cityscapes test: the server archives under DIR/submission/ and
table10.md). A killed run resumes where it stopped when started again with the
same arguments (--force redoes every frame). ``--oracle`` feeds the ground
truth to the graph partition instead of the network (no weights);
``--random-init`` runs an untrained network (timing only). See docs/EVALUATION.md.

Exit status: 0 done; 2 a problem with the arguments, config, data, weights or
predictions (one paragraph naming the file, no traceback); 130 interrupted
(start again to resume).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cfg", required=True, help="YAML config (see configs/)")
    p.add_argument("--overlay", action="append", default=[], metavar="YAML",
                   help="a partial config merged on top of --cfg (repeatable), e.g. "
                        "configs/synthcity_tables.yaml puts a table row on SynthCity")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--weights", help=".params file or checkpoint directory")
    what.add_argument("--oracle", action="store_true",
                      help="ground truth instead of the network (pyramid strides 1..64)")
    what.add_argument("--random-init", action="store_true",
                      help="an untrained network of the config (to measure time only)")
    p.add_argument("--out", required=True, help="output directory (created; resumable)")
    p.add_argument("--split", default="val", choices=("val", "test"),
                   help="DATASET.VAL_SPLIT (scored here) or DATASET.TEST_SPLIT (server archive)")
    p.add_argument("--force", action="store_true", help="redo every frame")
    p.add_argument("--max-frames", type=int, default=0, help="the first N frames only")
    p.add_argument("--gt-cache", default=None,
                   help="folder for the converted ground truth, reusable across runs "
                        "(default: DIR/gt_cache)")
    p.add_argument("--device", default=None,
                   help="'cpu' or 'gpu:I' (default: the first of TRAIN.DEVICES)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides: KEY VALUE ...")
    args = p.parse_args(argv)
    if args.max_frames < 0:
        p.error("--max-frames must be >= 0")
    return args


def user_errors():
    """Exceptions that are the user's to fix: reported in one paragraph, exit 2."""
    from ssap_gluon.config import ConfigError
    from ssap_gluon.data.base import DatasetError
    from ssap_gluon.evaluation import EvaluationError
    from ssap_gluon.inference.weights import WeightsError
    from ssap_gluon.utils.io import ImageReadError

    return (ConfigError, DatasetError, EvaluationError, WeightsError, ImageReadError,
            FileNotFoundError)


def _error(message):
    text = " ".join(str(message).split())
    print("error: %s" % text, file=sys.stderr)
    return EXIT_USER_ERROR


def _pct(value):
    return "-" if value is None else "%.1f" % (100 * value)


def print_summary(metrics, out_dir):
    d = metrics["dataset"]
    print("%s %s: %d frame(s), %s" % (d["kind"], d["split"], d["frames"],
                                       "oracle" if metrics["mode"] == "oracle" else
                                       "untrained network" if metrics["random_init"] else
                                       "weights %s" % metrics["weights"]["path"]))
    keys = ("AP", "AP50", "PQ", "PQ_Th", "PQ_St", "mIoU")
    print("  " + "  ".join("%s %s" % (k, _pct(metrics.get(k))) for k in keys) + "  (%)")
    reasons = {}
    for key, reason in sorted(metrics["null_reasons"].items()):
        reasons.setdefault(reason, []).append(key)
    for reason, keys in reasons.items():
        print("  %s: %s" % (" / ".join(keys), reason))
    t = metrics["timing"]
    for key in ("network_ms", "gp_ms"):
        if t[key]:
            print("  %s per frame: mean %.0f, p50 %.0f, p95 %.0f" % (
                key[:-3], t[key]["mean"], t[key]["p50"], t[key]["p95"]))
    print("  wall %.1f s: predicting %.1f s (%d frame(s) now, %d resumed), scoring %.1f s"
          % (t["wall_seconds"], t["predict_seconds"], t["frames_predicted_now"],
             t["frames_resumed"], t["evaluate_seconds"]))
    print("  metrics: %s" % os.path.join(out_dir, "metrics.json"))


def main(argv=None):
    args = parse_args(argv)
    import ssap_gluon  # noqa: F401  (CUDA preload of mxnet-cu112 builds)
    from ssap_gluon.config import load_config
    from ssap_gluon.evaluation.report import comparison_markdown
    from ssap_gluon.evaluation.runner import run_split
    from ssap_gluon.utils.io import atomic_write

    out_dir = os.path.abspath(args.out)
    try:
        cfg = load_config(args.cfg, args.opts, overlays=args.overlay)
        ctx = None
        if args.device and not args.oracle:
            from ssap_gluon.training.devices import parse_devices

            ctx = parse_devices(args.device)[0]
        metrics = run_split(cfg, out_dir, split=args.split, weights=args.weights,
                            random_init=args.random_init, oracle=args.oracle, force=args.force,
                            max_frames=args.max_frames, gt_cache=args.gt_cache, ctx=ctx,
                            progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: the frames written so far are kept; run the same command again to "
              "resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except user_errors() as e:
        return _error(e)
    name, text = comparison_markdown(metrics)
    with atomic_write(os.path.join(out_dir, name + ".md"), "w") as f:
        f.write(text)
    print_summary(metrics, out_dir)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
