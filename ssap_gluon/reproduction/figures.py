"""Figures the table scripts draw from their own runs.

Fig. 5: graph-partition time per frame against the size of the frame's
objects (mean area of its ground-truth instances), non-cascaded (init 1/4)
against cascaded (init 1/16), from the frame records of Table 4's rows.
"""
import json
import os

import numpy as np

__all__ = ["fig5", "fig5_points"]

CURVES = (("table4_init_s4", "non-cascaded (init 1/4)"),
          ("table4_init_s16", "cascaded (init 1/16)"))


def fig5_points(table_dir, row):
    """``(mean object area, GP seconds)`` of every frame record of a row."""
    frames = os.path.join(table_dir, row, "frames")
    points = []
    if os.path.isdir(frames):
        for name in sorted(os.listdir(frames)):
            with open(os.path.join(frames, name), encoding="utf-8") as f:
                record = json.load(f)
            if record.get("gp_seconds") is not None and "mean_object_area" in record:
                points.append((record["mean_object_area"], record["gp_seconds"]))
    return np.asarray(points, np.float64).reshape(-1, 2)


def fig5(setting, table_dir, results, path=None, bins=6):
    """Draw Fig. 5 (PNG); returns its path, or None without both rows' records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..utils.io import write_bytes_atomic

    curves = [(label, fig5_points(table_dir, row)) for row, label in CURVES]
    if any(p.shape[0] == 0 for _, p in curves):
        return None
    path = path or os.path.join(setting.out, "figures", "fig5.png")
    areas = np.concatenate([p[:, 0] for _, p in curves])
    edges = np.quantile(areas, np.linspace(0, 1, bins + 1)) if areas.size > bins else None
    fig, ax = plt.subplots(figsize=(6, 4))
    for (label, pts), colour in zip(curves, ("tab:red", "tab:blue")):
        ax.scatter(pts[:, 0], 1000 * pts[:, 1], s=8, alpha=0.35, color=colour)
        if edges is not None:
            centres, means = [], []
            for lo, hi in zip(edges[:-1], edges[1:]):
                inside = (pts[:, 0] >= lo) & (pts[:, 0] <= hi)
                if inside.any():
                    centres.append(pts[inside, 0].mean())
                    means.append(1000 * pts[inside, 1].mean())
            ax.plot(centres, means, "-o", color=colour, label=label)
        else:
            ax.plot([], [], color=colour, label=label)
    ax.set_xlabel("mean object size in the frame (ground-truth instance area, px)")
    ax.set_ylabel("graph partition time per frame (ms)")
    title = "Fig. 5 on %s" % ("SynthCity (embedded default)" if setting.embedded
                              else "Cityscapes")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_bytes_atomic(path, buf.getvalue())
    return path
