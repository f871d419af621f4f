# Cascade Mask R-CNN, ConvNeXt-T (ImageNet-1K), FPN, 3x, multi-scale + crop training.
# Paper: 50.4 box AP / 43.7 mask AP, 86M params, 741 GFLOPs.
# mmdet's config supplies the three 4conv1fc box heads (SyncBN, GIoU loss weight 10,
# reg_decoded_bbox, target stds 0.1/0.05/0.033 for xy and 0.2/0.1/0.067 for wh) and the
# augmentation. SyncBN becomes BatchNorm automatically in a single-process run.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',
    './_base_/coco_instance_tta.py',
    './_base_/convnext_dense_runtime.py',
]
custom_imports = dict(imports=['convnext_dense', 'convnext_dense.detection'],
                      allow_failed_imports=False)

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

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

# AdamW lr 2e-4, wd 0.05, layer-wise lr decay 0.7 over 6 layers
optim_wrapper = dict(
    type='convnext_dense.AmpOptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=6),
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05))

auto_scale_lr = dict(enable=False, base_batch_size=16)

# mmdet's CocoDataset, plus one-line errors for a malformed annotation file, missing images
# and images that cannot be decoded (convnext_dense/detection/datasets.py)
train_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
val_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
test_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
