#!/usr/bin/env bash
# CPU demo of the segmentation suite: shape pretraining (once, tools/demo_pretrain.sh) ->
# synthetic shape scenes in ADE20K's layout -> UperNet + ConvNeXt-atto fine-tuned with
# tools/train.py -> mIoU with tools/test.py -> colour overlays of the predictions.
#   bash tools/demo_segmentation.sh            (PYTHON=... to choose the interpreter)
# Writes work_dirs/demo_segmentation/{*.pth, test_metrics.json, vis/...}; about 8.5 minutes
# on 2 CPU cores after the pretraining. DATA / WORK_DIR override the data and output folders.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
source tools/demo_env.sh  # math threads
CONFIG=configs/demo/upernet_convnext_atto_synthetic.py
DATA=${DATA:-data/synthetic_ade_demo}
WORK_DIR=${WORK_DIR:-work_dirs/demo_segmentation}
start=$SECONDS
echo "== load before: $(uptime)"

if [ ! -d "$DATA" ]; then
  echo "== writing the synthetic ADE20K-layout dataset to $DATA"
  rm -rf "$DATA.partial"
  "$PYTHON" tools/make_synthetic_data.py ade --out "$DATA.partial" --style demo --num-train 1000
  mv "$DATA.partial" "$DATA"
fi

bash tools/demo_pretrain.sh
echo "== training ($CONFIG)"
prepare_training "$WORK_DIR"  # sets TRAIN_RESUME (tools/demo_env.sh)
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --data-root "$DATA" "${TRAIN_RESUME[@]}"
CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")

echo "== evaluating $CHECKPOINT"
"$PYTHON" tools/test.py "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR" --data-root "$DATA" \
  --show-dir vis --metrics-out "$WORK_DIR/test_metrics.json"

"$PYTHON" tools/analysis/plot_training.py "$WORK_DIR"  # WORK_DIR/training_curves.png

echo "== load after: $(uptime)"
echo "== done in $((SECONDS - start)) s: metrics in $WORK_DIR/test_metrics.json, prediction" \
     "overlays in $WORK_DIR/vis"
