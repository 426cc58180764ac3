#!/usr/bin/env python
"""Reproduce one of the paper's Tables 1-10 and print it beside the paper's numbers.

    python scripts/reproduce.py --table N [--dataset auto|cityscapes|synthcity]
        [--smoke] [--weights W] [--max-frames N] [--out DIR] [--no-progress]
        [--opts KEY VALUE ...]

On Cityscapes (``$CITYSCAPES_DATASET`` set) every row uses the paper's
setting (``configs/tables/``, ``configs/r50.yaml``...) and trains what it
needs on your GPUs with the paper's schedule. Without it, the same pipeline
runs on the embedded default, SynthCity: training tables (1, 2, 3, 6) train
every row with a short ResNet-18 schedule (configs/synthcity_tables.yaml:
29-35 minutes per row measured on 2 shared CPU cores; rows sharing a training config train
once); inference tables (4, 5, 7, 8, 9, 10) evaluate the shipped model
models/synthcity_r18 (minutes). A killed run started again continues where it
stopped (finished trainings are reused, unfinished ones resume, written
frames are kept). Output: output/reproduction/<dataset>/table<N>.md and .json
(plus every run, prediction and figure under that folder). See
docs/REPRODUCTION.md.

``--smoke``: tiny models, 1 frame: checks that the table is produced with all
its rows (the test suite runs every table so); not a result.
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", type=int, required=True, choices=range(1, 11), metavar="N",
                   help="the paper's table, 1-10")
    p.add_argument("--dataset", default="auto", choices=("auto", "cityscapes", "synthcity"),
                   help="auto: Cityscapes if $CITYSCAPES_DATASET is set, else SynthCity")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: a check, not a result")
    p.add_argument("--weights", default=None,
                   help="inference tables: evaluate these weights instead of the default model")
    p.add_argument("--max-frames", type=int, default=0, help="score the first N frames only")
    p.add_argument("--out", default=None, help="output root (default output/reproduction)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides for every row: KEY VALUE ...")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)  # configs name data/synthcity relative to the repository
    import ssap_gluon  # noqa: F401
    from ssap_gluon.config import ConfigError
    from ssap_gluon.data import DatasetError
    from ssap_gluon.evaluation import EvaluationError
    from ssap_gluon.inference.weights import WeightsError
    from ssap_gluon.reproduction.experiments import run_table
    from ssap_gluon.reproduction.engine import make_setting
    from ssap_gluon.reproduction.shipped import ShippedModelError
    from ssap_gluon.training.checkpoint import CheckpointError
    from ssap_gluon.utils.io import ImageReadError

    if len(args.opts) % 2:
        print("error: --opts takes KEY VALUE pairs; %r has no value" % args.opts[-1],
              file=sys.stderr)
        return 2
    try:
        setting = make_setting(REPO, args.dataset, args.out, args.smoke, args.opts,
                               args.weights, args.max_frames, not args.no_progress)
        print("== Table %d on %s%s -> %s" % (args.table, setting.mode,
                                           " (smoke)" if setting.smoke else "",
                                           os.path.relpath(setting.out, REPO)), flush=True)
        _, markdown = run_table(args.table, setting,
                                log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ConfigError, DatasetError, WeightsError, ShippedModelError, CheckpointError,
            EvaluationError, ImageReadError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
