#!/usr/bin/env bash
# CPU demo for detection: shape pretraining (once, tools/demo_pretrain.sh) -> synthetic
# scenes -> fine-tune Mask R-CNN ConvNeXt-atto -> COCO box and mask AP -> pictures of the
# predictions, all under work_dirs/demo_detection/.
#   bash tools/demo_detection.sh            (PYTHON=/path/to/python to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
source tools/demo_env.sh  # math threads
CONFIG=configs/demo/mask_rcnn_convnext_atto_synthetic.py
DATA=data/synthetic_coco_demo
WORK=work_dirs/demo_detection

NUM_TRAIN=1000
# (re)generate when missing or written by an older demo with another number of scenes
if [ ! -f "$DATA/annotations/instances_val2017.json" ] \
   || [ "$(ls "$DATA/train2017" 2>/dev/null | wc -l)" -ne "$NUM_TRAIN" ]; then
  rm -rf "$DATA"
  "$PYTHON" tools/make_synthetic_data.py coco --out "$DATA" --num-train "$NUM_TRAIN" \
    --num-val 50 --size 160 --seed 0 --style demo
fi
start=$(date +%s)
bash tools/demo_pretrain.sh
prepare_training "$WORK"  # sets TRAIN_RESUME (tools/demo_env.sh)
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK" "${TRAIN_RESUME[@]}"
"$PYTHON" tools/test.py "$CONFIG" "$(cat "$WORK/last_checkpoint")" --work-dir "$WORK" \
  --show-dir predictions --out "$WORK/predictions.pkl" --metrics-out "$WORK/test_metrics.json"
"$PYTHON" tools/analysis/plot_training.py "$WORK"  # WORK/training_curves.png
echo "demo done in $(( $(date +%s) - start )) s: metrics in $WORK/test_metrics.json," \
  "pictures in $WORK/<run timestamp>/predictions/"
