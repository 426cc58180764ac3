#!/usr/bin/env python
"""Semantic mIoU of trained weights on a split (the 1/4 semantic head, full resolution).

    python scripts/eval_semantic.py --cfg configs/synthcity_r18.yaml \
        --weights output/synthcity_r18/model_final.params [--split val] [--out DIR]
        [--max-images N] [--device cpu|gpu:0] [--opts KEY VALUE ...]

``--weights``: a ``.params`` file or a checkpoint directory (verified first).
The whole split of a Cityscapes-layout dataset is scored with the official
cityscapesScripts evaluator (labelId PNGs under ``DIR/semantic_<split>/``);
``--max-images`` scores a subset with the same IoU from a confusion matrix.
Writes ``DIR/semantic_<split>.json`` (default DIR: next to the weights).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cfg", required=True)
    p.add_argument("--weights", required=True, help=".params file or checkpoint directory")
    p.add_argument("--split", default="val", help="train / val / test role or a split folder")
    p.add_argument("--out", default=None, help="output directory for predictions + JSON")
    p.add_argument("--max-images", type=int, default=0, help="score the first N frames only")
    p.add_argument("--device", default=None,
                   help="'cpu' or 'gpu:I' (default: the first of TRAIN.DEVICES)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[])
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import ssap_gluon  # noqa: F401
    from ssap_gluon.config import ConfigError, load_config
    from ssap_gluon.inference.weights import WeightsError, load_weights
    from ssap_gluon.model import build_model
    from ssap_gluon.training.checkpoint import CheckpointError
    from ssap_gluon.training.devices import parse_devices
    from ssap_gluon.training.validate import evaluate_semantic_miou

    try:
        cfg = load_config(args.cfg, args.opts)
        ctx = parse_devices(args.device or cfg.TRAIN.DEVICES)[0]
        net = build_model(cfg, num_devices=1, ctx=ctx)
        weights = load_weights(net, args.weights, ctx)
        if cfg.TRAIN.HYBRIDIZE:
            net.hybridize(static_alloc=True)
        out = args.out or os.path.join(os.path.dirname(os.path.abspath(weights)), "eval")
        result = evaluate_semantic_miou(net, cfg, ctx, out, split=args.split,
                                        max_images=args.max_images,
                                        progress=not args.no_progress)
    except (ConfigError, CheckpointError, WeightsError, FileNotFoundError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    result["weights"] = os.path.abspath(weights)
    print(json.dumps(result, indent=2))
    print("semantic mIoU on %s (%d frames, %s): %.4f"
          % (args.split, result["num_images"], result["evaluator"], result["mIoU"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
