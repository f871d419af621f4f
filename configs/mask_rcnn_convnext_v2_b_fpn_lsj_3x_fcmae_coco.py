# Mask R-CNN, ConvNeXt-V2-B (FCMAE self-supervised on ImageNet-1K), FPN, 3x (36 epochs),
# large-scale jitter at 1024. The recipe of mmdet's projects/ConvNeXt-V2, which publishes
# 52.9 box AP / 46.4 mask AP on COCO val2017 (not reproduced here).
# The ConvNeXt-V2 weights are licensed CC-BY-NC 4.0: non-commercial use only.
# What differs from the ConvNeXt-T 3x config it inherits: the V2-B backbone (GRN, no layer
# scale), LSJ, 32 images per step, 1000 warm-up iterations, 12 decay layers, soft-NMS.
_base_ = './mask_rcnn_convnext_t_fpn_3x_coco.py'

checkpoint_file = ('https://dl.fbaipublicfiles.com/convnext/convnextv2/pt_only/'
                   'convnextv2_base_1k_224_fcmae.pt')
image_size = (1024, 1024)

model = dict(
    backbone=dict(
        arch='base',
        use_grn=True,
        layer_scale_init_value=0.,
        drop_path_rate=0.4,  # marked "to verify" in mmdet's project
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    test_cfg=dict(rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5))))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_size),
    dict(type='PackDetInputs'),
]
# 32 images per step = 8 GPUs x 4
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
auto_scale_lr = dict(base_batch_size=32)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
# AdamW lr 1e-4, wd 0.05, AMP and layer-wise decay 0.95 come from the base
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
