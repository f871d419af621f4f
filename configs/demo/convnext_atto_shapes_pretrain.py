# The CPU demos' stand-in for ImageNet pretraining: ConvNeXt-atto classifies single synthetic
# shapes (80x80, the demo scene style), rendered on the fly; python tools/demo.py runs it once
# and the detection and segmentation demos fine-tune from its final checkpoint,
# work_dir/iter_<train_cfg.max_iters>.pth. 3000 steps of 32 images: about 96% validation
# accuracy (chance 20%) in 12 minutes on 2 cores. The backbone starts from MMEngine's fan-in
# Kaiming init. Measurements: benchmarks/from_scratch_learning.md, sections 3, 6 and 7.
_base_ = ['../_base_/convnext_dense_runtime.py']
# cpu_demo/ is the repository's top-level package (not in the wheel): tools/demo.py runs this
# with PYTHONPATH set to the repository; by hand, run from there with PYTHONPATH=.
custom_imports = dict(imports=['convnext_dense', 'cpu_demo'],
                      allow_failed_imports=False)
default_scope = 'convnext_dense'
work_dir = 'work_dirs/demo_pretrain'

model = dict(
    type='convnext_dense.ShapeClassifier',
    backbone=dict(
        type='convnext_dense.ConvNeXt', arch='atto', out_indices=(3, ),
        drop_path_rate=0.0, layer_scale_init_value=1.0,
        init_cfg=dict(type='Kaiming', layer=['Conv2d', 'Linear'], mode='fan_in',
                      nonlinearity='relu', distribution='normal')),
    # the detectors' and segmentors' normalisation: BGR images, ImageNet mean/std in RGB
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True))

# one-object scenes rendered on the fly: fresh pictures for training, another seed for val
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    collate_fn=dict(type='default_collate'), sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='convnext_dense.SyntheticShapes', image_size=80, num_samples=32000,
                 seed=1))
val_dataloader = dict(
    batch_size=100, num_workers=1, persistent_workers=True,
    collate_fn=dict(type='default_collate'), sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='convnext_dense.SyntheticShapes', image_size=80, num_samples=500,
                 seed=2))
val_evaluator = dict(type='convnext_dense.ShapeAccuracy')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=3000, val_interval=3000)
val_cfg = dict(type='ValLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [dict(type='LinearLR', start_factor=0.02, by_epoch=False, begin=0, end=50)]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # every 500 steps, so that an interrupted pretraining resumes (tools/train.py --resume)
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
