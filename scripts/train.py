#!/usr/bin/env python
"""Train SSAP from a config.

    python scripts/train.py --cfg configs/synthcity_r18.yaml [--resume auto|PATH]
        [--devices cpu|cpu:N|gpu:0,1,...] [--opts KEY VALUE ...]

``--resume auto`` continues from the newest valid checkpoint in
TRAIN.OUTPUT_DIR/checkpoints (or starts fresh if there is none); a directory
continues from that checkpoint. Without ``--resume`` an OUTPUT_DIR that
already holds checkpoints is refused. Multi-node: start this script through
scripts/launch_dist.py with TRAIN.KVSTORE dist_sync. See docs/TRAINING.md.
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


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cfg", required=True, help="YAML config (see configs/)")
    p.add_argument("--resume", default=None,
                   help="'auto' (newest valid checkpoint of TRAIN.OUTPUT_DIR) or a checkpoint "
                        "directory")
    p.add_argument("--devices", default=None,
                   help="shortcut for --opts TRAIN.DEVICES: 'cpu', 'cpu:N' or 'gpu:0,1,...'")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--summary-json", default=None, help="write the run summary here")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides: KEY VALUE ...")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ssap_gluon.config import ConfigError, load_config
    from ssap_gluon.training import SSAPTrainer
    from ssap_gluon.training.checkpoint import CheckpointError
    from ssap_gluon.utils.io import write_json_atomic

    try:
        opts = list(args.opts) + (["TRAIN.DEVICES", args.devices] if args.devices else [])
        cfg = load_config(args.cfg, opts)
        summary = SSAPTrainer(cfg, resume=args.resume,
                              progress=not args.no_progress).train()
    except (ConfigError, CheckpointError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if args.summary_json:
        write_json_atomic(args.summary_json, summary)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
