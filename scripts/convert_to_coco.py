#!/usr/bin/env python
"""Write a split of a Cityscapes-layout dataset (Cityscapes, SynthCity) as COCO panoptic.

    python scripts/convert_to_coco.py --root data/synthcity --split val --out /tmp/synthcity_coco
        [--copy-images] [--force] [--no-progress]

Writes OUT/annotations/panoptic_<split>2017.json, OUT/annotations/panoptic_<split>2017/*.png
and OUT/<split>2017/ (the images, symlinked unless --copy-images): the layout the
DATASET.COCO_* patterns read. Categories are the 19 evaluated Cityscapes classes in
train-id order (ids = labelIds). OUT must be missing or empty unless --force
(which replaces only this split's three targets). See docs/DATA.md.

Exit status: 0 done; 2 a problem with the arguments or the data (one line naming
the path, no traceback).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXIT_USER_ERROR = 2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="dataset root (holds leftImg8bit/ and gtFine/)")
    p.add_argument("--split", required=True, help="split folder name: train, val, ...")
    p.add_argument("--out", required=True, help="output root of the COCO layout")
    p.add_argument("--copy-images", action="store_true",
                   help="copy the images instead of symlinking them")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty --out (replaces this split's files there)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ssap_gluon.data.base import DatasetError
    from ssap_gluon.data.coco_convert import convert_to_coco_panoptic
    from ssap_gluon.utils.io import ImageReadError

    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(desc="convert %s" % args.split, total=total, unit="frame",
                       dynamic_ncols=True)
        bar.update(1)

    try:
        summary = convert_to_coco_panoptic(args.root, args.split, args.out,
                                           link_images=not args.copy_images, force=args.force,
                                           progress=None if args.no_progress else progress)
    except (DatasetError, ImageReadError, OSError) as e:
        if bar is not None:
            bar.close()
        print("convert_to_coco: error: %s" % " ".join(str(e).split()), file=sys.stderr)
        return EXIT_USER_ERROR
    if bar is not None:
        bar.close()
    s = summary["segments"]
    print("split %s of %s -> %s: %d frame(s), %d thing instance(s), %d crowd and %d stuff "
          "segment(s); images %s" % (summary["split"], summary["root"], summary["out_root"],
                         summary["frames"], s["things"], s["crowd"], s["stuff"],
                         "symlinked" if summary["linked_images"] else "copied"))
    print("  %s" % summary["json"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
