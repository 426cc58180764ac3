#!/usr/bin/env python
"""Print per-split statistics of the dataset a config points at.

    python scripts/dataset_summary.py --cfg configs/synthcity_r18.yaml
    python scripts/dataset_summary.py --cfg configs/r50.yaml --splits val \\
        --opts DATASET.ROOT /data/cityscapes --json output/cityscapes_val_summary.json

For each split: frame count (and frame sizes), pixels per class, ignore and
crowd pixels, instances per thing class and an instance-size histogram
(bins in pixels, ``--size-bins``). Splits are roles (train/val/test ->
DATASET.*_SPLIT) or folder names.
"""
import argparse
import os
import sys
import time

from ssap_gluon.config import ConfigError, load_config
from ssap_gluon.data import DatasetError, build_dataset
from ssap_gluon.data.base import dataset_title
from ssap_gluon.data.loader import resolve_split
from ssap_gluon.data.summary import (DEFAULT_SIZE_BINS, default_workers, format_summary,
                                     summarize_dataset)
from ssap_gluon.utils.io import ImageReadError, write_json_atomic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cfg", required=True, help="config YAML")
    parser.add_argument("--splits", nargs="+", default=["train", "val"],
                        help="splits to summarise (default: train val)")
    parser.add_argument("--size-bins", nargs="+", type=int, default=list(DEFAULT_SIZE_BINS),
                        help="instance-size bin edges in pixels (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (default: 1 below 400 frames, else up to 8)")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="config overrides KEY VALUE ...")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_config(args.cfg, args.opts)
        result = {"config": os.path.abspath(args.cfg), "dataset": None, "splits": {}}
        for split in args.splits:
            start = time.perf_counter()
            dataset = build_dataset(cfg, split, is_train=False, transform=None)
            workers = args.workers or default_workers(len(dataset))
            summary = summarize_dataset(dataset, args.size_bins, workers)
            name = resolve_split(cfg, split)
            result["dataset"] = dataset_title(cfg.DATASET.NAME, dataset.root)
            print(format_summary("%s %s (%s)" % (result["dataset"], name, dataset.root),
                                 summary))
            print("  [%.1f s]\n" % (time.perf_counter() - start))
            result["splits"][name] = summary
    except (ConfigError, DatasetError, ImageReadError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
