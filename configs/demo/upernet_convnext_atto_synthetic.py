# CPU demo: the UperNet ConvNeXt recipe on synthetic shapes (tools/demo_segmentation.sh).
#
# Inherits the real configs/upernet_convnext_t_ade20k.py and changes only what a few
# minutes on a 2-core CPU need:
# - data: the synthetic ADE20K-layout set of `tools/make_synthetic_data.py ade --style demo`
#   (128x128 scenes, 1000 training images; the class of a shape is decided by its shape,
#   colours are shared by all classes and the background, backgrounds are textured,
#   shapes occlude each other). Unlike ADE20K, label 0 is a real class, "background",
#   learnt and scored (reduce_zero_label=False, 6 classes: background + 5 shapes): a
#   from-scratch model in a few hundred steps needs that dense signal, and the mIoU
#   therefore includes the background class;
# - augmentation: the recipe's random resize, crop (cat_max_ratio 0.75) and flip scaled to
#   128x128 crops (scale (512, 128) instead of (2048, 512)) with a ratio range of 0.75-1.5
#   instead of 0.5-2.0 (at 0.5 a 128px scene shrinks to 64px and small shapes to a few
#   pixels); no photometric distortion (colours carry no class information here);
# - arch: ConvNeXt-atto (3.4M backbone parameters instead of 28M), fine-tuned from the
#   demos' stand-in for ImageNet weights (configs/demo/convnext_atto_shapes_pretrain.py,
#   single-shape classification, cached in work_dirs/demo_pretrain/ and run by the demo
#   script when missing) with the recipe's stage-wise lr decay; drop_path 0.0
#   (regularisation does not pay in a short schedule on a small model), layer scale 1.0 as
#   in the recipe. From scratch in the same budget the model separates objects from the
#   background but tells few shapes apart (mIoU ~28; benchmarks/from_scratch_learning.md);
# - heads: 64 channels in the UperHead (recipe: 512) and 32 in the auxiliary FCNHead (256),
#   the main cost on a CPU;
# - schedule: lr 2e-3 with the recipe's stage-wise decay, 50 warm-up iterations then the
#   recipe's poly decay, 3000 iterations of batch 4 on one
#   process (more updates for the same compute than batch 8), validation at the end and a
#   checkpoint every 1000 iterations (an interrupted demo resumes from it);
# - sliding-window test on 128x128 windows with stride 85 (the recipe's 512/341 ratio).
_base_ = ['../upernet_convnext_t_ade20k.py']

crop_size = (128, 128)
max_iters = 3000
# made by configs/demo/convnext_atto_shapes_pretrain.py (bash tools/demo_pretrain.sh)
pretrained = 'work_dirs/demo_pretrain/iter_3000.pth'
data_root = 'data/synthetic_ade'
metainfo = dict(
    classes=('background', 'circle', 'triangle', 'square', 'star', 'cross'),
    palette=[[120, 120, 120], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
             [145, 30, 180]])
num_classes = 6

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='atto', drop_path_rate=0.0,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[40, 80, 160, 320], channels=64, num_classes=num_classes),
    auxiliary_head=dict(in_channels=160, channels=32, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(85, 85)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(512, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
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

# fine-tuning from the shape-pretrained backbone with the recipe's stage-wise decay 0.9;
# the higher base lr suits the small heads trained from nothing in 3000 steps
optim_wrapper = dict(optimizer=dict(lr=2e-3, fused=True))  # fused: AdamW's CPU kernel
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=1000, max_keep_ckpts=1))
randomness = dict(seed=0)
