#!/usr/bin/env bash
# Evaluate on N processes with torchrun (multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT).
#   bash tools/dist_test.sh CONFIG CHECKPOINT N [test.py options]
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# the install's venv unless PYTHON says otherwise (no need to activate it)
PYTHON=${PYTHON:-$( [ -x "$DIR/../.venv/bin/python" ] && echo "$DIR/../.venv/bin/python" || echo python3)}
exec "$PYTHON" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --nproc_per_node="$3" --master_port="${PORT:-29500}" \
  "$DIR/test.py" "$1" "$2" --launcher pytorch "${@:4}"
