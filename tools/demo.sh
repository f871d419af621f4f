#!/usr/bin/env bash
# The main job on the embedded demo data: generate synthetic COCO and ADE20K-style data,
# train a ConvNeXt Mask R-CNN and a ConvNeXt UperNet on this CPU, evaluate them, and write
# pictures of their predictions and training curves under work_dirs/.
#   bash tools/demo.sh [detection|segmentation|all]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON="${PYTHON:-.venv/bin/python}"
what="${1:-all}"
case "$what" in
  detection|all) bash tools/demo_detection.sh ;;&
  segmentation|all) bash tools/demo_segmentation.sh ;;
  detection) ;;
  *) echo "usage: bash tools/demo.sh [detection|segmentation|all]" >&2; exit 2 ;;
esac
