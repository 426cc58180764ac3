"""Dataset statistics: frames, class pixel histogram, instances per class, instance sizes.

Computed from the decoded labels at full resolution (no augmentation), so the
numbers are what the sample contract says: void/unlabeled pixels counted
under "ignore", crowd regions separately, instance sizes in source pixels.
"""
import collections
import multiprocessing
import os

import numpy as np

#: Default instance-size bin edges in pixels (the last bin is open). They start
#: at 100 px, the smallest region cityscapesScripts' AP evaluation counts.
DEFAULT_SIZE_BINS = (0, 100, 400, 1600, 6400, 25600, 102400)

_WORKER_DATASET = None


def frame_statistics(semantic, instance, num_classes, ignore_label):
    """Counts of one decoded frame (see :func:`summarize_dataset` for the fields)."""
    sem = semantic.ravel()
    ins = instance.ravel()
    labelled = sem != ignore_label
    if (sem[labelled] >= num_classes).any() or (sem[labelled] < 0).any():
        raise ValueError("semantic values outside 0..%d and %d" % (num_classes - 1, ignore_label))
    class_pixels = np.bincount(sem[labelled], minlength=num_classes)
    ids, first, sizes = np.unique(ins[ins > 0], return_index=True, return_counts=True)
    classes = sem[ins > 0][first]
    return {
        "height": int(semantic.shape[0]), "width": int(semantic.shape[1]),
        "class_pixels": class_pixels.astype(np.int64),
        "ignore_pixels": int((~labelled).sum()),
        "crowd_pixels": int(((ins < 0) & labelled).sum()),
        "instances": list(zip(classes.tolist(), sizes.tolist())),
    }


def _worker_init(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _worker_frame(index):
    ds = _WORKER_DATASET
    semantic, instance = ds.load_labels(index)
    return frame_statistics(semantic, instance, ds.num_classes, ds.ignore_label)


def summarize_dataset(dataset, size_bins=DEFAULT_SIZE_BINS, workers=1):
    """Statistics of every frame of ``dataset`` (a dataset with ``load_labels``).

    Returns a dict: ``frames``, ``frame_sizes`` (``"HxW" -> count``),
    ``class_names``, ``class_pixels`` (per class), ``ignore_pixels``,
    ``crowd_pixels`` (labelled pixels with instance -1), ``instances_per_class``
    (thing classes), ``size_bins`` (edges), ``size_histogram`` (thing class ->
    counts per bin), ``instances_per_frame`` (mean, max). Without labels, only
    ``frames`` and ``labels: False``.
    """
    n = len(dataset)
    if not getattr(dataset, "with_labels", True):
        return {"frames": n, "labels": False}
    edges = np.asarray(list(size_bins), dtype=np.int64)
    if edges.size == 0 or (np.diff(edges) <= 0).any() or edges[0] < 0:
        raise ValueError("size bins must be increasing, non-negative pixel counts, got %r"
                         % (list(size_bins),))
    if workers > 1 and n > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, initializer=_worker_init, initargs=(dataset,)) as pool:
            frames = pool.map(_worker_frame, range(n), chunksize=max(1, n // (8 * workers)))
    else:
        _worker_init(dataset)
        frames = [_worker_frame(i) for i in range(n)]

    num_classes = dataset.num_classes
    class_pixels = np.zeros(num_classes, np.int64)
    per_class = collections.Counter()
    hist = {c: np.zeros(len(edges), np.int64) for c in dataset.thing_train_ids}
    sizes = collections.Counter()
    per_frame = []
    ignore = crowd = 0
    for f in frames:
        class_pixels += f["class_pixels"]
        ignore += f["ignore_pixels"]
        crowd += f["crowd_pixels"]
        sizes["%dx%d" % (f["height"], f["width"])] += 1
        per_frame.append(len(f["instances"]))
        for cls, size in f["instances"]:
            per_class[cls] += 1
            if cls not in hist:  # an instance on a class not declared a thing class
                hist[cls] = np.zeros(len(edges), np.int64)
            hist[cls][np.searchsorted(edges, size, side="right") - 1] += 1
    return {
        "frames": n,
        "labels": True,
        "frame_sizes": dict(sizes),
        "class_names": list(dataset.class_names),
        "thing_train_ids": list(dataset.thing_train_ids),
        "class_pixels": class_pixels.tolist(),
        "ignore_pixels": int(ignore),
        "crowd_pixels": int(crowd),
        "instances_per_class": {int(c): int(per_class[c]) for c in sorted(hist)},
        "size_bins": edges.tolist(),
        "size_histogram": {int(c): hist[c].tolist() for c in sorted(hist)},
        "instances_per_frame": {"mean": float(np.mean(per_frame)) if per_frame else 0.0,
                                "max": int(max(per_frame)) if per_frame else 0},
    }


def _bin_labels(edges):
    out = []
    for i, lo in enumerate(edges):
        out.append("%d-%d" % (lo, edges[i + 1] - 1) if i + 1 < len(edges) else ">=%d" % lo)
    return out


def format_summary(name, summary):
    """A plain-text report of one split's summary."""
    lines = ["== %s: %d frames" % (name, summary["frames"])]
    if not summary.get("labels", True):
        lines.append("   (no labels loaded for this split)")
        return "\n".join(lines)
    lines[0] += " (%s)" % ", ".join("%s: %d" % kv for kv in sorted(summary["frame_sizes"].items()))
    names = summary["class_names"]
    total = sum(summary["class_pixels"]) + summary["ignore_pixels"]
    lines.append("")
    lines.append("  %-3s %-20s %14s %7s" % ("id", "class", "pixels", "share"))
    for c, count in enumerate(summary["class_pixels"]):
        thing = "*" if c in summary["thing_train_ids"] else " "
        lines.append("  %-3d %-20s %14d %6.2f%%" % (c, names[c] + thing, count,
                                                   100.0 * count / max(total, 1)))
    lines.append("  %-3s %-20s %14d %6.2f%%" % ("", "ignore (void)", summary["ignore_pixels"],
                                               100.0 * summary["ignore_pixels"] / max(total, 1)))
    lines.append("  %-3s %-20s %14d %6.2f%%  (labelled, instance -1)"
                 % ("", "crowd", summary["crowd_pixels"],
                    100.0 * summary["crowd_pixels"] / max(total, 1)))
    lines.append("  (* thing class)")
    lines.append("")
    bins = _bin_labels(summary["size_bins"])
    width = max(9, max(len(b) for b in bins) + 1)
    lines.append("  instances by size (pixels):")
    lines.append("  %-20s %9s" % ("class", "instances") + "".join("%*s" % (width, b) for b in bins))
    totals = np.zeros(len(bins), np.int64)
    for c, hist in summary["size_histogram"].items():
        c = int(c)
        totals += np.asarray(hist)
        lines.append("  %-20s %9d" % (names[c] if c < len(names) else str(c),
                                      summary["instances_per_class"][c])
                     + "".join("%*d" % (width, v) for v in hist))
    lines.append("  %-20s %9d" % ("all", int(totals.sum()))
                 + "".join("%*d" % (width, v) for v in totals))
    lines.append("  instances per frame: mean %.2f, max %d"
                 % (summary["instances_per_frame"]["mean"], summary["instances_per_frame"]["max"]))
    return "\n".join(lines)


def default_workers(num_frames):
    """Parallel only when it pays for the process start-up."""
    return 1 if num_frames < 400 else max(1, min(os.cpu_count() or 1, 8))
