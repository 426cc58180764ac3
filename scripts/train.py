#!/usr/bin/env python
"""Train SSAP from a config.

    python scripts/train.py --cfg configs/synthcity_r18.yaml [--resume auto|PATH]
        [--overlay YAML ...] [--devices cpu|cpu:N|gpu:0,1,...] [--check] [--opts KEY VALUE ...]

``--resume auto`` continues from the newest valid checkpoint in
TRAIN.OUTPUT_DIR/checkpoints (or starts fresh if there is none); a directory
continues from that checkpoint. Without ``--resume`` an OUTPUT_DIR that
already holds checkpoints is refused. ``--check`` checks the config, the
dataset, the pretrained weights, the devices and the output directory, lists
every problem and exits (0: ready to train). Multi-node: start this script
through scripts/launch_dist.py with TRAIN.KVSTORE dist_sync. See docs/TRAINING.md.

Exit status: 0 done; 2 a problem with the config, data, weights, devices or
run directory (one paragraph, no traceback); 130 / 143 stopped by SIGINT /
SIGTERM after writing a checkpoint (continue with --resume auto).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Before anything else: on a parameter server / scheduler process of a
# distributed job, `import mxnet` runs the server and exits here.
import ssap_gluon  # noqa: E402,F401  (preloads the CUDA libraries of mxnet-cu112)
import mxnet  # noqa: E402,F401

EXIT_USER_ERROR = 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cfg", required=True, help="YAML config (see configs/)")
    p.add_argument("--overlay", action="append", default=[], metavar="YAML",
                   help="a partial config merged on top of --cfg (repeatable), e.g. "
                        "configs/synthcity_tables.yaml puts a table row on SynthCity")
    p.add_argument("--resume", default=None,
                   help="'auto' (newest valid checkpoint of TRAIN.OUTPUT_DIR) or a checkpoint "
                        "directory")
    p.add_argument("--devices", default=None,
                   help="shortcut for --opts TRAIN.DEVICES: 'cpu', 'cpu:N' or 'gpu:0,1,...'")
    p.add_argument("--check", action="store_true",
                   help="check config, dataset, weights, devices and output directory; list "
                        "every problem and exit (0 = ready to train, 2 = problems)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--summary-json", default=None, help="write the run summary here")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides: KEY VALUE ...")
    return p.parse_args(argv)


def _error(message):
    print("error: %s" % message, file=sys.stderr)
    return EXIT_USER_ERROR


def _check(cfg, args):
    from ssap_gluon.training.trainer import check_run

    problems, notes = check_run(cfg, resume=args.resume)
    print("checked %s (TRAIN.OUTPUT_DIR %s, TRAIN.DEVICES %s)"
          % (args.cfg, os.path.abspath(cfg.TRAIN.OUTPUT_DIR), cfg.TRAIN.DEVICES))
    for note in notes:
        print("  note: %s" % note)
    if not problems:
        print("OK: ready to train")
        return 0
    sys.stdout.flush()
    print("%d problem(s):" % len(problems), file=sys.stderr)
    for i, problem in enumerate(problems, 1):
        print("  %d. %s" % (i, problem.replace("\n", "\n     ")), file=sys.stderr)
    return EXIT_USER_ERROR


def main(argv=None):
    args = parse_args(argv)
    from ssap_gluon.config import ConfigError, load_config
    from ssap_gluon.training import SSAPTrainer
    from ssap_gluon.training.trainer import TrainingInterrupted, user_errors
    from ssap_gluon.utils.io import write_json_atomic

    opts = list(args.opts) + (["TRAIN.DEVICES", args.devices] if args.devices else [])
    try:
        cfg = load_config(args.cfg, opts, overlays=args.overlay)
    except ConfigError as e:
        if args.check:
            print("%d problem(s):\n  %s" % (len(e.problems), "\n  ".join(e.problems)),
                  file=sys.stderr)
            return EXIT_USER_ERROR
        return _error(e)
    if args.check:
        return _check(cfg, args)
    try:
        summary = SSAPTrainer(cfg, resume=args.resume, progress=not args.no_progress).train()
    except TrainingInterrupted as e:
        print("%s" % e, file=sys.stderr)
        return e.exit_code
    except user_errors() as e:
        return _error(e)
    if args.summary_json:
        write_json_atomic(args.summary_json, summary)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
