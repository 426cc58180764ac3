"""Our numbers beside the paper's (``scripts/test.py`` prints these and saves them).

* val split of a Cityscapes-layout dataset: Table 8 (every method of the
  paper's Table 8, the SSAP rows included) plus our row -> ``DIR/table8.md``;
* COCO panoptic val: Table 9's "PQ [val]" column plus ours -> ``DIR/table9.md``;
* Cityscapes test: Table 10 with a row saying where our scores come from
  (the server) -> ``DIR/table10.md``.

The header states the dataset, the frames and why our numbers are not
comparable with the paper's when they are not (SynthCity, a subset of the
split, the oracle, an untrained network).
"""
from ..reproduction import paper_table

__all__ = ["comparison_markdown", "comparability", "backbone_name", "CITYSCAPES_VAL_FRAMES"]

CITYSCAPES_VAL_FRAMES = 500


def backbone_name(backbone):
    """``resnet50_v1b`` -> ``ResNet-50 (resnet50_v1b)``."""
    import re

    m = re.match(r"resnet(\d+)_v1", backbone or "")
    return "ResNet-%s (%s)" % (m.group(1), backbone) if m else str(backbone)


def comparability(metrics):
    """Reasons our numbers cannot be set against the paper's (empty: comparable)."""
    d = metrics["dataset"]
    reasons = []
    if d["kind"].startswith("SynthCity"):
        reasons.append("SynthCity is a synthetic stand-in for Cityscapes (other images, frame "
                       "size and statistics): its numbers are not comparable with the paper's "
                       "%s numbers" % ("COCO" if "COCO" in d["kind"] else "Cityscapes"))
    if d["frames"] < d["frames_in_split"]:
        reasons.append("only %d of the split's %d frames were evaluated"
                       % (d["frames"], d["frames_in_split"]))
    elif d["kind"] == "Cityscapes" and d["split"] == "val" and \
            d["frames_in_split"] != CITYSCAPES_VAL_FRAMES:
        reasons.append("this val split has %d frames, Cityscapes val has %d"
                       % (d["frames_in_split"], CITYSCAPES_VAL_FRAMES))
    if metrics["mode"] == "oracle":
        reasons.append("--oracle: the ground truth replaced the network (an upper bound of the "
                       "graph partition, not a result)")
    if metrics.get("random_init"):
        reasons.append("--random-init: an untrained network (timing only)")
    return reasons


def _pct(value):
    return "-" if value is None else "%.1f" % (100.0 * value)


def _num(value):
    """A paper number as printed: one decimal for percentages, "-" for null."""
    return "-" if value is None else ("%.1f" % value if isinstance(value, float) else str(value))


def _markdown(titles, rows):
    lines = ["| " + " | ".join(titles) + " |", "|" + "|".join("---" for _ in titles) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _our_method(metrics):
    if metrics["mode"] == "oracle":
        return "**ours: oracle (ground truth)**"
    if metrics.get("random_init"):
        return "**ours: untrained network**"
    return "**ours (ssap-gluon)**"


def comparison_markdown(metrics):
    """``(table name, markdown text)`` of our row beside the paper's table."""
    d = metrics["dataset"]
    reasons = comparability(metrics)
    where = "%s %s, %d frame%s" % (d["kind"], d["split"], d["frames"],
                                   "" if d["frames"] == 1 else "s")
    coco = "COCO panoptic" in d["kind"]
    if d["split"] != "val" and not coco:
        name, table = "table10", paper_table(10)
        rows = [[_num(r[k]) if k not in ("method", "training_data") else r[k] for k in table.keys]
                for r in table.rows]
        ours = ["**ours (ssap-gluon)**", "fine"] + ["server"] * (len(table.keys) - 2)
        header = ["# Table 10: %s (benchmark server archive)" % where, "",
                  "Our predictions of %s are in the server archive %s; the scores come from the "
                  "server, none are computed here." % (where, (metrics.get("submission") or {})
                                                     .get("archives"))]
    elif coco:
        name, table = "table9", paper_table(9)
        keys = ["method", "PQ_val"]
        rows = [[r["method"], _num(r["PQ_val"])] for r in table.rows]
        ours = [_our_method(metrics), _pct(metrics.get("PQ"))]
        header = ["# Table 9 (PQ [val] column): %s" % where, "",
                  "Our PQ / PQTh / PQSt on these frames: %s / %s / %s (cityscapesScripts' "
                  "pq_compute_single_core + average_pq). The paper's other Table 9 columns are "
                  "COCO test-dev." % (_pct(metrics.get("PQ")), _pct(metrics.get("PQ_Th")),
                                      _pct(metrics.get("PQ_St")))]
        table = type(table)(table.name, table.caption, table.dataset,
                            tuple(c for c in table.columns if c[0] in keys), table.rows)
    else:
        name, table = "table8", paper_table(8)
        rows = [[r["method"], _num(r["AP"]), _num(r["PQ_Th"]), _num(r["PQ"]),
                 r["backbone"] or "-"] for r in table.rows]
        ours = [_our_method(metrics), _pct(metrics.get("AP")), _pct(metrics.get("PQ_Th")),
                _pct(metrics.get("PQ")), "- (no network)" if metrics["mode"] == "oracle"
                else backbone_name(metrics.get("backbone"))]
        header = ["# Table 8: %s" % where, "",
                  "Our AP / PQTh / PQ from cityscapesScripts on %s; the other rows are the "
                  "paper's Table 8 (Cityscapes val, 500 frames)." % where]
    header.append("")
    if reasons:
        header.append("**NOT COMPARABLE with the paper's numbers:** " + "; ".join(reasons) + ".")
    else:
        header.append("Comparable with the paper's rows (same dataset, split and metric code).")
    header.append("")
    text = "\n".join(header) + "\n" + _markdown(table.titles, rows + [ours]) + "\n"
    return name, text
