# What every recipe here switches on (mmdet's and mmseg's own tools then behave like ours):
# - convnext_dense.Runner: the data and classes checked before training or testing,
#   checkpoints read once, weights-only, never half a model loaded in silence, fp32
#   RoIAlign/NMS/boxes under CPU autocast in testing, gloo for distributed runs without a GPU;
# - a stop at the first NaN/inf loss that keeps the last good checkpoint, and random states
#   saved with every checkpoint so that a resumed run continues exactly.
# - for tools that ignore runner_type (mmseg 1.2's tools/test.py builds MMEngine's Runner):
#   MMEngine's checkpoint types readable by weights-only loading during the run.
# The recipes' optim_wrapper names convnext_dense.AmpOptimWrapper (CPU autocast) itself.
runner_type = 'convnext_dense.Runner'
custom_hooks = [
    dict(type='convnext_dense.CheckFiniteLossHook'),
    dict(type='convnext_dense.RngStateHook'),
    dict(type='convnext_dense.MMEngineCheckpointTypesHook'),
]
