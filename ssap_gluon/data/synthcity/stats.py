"""Counts that document the paper's cases, read back from the label maps (not
from the sampler): per frame, and summed over a dataset for its manifest."""
import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label

from ..labels import THING_LABEL_IDS

def frame_statistics(label, inst, large_fraction=0.25, small_area=256, min_part=4):
    """Counts that document the paper's cases in a frame's ground truth.

    * ``instances``: {label id: number of thing instances (id >= 1000)}
    * ``groups``: {label id: crowd pixels (thing class, instance value < 1000)}
    * ``split``: instances whose mask has >= 2 8-connected parts of >= ``min_part`` px
    * ``touching``: pairs of same-class instances sharing a 4-neighbour boundary
    * ``large``: instances whose box spans >= ``large_fraction`` of the width
    * ``small``: instances with fewer than ``small_area`` pixels
    * ``pixels``: {label id: pixel count}
    """
    from scipy.ndimage import find_objects

    lcounts = np.bincount(label.ravel(), minlength=256)
    inst = np.asarray(inst, np.int64)
    counts = np.bincount(inst.ravel())
    ids = np.flatnonzero(counts)
    stats = {"instances": {}, "groups": {}, "split": 0, "touching": 0, "large": 0, "small": 0,
             "pixels": {int(i): int(lcounts[i]) for i in np.flatnonzero(lcounts)}}
    width = inst.shape[1]
    # dense index 1..n per value, so find_objects gives every instance's box in one pass
    index = np.zeros(counts.size, np.int32)
    index[ids] = np.arange(1, ids.size + 1)
    dense = index[inst]
    boxes = find_objects(dense)
    for j, i in enumerate(ids.tolist()):
        c = int(counts[i])
        if i >= 1000:
            stats["instances"][i // 1000] = stats["instances"].get(i // 1000, 0) + 1
            rows, cols = boxes[j]
            mask = (dense[rows, cols] == j + 1).astype(np.uint8)
            n, _, cc_stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            if int((cc_stats[1:, cv2.CC_STAT_AREA] >= min_part).sum()) >= 2:
                stats["split"] += 1
            if cols.stop - cols.start >= large_fraction * width:
                stats["large"] += 1
            if c < small_area:
                stats["small"] += 1
        elif i in THING_LABEL_IDS:
            stats["groups"][i] = c
    pairs = set()
    for a, b in ((inst[:, :-1], inst[:, 1:]), (inst[:-1, :], inst[1:, :])):
        m = (a != b) & (a >= 1000) & (b >= 1000) & (a // 1000 == b // 1000)
        if m.any():
            lo, hi = np.minimum(a[m], b[m]), np.maximum(a[m], b[m])
            pairs.update(zip(lo.tolist(), hi.tolist()))
    stats["touching"] = len(pairs)
    return stats

def dataset_summary(results, arguments, seconds):
    """The manifest's summary from every frame's ``(split, index, frame_statistics)``."""
    names = {i: id2label[i].name for i in THING_LABEL_IDS}
    per_split = {}
    total = {n: 0 for n in names.values()}
    groups = {n: 0 for n in names.values()}
    pixels = {}
    counters = {"split_instances": 0, "touching_pairs": 0, "large_instances": 0,
                "small_instances": 0}
    frames = {}
    for split, _, st in results:
        frames[split] = frames.get(split, 0) + 1
        ps = per_split.setdefault(split, {n: 0 for n in names.values()})
        for lid, n in st["instances"].items():
            ps[names[lid]] += n
            total[names[lid]] += n
        for lid in st["groups"]:
            groups[names[lid]] += 1
        for lid, n in st["pixels"].items():
            pixels[id2label[lid].name] = pixels.get(id2label[lid].name, 0) + n
        counters["split_instances"] += st["split"]
        counters["touching_pairs"] += st["touching"]
        counters["large_instances"] += st["large"]
        counters["small_instances"] += st["small"]
    all_px = float(sum(pixels.values())) or 1.0
    return {
        "arguments": arguments,
        "frames": {s: frames.get(s, 0) for s in ("train", "val", "test")},
        "instances": total,
        "instances_per_split": per_split,
        "frames_with_crowd_region": groups,
        "pixel_fraction": {k: round(v / all_px, 5) for k, v in sorted(pixels.items())},
        **counters,
        "seconds": round(seconds, 2),
    }
