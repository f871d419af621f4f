#!/usr/bin/env bash
# The demos' stand-in for ImageNet pretraining: ConvNeXt-atto classifies synthetic shapes
# (configs/demo/convnext_atto_shapes_pretrain.py, about 12 minutes on 2 cores). Runs once;
# the detection and segmentation demos fine-tune from work_dirs/demo_pretrain/iter_3000.pth.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
source tools/demo_env.sh  # math threads
WORK=work_dirs/demo_pretrain
if [ -f "$WORK/iter_3000.pth" ]; then
  echo "== pretrained backbone: $WORK/iter_3000.pth (cached)"
else
  echo "== pretraining ConvNeXt-atto on synthetic shape classification"
  # --resume: an interrupted pretraining goes on from its last checkpoint (every 500 steps)
  "$PYTHON" tools/train.py configs/demo/convnext_atto_shapes_pretrain.py --work-dir "$WORK" \
    --resume
fi
