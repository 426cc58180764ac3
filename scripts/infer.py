#!/usr/bin/env python
"""Instance segmentation of image files with a trained SSAP network, with Fig. 6 panels.

    python scripts/infer.py --cfg CFG --weights W --images DIR|FILE --out OUT
        [--fig7] [--tile-width 512] [--no-progress] [--opts KEY VALUE ...]

For every image (``--images`` a file, or every *.png / *.jpg / *.jpeg under a
directory, recursively, in sorted order; Cityscapes annotation files
``*_gtFine_*`` / ``*_gtCoarse_*`` and anything under OUT are skipped):

* OUT/instance, OUT/panoptic, OUT/semantic, OUT/frames: the frame's
  predictions in the official Cityscapes formats
  (ssap_gluon/evaluation/frame_outputs.py; the frame record is written last);
* OUT/panels/<stem>.png: image | proposals from 1/16 | proposals from 1/8 |
  instances | ground truth (Fig. 6; ssap_gluon/inference/panels.py). The
  ground-truth tile is there when the image lies in a Cityscapes-layout tree
  (leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png with its
  gtFine/<split>/<city>/<stem>_gtFine_instanceIds.png);
* with --fig7, OUT/panels_fig7/<stem>.png: semantic segmentation in the
  Cityscapes colours | instances (Fig. 7);
* one JSON line in OUT/infer_log.jsonl (stem, image, size, times).

Stems: an image named <city>_<seq:06d>_<frame:06d>[_leftImg8bit].<ext> keeps
its Cityscapes stem. Any other name is sanitised into one, because the
official formats need it: every run of characters outside [A-Za-z0-9-]
becomes "-" and "_000000_000000" is appended ("my photo.jpg" ->
"my-photo_000000_000000"); when two images would get the same stem, the later
(in sorted order) counts up the frame number ("_000000_000001"). The log line
of a frame gives its stem and its image path.

Exit status: 0 done; 2 a problem with the arguments, config, weights, images
or output directory (one paragraph naming the file or key, no traceback).
docs/INFER.md has the details.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXIT_USER_ERROR = 2
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CITYSCAPES_IMAGE_SUFFIX = "_leftImg8bit"
#: Cityscapes annotation images, never inputs (a dataset root holds both).
ANNOTATION_RE = re.compile(r"_gt(Fine|Coarse)_[A-Za-z]+\.png$", re.IGNORECASE)
LOG_NAME = "infer_log.jsonl"
PANELS_DIR, FIG7_DIR = "panels", "panels_fig7"


class UserError(Exception):
    """A problem the user can fix (bad argument, file, config key); exit 2."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cfg", required=True, help="YAML config of the network (see configs/)")
    p.add_argument("--weights", required=True,
                   help=".params file (float32 or float16) or checkpoint directory")
    p.add_argument("--images", required=True,
                   help="an image file, or a directory searched recursively for "
                        "*.png / *.jpg / *.jpeg")
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    p.add_argument("--fig7", action="store_true",
                   help="also write Fig. 7 panels (semantic | instances) to OUT/%s" % FIG7_DIR)
    p.add_argument("--tile-width", type=int, default=512,
                   help="width of one panel tile in pixels (default 512)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides: KEY VALUE ...")
    return p.parse_args(argv)


# ------------------------------------------------------------------ inputs
def _inside(path, directory):
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def list_images(images, out_dir):
    """Absolute paths of the input images, sorted (module docstring)."""
    path = os.path.abspath(os.path.expanduser(images))
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise UserError("--images %s: no such file or directory" % path)
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _inside(os.path.join(root, d), out_dir))
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS) and not ANNOTATION_RE.search(name):
                found.append(os.path.join(root, name))
    if not found:
        raise UserError("--images %s: no images found (searched recursively for %s files, "
                        "skipping Cityscapes annotation files and the output directory)"
                        % (path, " / ".join("*" + e for e in IMAGE_EXTENSIONS)))
    return sorted(found)


def source_name(path):
    """File name without extension and without Cityscapes' ``_leftImg8bit``."""
    name = os.path.splitext(os.path.basename(path))[0]
    if name.endswith(CITYSCAPES_IMAGE_SUFFIX):
        name = name[:-len(CITYSCAPES_IMAGE_SUFFIX)]
    return name


def sanitise(name):
    """A name that is not a Cityscapes stem -> ``<name with [^A-Za-z0-9-] runs
    as '-'>`` (the city part of a stem; ``image`` if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "image"


def frame_stems(paths):
    """The output stem of every image (module docstring), unique over the run."""
    from ssap_gluon.evaluation._official import STEM_RE  # what the writers check

    stems = [None] * len(paths)
    owner = {}
    for i, path in enumerate(paths):
        name = source_name(path)
        if STEM_RE.match(name):
            if name in owner:
                raise UserError("%s and %s have the same Cityscapes frame name %s; their "
                                "outputs would overwrite each other. Run them separately."
                                % (paths[owner[name]], path, name))
            owner[name] = i
            stems[i] = name
    for i, path in enumerate(paths):
        if stems[i] is None:
            city, frame = sanitise(source_name(path)), 0
            while "%s_000000_%06d" % (city, frame) in owner:
                frame += 1
                if frame > 999999:
                    raise UserError("too many images named like %s" % path)
            stems[i] = "%s_000000_%06d" % (city, frame)
            owner[stems[i]] = i
    return stems


def ground_truth_path(image_path):
    """``gtFine/<split>/<city>/<stem>_gtFine_instanceIds.png`` of an image in a
    Cityscapes-layout tree, if that file exists; else ``None``."""
    name = os.path.basename(image_path)
    if not name.endswith(CITYSCAPES_IMAGE_SUFFIX + ".png"):
        return None
    city_dir = os.path.dirname(image_path)
    split_dir = os.path.dirname(city_dir)
    kind_dir = os.path.dirname(split_dir)
    if os.path.basename(kind_dir) != "leftImg8bit":
        return None
    gt = os.path.join(os.path.dirname(kind_dir), "gtFine", os.path.basename(split_dir),
                      os.path.basename(city_dir),
                      name[:-len(CITYSCAPES_IMAGE_SUFFIX + ".png")] + "_gtFine_instanceIds.png")
    return gt if os.path.isfile(gt) else None


def read_rgb(path):
    import cv2

    from ssap_gluon.utils.io import read_image

    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR, expect_channels=3),
                        cv2.COLOR_BGR2RGB)


def read_ground_truth(path, shape):
    """``(instances (H, W) or None, problem or None)`` from an instanceIds PNG."""
    import cv2

    from ssap_gluon.inference.panels import ground_truth_instances
    from ssap_gluon.utils.io import ImageReadError, read_image

    try:
        ids = read_image(path, cv2.IMREAD_UNCHANGED, expect_channels=1)
    except ImageReadError as e:
        return None, str(e)
    if ids.shape != tuple(shape):
        return None, "%s is %dx%d, the image %dx%d" % (path, ids.shape[0], ids.shape[1],
                                                       shape[0], shape[1])
    return ground_truth_instances(ids), None


def check_out_dir(out):
    """The absolute output directory; refused if it is a file (created later,
    once everything else checked out)."""
    out = os.path.abspath(os.path.expanduser(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError("--out %s is a file, not a directory; give a directory for the "
                        "predictions and panels" % out)
    return out


def make_out_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UserError("--out %s: cannot create the output directory (%s)"
                        % (out, e.strerror or e)) from None
    if not os.access(out, os.W_OK):
        raise UserError("--out %s: the output directory is not writable" % out)


# ------------------------------------------------------------------ config
def class_metadata(cfg):
    """What the predictor needs of a dataset, from the config alone (no split
    on disk): ssap_gluon.data.dataset_classes."""
    from ssap_gluon.data import dataset_classes

    if cfg.DATASET.NAME != "cityscapes":
        raise UserError(
            "config key DATASET.NAME: %r; infer.py writes the Cityscapes formats "
            "(instance / panoptic / semantic, label ids of cityscapesScripts), so it "
            "runs Cityscapes-class networks only (DATASET.NAME cityscapes)"
            % cfg.DATASET.NAME)
    return dataset_classes(cfg)


def load(cfg_path, opts):
    from ssap_gluon.config import load_config

    if not os.path.isfile(cfg_path):
        raise UserError("--cfg %s: no such config file" % os.path.abspath(cfg_path))
    if len(opts) % 2:
        raise UserError("--opts takes KEY VALUE pairs; %r has no value" % opts[-1])
    cfg = load_config(cfg_path, list(opts))
    # The backbone's ImageNet weights are replaced by --weights anyway: never
    # require them to be on disk for inference.
    cfg.defrost()
    cfg.MODEL.PRETRAINED = ""
    cfg.freeze()
    return cfg


# ------------------------------------------------------------------ outputs
def append_jsonl(path, record):
    """Append one line with a single ``write`` on an ``O_APPEND`` descriptor
    (never interleaved with another writer's line, never half a line), fsync'ed."""
    data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError("short write to %s (%d of %d bytes)" % (path, written, len(data)))
        os.fsync(fd)
    finally:
        os.close(fd)


def process(predictor, meta, path, stem, out, args):
    """Predict one image, write its outputs and panels; return the log record."""
    import numpy as np

    from ssap_gluon.evaluation.frame_outputs import write_frame_outputs
    from ssap_gluon.inference.panels import fig6_from_prediction, fig7_panel, write_panel

    image = read_rgb(path)
    prediction = predictor(image)
    geometry = prediction.geometry
    frame = prediction.instances
    gt_file = ground_truth_path(path)
    gt, gt_problem = (read_ground_truth(gt_file, image.shape[:2]) if gt_file
                      else (None, None))
    cascade_ms = {k: 1000.0 * float(v) for k, v in prediction.cascade.timings.items()}
    record = {
        "stem": stem, "image": path, "height": int(image.shape[0]),
        "width": int(image.shape[1]),
        "network_ms": 1000.0 * prediction.network_seconds,
        "gp_ms": 1000.0 * prediction.gp_seconds,
        "assemble_ms": 1000.0 * prediction.assemble_seconds,
        "num_instances": len(frame), "cascade_ms": cascade_ms,
        "ground_truth": gt_file if gt is not None else None,
    }
    if gt_problem:
        record["ground_truth_problem"] = gt_problem
    write_frame_outputs(out, stem, frame, meta.label_ids,
                        {"image": path, "network_seconds": prediction.network_seconds,
                         "gp_seconds": prediction.gp_seconds, "cascade_timings":
                         dict(prediction.cascade.timings)})
    panel, info = fig6_from_prediction(image, prediction, geometry, gt,
                                       tile_width=args.tile_width)
    record["panel"] = os.path.join(out, PANELS_DIR, stem + ".png")
    write_panel(record["panel"], panel)
    if args.fig7:
        record["panel_fig7"] = os.path.join(out, FIG7_DIR, stem + ".png")
        label_ids = np.asarray(meta.label_ids)[frame.semantic]
        write_panel(record["panel_fig7"],
                    fig7_panel(image, label_ids, frame.instance_map, info["instance_keys"],
                               tile_width=args.tile_width))
    return record


def run(args):
    from ssap_gluon.inference import Predictor

    if args.tile_width < 16:
        raise UserError("--tile-width %d: must be at least 16 pixels" % args.tile_width)
    out = check_out_dir(args.out)
    paths = list_images(args.images, out)
    stems = frame_stems(paths)
    cfg = load(args.cfg, args.opts)
    meta = class_metadata(cfg)
    weights = os.path.abspath(os.path.expanduser(args.weights))
    if not os.path.exists(weights):
        raise UserError("--weights %s: no such file or directory (expected a .params file or "
                        "a checkpoint directory)" % weights)
    predictor = Predictor.from_config(cfg, weights=weights, dataset=meta)
    make_out_dir(out)

    from tqdm import tqdm

    log = os.path.join(out, LOG_NAME)
    done = 0
    bar = tqdm(list(zip(paths, stems)), disable=args.no_progress, unit="frame",
               dynamic_ncols=True, file=sys.stderr)
    for path, stem in bar:
        record = process(predictor, meta, path, stem, out, args)
        append_jsonl(log, record)
        done += 1
        bar.set_postfix(instances=record["num_instances"],
                        gp_ms="%.0f" % record["gp_ms"], refresh=False)
    bar.close()
    print("%d frame(s) -> %s (panels in %s, log %s)"
          % (done, out, os.path.join(out, PANELS_DIR), log))
    return 0


def user_errors():
    from ssap_gluon.config import ConfigError
    from ssap_gluon.data.base import DatasetError
    from ssap_gluon.inference.weights import WeightsError
    from ssap_gluon.model.backbone import PretrainedWeightsError
    from ssap_gluon.utils.io import ImageReadError

    return (UserError, ConfigError, DatasetError, WeightsError, ImageReadError,
            PretrainedWeightsError)


def main(argv=None):
    args = parse_args(argv)
    import ssap_gluon  # noqa: F401  (preloads the CUDA libraries of mxnet-cu112)

    try:
        return run(args)
    except user_errors() as e:
        print("error: %s" % e, file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
