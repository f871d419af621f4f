# Mask R-CNN, ConvNeXt-T (ImageNet-1K), FPN, 3x (36 epochs), multi-scale + crop training.
# Paper: 46.2 box AP / 41.7 mask AP on COCO val2017, 48M params, 262 GFLOPs at 1280x800.
# Everything not set here (augmentation, AMP, heads, data) comes from mmdet's own config.
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    './_base_/coco_instance_tta.py',
    './_base_/convnext_dense_runtime.py',
]
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.detection'],
                      allow_failed_imports=False)

# the official FAIR non-EMA ImageNet weights; a local path works too
checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='convnext_dense.ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

# official warm-up: 500 iterations from 0.001 (mmdet's port uses 1000); steps at 27 and 33
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

# AdamW lr 1e-4, wd 0.05, layer-wise lr decay 0.95 over 6 layers; AMP (CPU: bf16 or fp32)
optim_wrapper = dict(
    type='convnext_dense.AmpOptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))

# 16 images per step = 8 GPUs x 2 (train_dataloader.batch_size=2 in the base);
# tools/train.py --auto-scale-lr rescales the lr for another total batch size
auto_scale_lr = dict(enable=False, base_batch_size=16)

# mmdet's CocoDataset, plus one-line errors for a malformed annotation file, missing images
# and images that cannot be decoded (convnext_dense/detection/datasets.py)
train_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
val_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
test_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
