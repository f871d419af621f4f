# CPU demo (python tools/demo.py segmentation): the UperNet ConvNeXt recipe shrunk to train in
# minutes on 2 cores. Changed from the recipe: the synthetic 'demo' shape scenes in ADE20K's
# layout (128x128; tools/make_synthetic_data.py ade --style demo) with label 0 a learnt and
# scored "background" class (6 classes); the recipe's resize-crop-flip scaled to 128x128
# crops, ratio 0.75-1.5, no photometric distortion (colour carries no class); ConvNeXt-atto
# fine-tuned from the demo's shape pretraining (configs/demo/convnext_atto_shapes_pretrain.py)
# with no drop path; 64/32-channel decode/auxiliary heads (512/256); batch 4, lr 2e-3,
# 50-iteration warm-up then poly decay over 3000 iterations (another length: override
# train_cfg.max_iters and param_scheduler.1.end together); sliding test on 128x128 windows,
# stride 85 (the recipe's 512/341). Measurements: benchmarks/from_scratch_learning.md.
_base_ = ['../upernet_convnext_t_ade20k.py']

data_root = 'data/synthetic_ade_demo'
metainfo = dict(
    classes=('background', 'circle', 'triangle', 'square', 'star', 'cross'),
    palette=[[120, 120, 120], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
             [145, 30, 180]])
dataset_hint = 'python tools/demo.py segmentation writes it'
checkpoint_hint = 'python tools/demo.py makes it (its first step, the shape pretraining)'

model = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(
        arch='atto', drop_path_rate=0.0,
        # written by python tools/demo.py (the shape pretraining); --cfg-options
        # model.backbone.init_cfg=None trains from scratch instead
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_pretrain/iter_3000.pth')),
    decode_head=dict(in_channels=[40, 80, 160, 320], channels=64, num_classes=6),
    auxiliary_head=dict(in_channels=160, channels=32, num_classes=6),
    test_cfg=dict(mode='slide', crop_size=(128, 128), stride=(85, 85)),
)

# ratio 0.5 would shrink a 128-pixel scene to 64 pixels and small shapes to a few pixels
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(512, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='convnext_dense.ADE20KStyleDataset',
        data_root=data_root,
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='convnext_dense.ADE20KStyleDataset',
        data_root=data_root,
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# the recipe's stage-wise decay 0.9; the higher base lr suits the small heads trained from
# nothing in 3000 steps
optim_wrapper = dict(optimizer=dict(lr=2e-3, fused=True))  # fused: AdamW's CPU kernel
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50, end=3000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3000, val_interval=3000)
default_hooks = dict(
    logger=dict(interval=20),
    # every 1000 iterations, so that an interrupted demo resumes
    checkpoint=dict(by_epoch=False, interval=1000, max_keep_ckpts=1))
randomness = dict(seed=0)
