# The demos' stand-in for ImageNet pretraining (bash tools/demo_pretrain.sh runs
# tools/train.py on this config): ConvNeXt-atto learns to classify single synthetic shapes
# (80x80 scenes in the demo style: textured backgrounds, clutter, shared colours, any
# rotation), and the detection and segmentation demos fine-tune from it with the recipe's
# layer decay, as the paper fine-tunes from ImageNet weights. 3000 steps of 32 images
# reach 96% validation accuracy (chance 20%; 77% after 1000 steps, 92% after 1500, 95%
# after 2000) in about 12 minutes with 2 math threads; the last 1000 steps still gave the
# segmentation demo 4 mIoU more. The backbone uses MMEngine's fan-in Kaiming init
# (benchmarks/from_scratch_learning.md, sections 3, 7 and 8).
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.pretraining'],
                      allow_failed_imports=False)
default_scope = 'convnext_dense'

max_iters = 3000
image_size = 80

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
shapes = dict(type='convnext_dense.SyntheticShapes', image_size=image_size)
loader = dict(num_workers=1, persistent_workers=True, collate_fn=dict(type='default_collate'))
train_dataloader = dict(loader, batch_size=32, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(shapes, num_samples=32000, seed=1))
val_dataloader = dict(loader, batch_size=100, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(shapes, num_samples=500, seed=2))
val_evaluator = dict(type='convnext_dense.ShapeAccuracy')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [dict(type='LinearLR', start_factor=0.02, by_epoch=False, begin=0, end=50)]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # every 500 steps, so that tools/demo_pretrain.sh can resume an interrupted run
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
