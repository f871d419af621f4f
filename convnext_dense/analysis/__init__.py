"""Model analysis: parameter/FLOP counts beside the paper's, speed and memory benchmarks,
training curves. Behind ``tools/analysis/*.py``; import the submodules directly."""
