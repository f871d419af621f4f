# Sourced by the demo scripts. The demos run one training at a time, so it gets every core
# (on the 2-core machine: 0.44 s per detection iteration with 2 math threads, 0.6 s with 1).
# On a machine busy with other jobs set OMP_NUM_THREADS=1: there, two threads per process
# thrash (measured under load ~6: 15 s per iteration with 2 threads, 0.85 s with 1).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc 2>/dev/null || echo 1)}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}

# prepare_training WORK_DIR sets the TRAIN_RESUME array for tools/train.py: --resume from
# the checkpoint MMEngine's WORK_DIR/last_checkpoint names (it is updated only after a
# checkpoint is fully written) when a demo training there was interrupted (no test metrics
# yet), so that a second `make demo` goes on where it stopped. Otherwise the run starts
# afresh and only the two pointer files are removed (never a checkpoint: WORK_DIR may be
# the user's), so that an interruption of the new run resumes the new run.
prepare_training() {
  if [ -f "$1/last_checkpoint" ] && [ ! -f "$1/test_metrics.json" ]; then
    TRAIN_RESUME=(--resume "$(cat "$1/last_checkpoint")")
  else
    rm -f "$1/last_checkpoint" "$1/test_metrics.json"
    TRAIN_RESUME=()
  fi
}
