"""A SynthCity directory on disk: file names, per-frame seeds, the manifest, and
:func:`generate_synthcity` / :func:`remove_synthcity`."""
import concurrent.futures
import multiprocessing
import os
import shutil
import time

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ...utils.io import write_json_atomic, write_png
from .frame import render_frame
from .stats import dataset_summary, frame_statistics

GENERATOR_VERSION = 2  # bump whenever the pixels change: old manifests then refuse a silent reuse
MANIFEST_NAME = "synthcity_manifest.json"
# Cityscapes annotates the 20th frame (number 19) of each 30-frame snippet.
FRAME_NUMBER = 19
# SynthCity's own cities (no underscores: cityscapesScripts splits stems on "_").
CITIES = {
    "train": ("alderwick", "brammelton", "corvanne", "dellmarsh"),
    "val": ("everholt", "fennick"),
    "test": ("gorsemoor", "hallowdene"),
}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}

# Label id -> Cityscapes colour (RGB); ids without a label stay black.
_COLOR_LUT = np.zeros((256, 3), np.uint8)
for _id, _label in id2label.items():
    if 0 <= _id < 256:
        _COLOR_LUT[_id] = _label.color

class SynthCityDirectoryError(ValueError):
    """The output directory holds something other than the requested SynthCity."""

def frame_stem(city, seq):
    return "%s_%06d_%06d" % (city, seq, FRAME_NUMBER)


def frame_paths(out_dir, split, city, seq):
    stem = frame_stem(city, seq)
    img = os.path.join(out_dir, "leftImg8bit", split, city, stem + "_leftImg8bit.png")
    gt = os.path.join(out_dir, "gtFine", split, city, stem + "_gtFine_")
    return {"image": img, "labelIds": gt + "labelIds.png", "instanceIds": gt + "instanceIds.png",
            "color": gt + "color.png"}


def frame_rng(seed, split, index):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_CODES[split], index)))


def frame_city(split, index):
    cities = CITIES[split]
    return cities[index % len(cities)], index // len(cities)


def _render_and_write(task):
    out_dir, split, index, seed, height, width = task
    city, seq = frame_city(split, index)
    image, label, inst = render_frame(height, width, frame_rng(seed, split, index), city)
    paths = frame_paths(out_dir, split, city, seq)
    write_png(paths["image"], image[:, :, ::-1])
    write_png(paths["labelIds"], label)
    write_png(paths["instanceIds"], inst)
    color = np.concatenate([_COLOR_LUT[label][:, :, ::-1],
                            np.full(label.shape + (1,), 255, np.uint8)], axis=2)
    write_png(paths["color"], color)
    return split, index, frame_statistics(label, inst)


def _worker_init():
    cv2.setNumThreads(1)


def read_manifest(out_dir):
    """The manifest dict of a SynthCity directory, or None if there is none."""
    import json
    path = os.path.join(out_dir, MANIFEST_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except ValueError as e:
        raise SynthCityDirectoryError("%s: unreadable SynthCity manifest (%s); delete it or use "
                                      "another directory" % (path, e))
    if not isinstance(manifest, dict) or manifest.get("generator") != "synthcity":
        raise SynthCityDirectoryError("%s is not a SynthCity manifest" % path)
    return manifest


def remove_synthcity(out_dir):
    """Delete a SynthCity dataset (only what the generator writes); refuses
    directories without a SynthCity manifest so real data is never touched."""
    if read_manifest(out_dir) is None:
        raise SynthCityDirectoryError(
            "%s has no %s: refusing to delete files SynthCity did not write" % (out_dir, MANIFEST_NAME))
    for sub in ("leftImg8bit", "gtFine"):
        shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
    os.unlink(os.path.join(out_dir, MANIFEST_NAME))


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError("generate_synthcity: %s must be an integer >= %d, got %r"
                         % (name, minimum, value))
    return int(value)

def generate_synthcity(out_dir, num_train=300, num_val=60, num_test=0, seed=0, height=256,
                       width=512, workers=None):
    """Write a SynthCity dataset under ``out_dir`` and return its summary.

    The summary (also stored in ``out_dir/synthcity_manifest.json``, written last)
    holds frames per split, thing instances per class (and per split), the number
    of split / touching / large / small instances and the seconds it took.

    Re-running with the same arguments on a complete dataset returns the stored
    summary without rendering. A directory holding a SynthCity made with other
    arguments, or any other non-empty directory, raises
    :class:`SynthCityDirectoryError` (use :func:`remove_synthcity` first).
    ``workers``: processes to render with (None: as many as useful, up to the
    CPU count); the output never depends on it.
    """
    arguments = {
        "num_train": _check_int("num_train", num_train, 0),
        "num_val": _check_int("num_val", num_val, 0),
        "num_test": _check_int("num_test", num_test, 0),
        "seed": _check_int("seed", seed, 0),
        "height": _check_int("height", height, 64),
        "width": _check_int("width", width, 64),
        "version": GENERATOR_VERSION,
    }
    if workers is not None:
        _check_int("workers", workers, 1)
    out_dir = os.fspath(out_dir)
    manifest = read_manifest(out_dir) if os.path.isdir(out_dir) else None
    if manifest is not None:
        if manifest.get("arguments") != arguments:
            raise SynthCityDirectoryError(
                "%s already holds a SynthCity made with %s; requested %s. Use another directory, "
                "or remove it first (scripts/make_synthcity.py --force)."
                % (out_dir, manifest.get("arguments"), arguments))
        if manifest.get("complete"):
            return dict(manifest["summary"], skipped=True)
    elif os.path.isdir(out_dir) and os.listdir(out_dir):
        raise SynthCityDirectoryError(
            "%s is not empty and holds no SynthCity (%s missing); choose an empty or new directory"
            % (out_dir, MANIFEST_NAME))
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, MANIFEST_NAME)
    write_json_atomic(manifest_path, {"generator": "synthcity", "complete": False,
                                      "arguments": arguments})
    start = time.perf_counter()
    tasks = [(out_dir, split, i, arguments["seed"], arguments["height"], arguments["width"])
             for split in ("train", "val", "test") for i in range(arguments["num_" + split])]
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(tasks) // 24))
    if workers == 1 or len(tasks) <= 1:
        results = [_render_and_write(t) for t in tasks]
    else:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may run mxnet
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx,
                                                    initializer=_worker_init) as pool:
            results = list(pool.map(_render_and_write, tasks, chunksize=4))
    summary = dataset_summary(results, arguments, time.perf_counter() - start)
    summary["workers"] = workers
    write_json_atomic(manifest_path, {"generator": "synthcity", "complete": True,
                                      "arguments": arguments, "summary": summary})
    return summary
