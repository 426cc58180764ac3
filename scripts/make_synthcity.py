#!/usr/bin/env python
"""Generate SynthCity, the embedded default dataset, in the Cityscapes layout.

    python scripts/make_synthcity.py --out data/synthcity [--num-train 300 --num-val 60
        --num-test 30 --seed 0 --height 256 --width 512 --workers N --force]

Re-running with the same arguments on a complete dataset only prints its summary.
A directory holding a SynthCity made with other arguments is an error unless
``--force`` (which deletes only what SynthCity wrote there). See docs/SYNTHCITY.md.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ssap_gluon.data.synthcity import (  # noqa: E402
    SynthCityDirectoryError, generate_synthcity, read_manifest, remove_synthcity)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="dataset root (gets leftImg8bit/ and gtFine/)")
    p.add_argument("--num-train", type=int, default=300)
    p.add_argument("--num-val", type=int, default=60)
    p.add_argument("--num-test", type=int, default=30,
                   help="frames of the test split (read without labels, like Cityscapes test; "
                        "Table 10 writes its server archive)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--workers", type=int, default=None,
                   help="processes (default: CPU count for large sets); output does not depend on it")
    p.add_argument("--force", action="store_true",
                   help="replace a SynthCity made with other arguments in --out")
    return p.parse_args(argv)


def format_summary(summary):
    frames = summary["frames"]
    lines = ["SynthCity %s: %d train / %d val / %d test frames of %dx%d (seed %d)%s" % (
        summary.get("out_dir", ""), frames["train"], frames["val"], frames["test"],
        summary["arguments"]["height"], summary["arguments"]["width"], summary["arguments"]["seed"],
        ", already complete: nothing to do" if summary.get("skipped") else
        " in %.1f s with %d worker(s)" % (summary["seconds"], summary.get("workers", 1)))]
    per_split = summary["instances_per_split"]
    splits = [s for s in ("train", "val", "test") if frames[s]]
    lines.append("%-11s" % "instances" + "".join("%8s" % s for s in splits) + "%8s" % "total")
    for name, total in summary["instances"].items():
        lines.append("%-11s" % name + "".join("%8d" % per_split[s][name] for s in splits)
                     + "%8d" % total)
    lines.append("split by an occluder: %d, touching same-class pairs: %d, large (>=1/4 width): %d, "
                 "small (<256 px): %d" % (summary["split_instances"], summary["touching_pairs"],
                                          summary["large_instances"], summary["small_instances"]))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    kwargs = dict(num_train=args.num_train, num_val=args.num_val, num_test=args.num_test,
                  seed=args.seed, height=args.height, width=args.width, workers=args.workers)
    try:
        try:
            summary = generate_synthcity(args.out, **kwargs)
        except SynthCityDirectoryError:
            if not (args.force and read_manifest(args.out) is not None):
                raise
            print("--force: removing the SynthCity in %s made with %s"
                  % (args.out, read_manifest(args.out)["arguments"]))
            remove_synthcity(args.out)
            summary = generate_synthcity(args.out, **kwargs)
    except (SynthCityDirectoryError, ValueError) as e:
        print("make_synthcity: error: %s" % e, file=sys.stderr)
        return 2
    summary["out_dir"] = args.out
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
