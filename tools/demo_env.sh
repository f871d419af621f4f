# Sourced by the demo scripts. The demos run one training at a time, so it gets every core
# (on the 2-core machine: 0.44 s per detection iteration with 2 math threads, 0.6 s with 1).
# On a machine busy with other jobs set OMP_NUM_THREADS=1: there, two threads per process
# thrash (measured under load ~6: 15 s per iteration with 2 threads, 0.85 s with 1).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc 2>/dev/null || echo 1)}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}

# resume_flag WORK_DIR: prints --resume when a demo training in WORK_DIR was interrupted
# (it has a checkpoint but no test metrics yet), so that a second `make demo` goes on from
# the last checkpoint; a finished run is trained again from the start.
resume_flag() {
  if [ -f "$1/last_checkpoint" ] && [ ! -f "$1/test_metrics.json" ]; then
    echo --resume
  else
    rm -f "$1/test_metrics.json"
  fi
}
