#!/usr/bin/env bash
# Train on N processes of this machine (or several machines) with torchrun; without a GPU the
# gloo backend is used. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
#   bash tools/dist_train.sh CONFIG N [train.py options]
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# the install's venv unless PYTHON says otherwise (no need to activate it)
PYTHON=${PYTHON:-$( [ -x "$DIR/../.venv/bin/python" ] && echo "$DIR/../.venv/bin/python" || echo python3)}
exec "$PYTHON" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --nproc_per_node="$2" --master_port="${PORT:-29500}" \
  "$DIR/train.py" "$1" --launcher pytorch "${@:3}"
