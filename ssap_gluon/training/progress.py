"""Training logs: the JSONL of logged steps, the tqdm bar, the loss-curve PNG.

``metrics.jsonl`` holds one JSON object per logged iteration (``"kind":
"train"``) and per validation (``"kind": "val"``). ``iteration`` counts
*completed* iterations: the record of iteration ``k`` is the loss computed by
the ``k``-th update (0-based index ``k - 1``), and a checkpoint of iteration
``k`` continues with that same ``k + 1``-th record. A resumed run first drops
the records after its checkpoint, so the file always describes one curve.
"""
import io
import json
import logging
import math
import os
import sys

import numpy as np

from ..utils.io import write_bytes_atomic

LOGGER_NAME = "ssap_gluon.training"


def get_logger():
    return logging.getLogger(LOGGER_NAME)


class TqdmHandler(logging.Handler):
    """Log records printed above a live tqdm bar instead of through it."""

    def emit(self, record):
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break training
            self.handleError(record)


def setup_logging(output_dir=None, rank=0, level=logging.INFO):
    """Console (tqdm-safe) + ``output_dir/train.log`` handlers on the training logger."""
    logger = get_logger()
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_ssap_training", False):
            logger.removeHandler(handler)
            handler.close()
    fmt = logging.Formatter("%(asctime)s [rank " + str(rank) + "] %(levelname)s %(message)s",
                            "%H:%M:%S")
    console = TqdmHandler()
    console.setFormatter(fmt)
    console._ssap_training = True
    logger.addHandler(console)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        name = "train.log" if rank == 0 else "train.rank%d.log" % rank
        file_handler = logging.FileHandler(os.path.join(output_dir, name))
        file_handler.setFormatter(fmt)
        file_handler._ssap_training = True
        logger.addHandler(file_handler)
    logger.propagate = False
    return logger


def read_metrics(path, kind=None):
    """Records of a metrics JSONL; a torn last line (killed writer) is skipped."""
    records = []
    if not os.path.isfile(path):
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if kind is None or record.get("kind") == kind:
                records.append(record)
    return records


class MetricsLog:
    """Append-only JSONL of logged steps, flushed and fsync'ed per record."""

    def __init__(self, path):
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def truncate_after(self, iteration):
        """Keep only records of iterations ``<= iteration`` (atomic rewrite)."""
        kept = [r for r in read_metrics(self.path) if r.get("iteration", 0) <= iteration]
        data = "".join(json.dumps(r) + "\n" for r in kept)
        write_bytes_atomic(self.path, data.encode("utf-8"))
        return len(kept)

    def append(self, record):
        line = json.dumps(record, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def moving_average(values, window):
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or window <= 1:
        return values
    window = min(window, len(values))
    kernel = np.ones(window) / window
    head = np.cumsum(values[:window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def plot_loss_curve(records, png_path, title=""):
    """Total loss (raw + moving average), per-level terms and lr vs iteration -> PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if r.get("kind", "train") == "train" and "loss" in r]
    val = [r for r in records if r.get("kind") == "val" and "mIoU" in r]
    if not train:
        raise ValueError("no training records to plot for %s" % png_path)
    it = np.array([r["iteration"] for r in train])
    loss = np.array([r["loss"] for r in train])
    fig, axes = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    ax = axes[0]
    ax.plot(it, loss, color="0.7", lw=0.8, label="total loss (logged step)")
    ax.plot(it, moving_average(loss, max(1, len(loss) // 20)), color="C0", lw=1.8,
            label="moving average")
    ax.set_ylabel("Eq. 10 total loss")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    lr_ax = ax.twinx()
    lr_ax.plot(it, [r.get("lr", math.nan) for r in train], color="C3", lw=1, ls="--",
               label="learning rate")
    lr_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate", color="C3")
    lines = ax.get_legend_handles_labels()
    lr_lines = lr_ax.get_legend_handles_labels()
    ax.legend(lines[0] + lr_lines[0], lines[1] + lr_lines[1], loc="upper right", fontsize=8)
    if val:
        v_ax = ax.twinx()
        v_ax.spines["right"].set_position(("axes", 1.12))
        v_ax.plot([r["iteration"] for r in val], [r["mIoU"] for r in val], "o-", color="C2",
                  label="val mIoU")
        v_ax.set_ylabel("val semantic mIoU", color="C2")
    ax = axes[1]
    terms = [k for k in train[-1] if k.startswith(("semantic_s", "affinity_s"))]
    for i, key in enumerate(terms):
        values = [r.get(key, math.nan) for r in train]
        ax.plot(it, moving_average(values, max(1, len(values) // 20)), lw=1.2,
                ls="-" if key.startswith("semantic") else "--", label=key)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("per-level terms (unweighted)")
    ax.grid(True, which="both", alpha=0.3)
    if terms:
        ax.legend(ncol=2, fontsize=7)
    fig.suptitle(title or "training loss")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_bytes_atomic(png_path, buf.getvalue())
    return png_path


class ProgressBar:
    """tqdm bar over iterations: loss, lr, images/s; tqdm's own ETA.

    With ``term_weights`` (``SSAPLoss.term_weights``) it also shows the
    weighted semantic and affinity parts of Eq. 10, ``Ls`` and ``La``, which
    add up to the loss.
    """

    def __init__(self, start, total, enabled=True, term_weights=None):
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=start, disable=not enabled, dynamic_ncols=True,
                         unit="it", desc="train", smoothing=0.05)
        self.term_weights = dict(term_weights or {})
        self.postfix = {}

    def weighted_parts(self, terms):
        """``{"Ls": sum of weighted semantic terms, "La": ... affinity terms}``."""
        parts = {}
        for prefix, name in (("semantic", "Ls"), ("affinity", "La")):
            keys = [k for k in terms if k.startswith(prefix) and k in self.term_weights]
            if keys:
                parts[name] = sum(self.term_weights[k] * terms[k] for k in keys)
        return parts

    def update(self, loss, lr, images_per_s, terms=None):
        postfix = {"loss": "%.4g" % loss, "lr": "%.1e" % lr, "img/s": "%.2f" % images_per_s}
        for name, value in self.weighted_parts(terms or {}).items():
            postfix[name] = "%.3g" % value
        self.postfix = postfix
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def close(self):
        self._bar.close()
