#!/usr/bin/env python
"""Measure the inference choices the paper leaves open on one model.

    python scripts/measure_choices.py [--weights W] [--max-frames N] [--out DIR]
        [--no-progress] [--opts KEY VALUE ...]

Every variant is the shipped SynthCity model's config (configs/synthcity_r18.yaml)
with one ``TEST.*`` key changed from its default; the network runs once per
frame for all of them, and each variant runs its own cascade and the official
evaluators. Prints one markdown table (AP, AP50, PQ_Th, PQ, graph-partition
time per frame) and writes it with a JSON copy to ``--out`` (default
output/choices). docs/INFERENCE.md section 8 and docs/REPRODUCTION.md quote it.
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

#: (name, what it changes, config overrides); the first row is the default.
VARIANTS = (
    ("default", "the shipped config", []),
    ("min_area_16", "keep instances of 16-99 px", ["TEST.MIN_INSTANCE_AREA", "16"]),
    ("mask_nearest", "1/4 labels upsampled (nearest)", ["TEST.MASK_UPSAMPLING", "nearest"]),
    ("seed_coarser_proposals", "refinement seeded by the 1/8 proposals",
     ["TEST.REFINEMENT_SEED", "coarser_proposals"]),
    ("seed_warm_start", "refinement warm-started from the per-class labels",
     ["TEST.REFINEMENT_SEED", "warm_start"]),
    ("no_refinement", "no segmentation refinement (Eq. 6-8 off)",
     ["TEST.SEGMENTATION_REFINEMENT", "False"]),
    ("no_proposal_check", "the paper's proposals as is", ["TEST.PROPOSAL_CHECK", "False"]),
    ("no_long_range_edges", "no long-range pairs of coarser levels",
     ["TEST.LONG_RANGE_EDGES", "False"]),
    ("score_x_affinity", "score = class probability x mean affinity",
     ["TEST.SCORE", "semantic_x_affinity"]),
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None,
                   help="weights to evaluate (default: the shipped SynthCity model)")
    p.add_argument("--max-frames", type=int, default=0, help="the first N val frames only")
    p.add_argument("--out", default=os.path.join("output", "choices"))
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                   help="config overrides for every variant: KEY VALUE ...")
    return p.parse_args(argv)


def _row(name, what, metrics):
    gp = (metrics.get("timing") or {}).get("gp_ms") or {}

    def pct(key):
        v = metrics.get(key)
        return "—" if v is None else "%.1f" % (100.0 * v)

    return "| %s | %s | %s | %s | %s | %s | %s |" % (
        name, what, pct("AP"), pct("AP50"), pct("PQ_Th"), pct("PQ"),
        "%.1f" % gp["mean"] if gp.get("mean") is not None else "—")


def main(argv=None):
    args = parse_args(argv)
    if len(args.opts) % 2:
        print("error: --opts takes KEY VALUE pairs; %r has no value" % args.opts[-1],
              file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.chdir(REPO)  # configs name data/synthcity relative to the repository
    import ssap_gluon  # noqa: F401
    from ssap_gluon.config import ConfigError, load_config
    from ssap_gluon.data import DatasetError
    from ssap_gluon.evaluation import EvaluationError
    from ssap_gluon.inference.weights import WeightsError
    from ssap_gluon.reproduction.engine import infer_rows, make_setting, model_weights
    from ssap_gluon.reproduction.shipped import ShippedModelError
    from ssap_gluon.utils.io import write_bytes_atomic, write_json_atomic

    try:
        setting = make_setting(REPO, "synthcity", out, opts=args.opts, weights=args.weights,
                               max_frames=args.max_frames, progress=not args.no_progress)
        weights = model_weights(setting, "r50", log=lambda m: print(m, file=sys.stderr))
        base = os.path.join(REPO, "configs", "synthcity_r18.yaml")
        rows = [(name, load_config(base, list(args.opts) + opts)) for name, _, opts in VARIANTS]
        results = infer_rows(setting, setting.out, rows, weights,
                             log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ConfigError, DatasetError, WeightsError, ShippedModelError, EvaluationError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    lines = ["| variant | change | AP | AP50 | PQ_Th | PQ | GP ms/frame |",
             "|---|---|---|---|---|---|---|"]
    lines += [_row(name, what, results[name]) for name, what, _ in VARIANTS]
    markdown = "\n".join(lines) + "\n"
    payload = {"weights": weights, "frames": args.max_frames or "all",
               "variants": {name: {"change": opts, "metrics": results[name]}
                            for name, _, opts in VARIANTS}}
    write_bytes_atomic(os.path.join(setting.out, "choices.md"), markdown.encode("utf-8"))
    write_json_atomic(os.path.join(setting.out, "choices.json"), payload, indent=1,
                      sort_keys=True, default=str)
    print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
