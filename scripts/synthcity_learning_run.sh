#!/usr/bin/env bash
# The embedded learning run: ResNet-18 SSAP on SynthCity, CPU only, <= 30 minutes
# of training on a quiet 2-core machine, then the semantic mIoU of the 1/4 head
# on SynthCity val (cityscapesScripts) and the loss-curve PNG.
#
#   bash scripts/synthcity_learning_run.sh            # continue / reuse OUT if present
#   FRESH=1 bash scripts/synthcity_learning_run.sh    # delete OUT first (a timed run)
#   OUT=output/x bash scripts/synthcity_learning_run.sh --opts SOLVER.MAX_ITER 200
#
# Writes OUT/learning_run.json: training seconds, mIoU, paths of the loss curve,
# metrics JSONL and final weights.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CFG=${CFG:-configs/synthcity_r18_quick.yaml}
OUT=${OUT:-output/synthcity_r18_quick}
DATA=${DATA:-data/synthcity}
extra=()
if [ "${1:-}" = "--opts" ]; then shift; extra=("$@"); fi

if [ ! -f "$DATA/synthcity_manifest.json" ]; then
    "$PY" scripts/make_synthcity.py --out "$DATA"
fi
if [ "${FRESH:-0}" = "1" ]; then rm -rf "$OUT"; fi

echo "== load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs slow the run down)"
start=$(date +%s)
"$PY" scripts/train.py --cfg "$CFG" --resume auto --summary-json "$OUT/train_summary.json" \
    --opts DATASET.ROOT "$DATA" TRAIN.OUTPUT_DIR "$OUT" TRAIN.VALIDATE_AT_END False "${extra[@]}"
end=$(date +%s)
echo "== load after training: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" scripts/eval_semantic.py --cfg "$CFG" --weights "$OUT/model_final.params" --split val \
    --out "$OUT/eval_final" --no-progress --opts DATASET.ROOT "$DATA" "${extra[@]}" \
    | tail -n 1
"$PY" - "$OUT" "$((end - start))" <<'PYEOF'
import json, os, sys
from ssap_gluon.utils.io import write_json_atomic
out, seconds = sys.argv[1], int(sys.argv[2])
result = json.load(open(os.path.join(out, "eval_final", "semantic_val.json")))
summary = {"train_wall_seconds": seconds, "val_mIoU": result["mIoU"],
           "val_frames": result["num_images"], "evaluator": result["evaluator"],
           "loss_curve": os.path.join(out, "loss_curve.png"),
           "metrics": os.path.join(out, "metrics.jsonl"),
           "weights": os.path.join(out, "model_final.params"),
           "load_average": open("/proc/loadavg").read().split()[:3]}
write_json_atomic(os.path.join(out, "learning_run.json"), summary)
print("== learning run: %.1f min of training, semantic mIoU on SynthCity val = %.4f"
      % (seconds / 60.0, result["mIoU"]))
print("   loss curve: %s" % summary["loss_curve"])
PYEOF
