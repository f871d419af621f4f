# CPU demo (python tools/demo.py detection): the Mask R-CNN ConvNeXt recipe shrunk to train in
# minutes on 2 cores. Changed from the recipe: the synthetic 'demo' shape scenes (5 classes,
# 160x160; tools/make_synthetic_data.py coco --style demo) trained at 128..192 with flip and
# tested at 192; ConvNeXt-atto fine-tuned from the demo's shape pretraining
# (configs/demo/convnext_atto_shapes_pretrain.py) with no drop path; 64-channel heads and
# fewer sampled anchors, RoIs and proposals; batch 4, AdamW lr 2e-3, 50-iteration warm-up
# then cosine over 5 epochs of 250 iterations (another length: override train_cfg.max_epochs
# and the cosine's end, param_scheduler.1.end, in iterations). Measurements and the variants
# tried: benchmarks/from_scratch_learning.md.
_base_ = '../mask_rcnn_convnext_t_fpn_3x_coco.py'

data_root = 'data/synthetic_coco_demo/'
# named, or CocoDataset would keep COCO's 80 names and find none of these categories
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'cross'))
dataset_hint = 'python tools/demo.py detection writes it'
checkpoint_hint = 'python tools/demo.py makes it (its first step, the shape pretraining)'

model = dict(
    backbone=dict(
        arch='atto', drop_path_rate=0.0,
        # written by python tools/demo.py (the shape pretraining); --cfg-options
        # model.backbone.init_cfg=None trains from scratch instead
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_pretrain/iter_3000.pth')),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=64,
              norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        # RoIs of 28-56 pixels pool from P2, larger ones from coarser levels (the recipe: 56):
        # the objects are 35-100 pixels. torchvision's RoIAlign: the same numbers, faster.
        bbox_roi_extractor=dict(out_channels=64, finest_scale=28,
                                roi_layer=dict(use_torchvision=True)),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=5),
        mask_roi_extractor=dict(out_channels=64, finest_scale=28,
                                roi_layer=dict(use_torchvision=True)),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, num_classes=5,
                       norm_cfg=dict(type='GN', num_groups=16, requires_grad=True))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=600, max_per_img=300)))

# the recipe's crops would cut most of a 160-pixel scene away: random scale 0.8..1.2 instead
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=(160, 160), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# tested at the top of the training scales, as the recipe tests at 800
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(192, 192), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(s, s), keep_ratio=True) for s in (144, 160, 192)],
             [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
             [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
             [dict(type='PackDetInputs',
                   meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                              'scale_factor', 'flip', 'flip_direction'))]])
]

train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline,
                 filter_cfg=dict(filter_empty_gt=True, min_size=4)))
val_dataloader = dict(
    num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=5, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # to the end of the 5 epochs of 1000 images / batch 4; T_max is end - begin
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=1250, eta_min=1e-5),
]
# fp32 even on a CPU with native bf16: at 160 px the casts and the fp32 RoIAlign/NMS/box
# steps outweigh the faster matrix products (0.87x, benchmarks/amp_cpu.md)
optim_wrapper = dict(
    dtype='float32',
    paramwise_cfg=dict(decay_rate=0.95),
    optimizer=dict(lr=2e-3, fused=True),  # fused: AdamW's CPU kernel
    clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))  # per epoch: an interrupted demo resumes
randomness = dict(seed=0)
