# CPU demo: the real Mask R-CNN ConvNeXt recipe (configs/mask_rcnn_convnext_t_fpn_3x_coco.py),
# shrunk until it trains in minutes on 2 CPU cores. What changes, and why:
# - data: the synthetic shapes in their 'demo' style (tools/make_synthetic_data.py coco
#   --style demo: larger objects, calmer backgrounds, 0-3 clutter lines), 160x160 images,
#   5 classes whose identity is the shape only (colours shared by all classes and the
#   background); metainfo names the classes, otherwise CocoDataset would keep COCO's 80
#   names and find no matching category.
# - image size: 160 instead of 1333x800 (multi-scale 128..192 plus flip instead of
#   480..800 with crops: the crops of the recipe would cut most of a 160-pixel scene away).
# - backbone: ConvNeXt-atto trained from scratch (no pretrained weights, no drop path),
#   so nothing needs downloading; no layer-wise lr decay (decay_rate 1.0) since nothing
#   pretrained has to be protected. Layer scale stays at the recipe's 1.0: with 1e-6 the
#   blocks start as identities and a 600-iteration run from scratch learns almost nothing.
# - slim heads and sampling (what makes a CPU iteration ~10x cheaper): 64-channel FPN and
#   RoI extractors, 64-channel mask convs, 128 sampled anchors and RoIs, 300 proposals.
# - GroupNorm in the FPN, the box head (4 convs + 1 FC, 256 wide, as mmdet's GN configs)
#   and the mask head: without normalisation, AdamW at 1e-3..2e-3 on un-pretrained
#   features blows the head activations up and kills their ReLUs (measured after 300
#   iterations: FPN output std 23, 248 of 256 box-FC channels dead, mask-head ReLUs 4%
#   active, class scores at the prior).
# - what this demo reaches: it does NOT yet learn to tell the shapes apart (box AP ~0.006
#   after 600 iterations). Measured on 2026-11-26: the backbone's zero-padding gradient
#   blow-up (grad norm 1e9) is fixed in ConvNeXt.init_weights; after that the gradients
#   are normal (norm 5-10) but the box FC still loses 81% of its units and the classifier
#   output stays constant across RoIs. A head with no FC (4 GN convs straight into the
#   classifier), layer scale 1e-6, lower head lr (2e-4), SGD, fixed-size crops and
#   objects turned by at most 15 degrees all stay at box AP < 0.01 in 600 iterations.
#   One cause is the from-scratch backbone: ConvNeXt-atto (ours or timm's) needs ~800
#   steps of 32 images to classify single upright shapes on flat backgrounds, where a
#   BN/ReLU CNN or a ResNet-18 needs ~100-150; but a backbone pretrained on the shapes,
#   fine-tuned or frozen, did not help either (benchmarks/from_scratch_learning.md).
# - schedule: batch 4, AdamW lr 1e-3, 50-iteration warm-up then cosine, 12 epochs of 50
#   iterations; evaluation at the end only.
_base_ = '../mask_rcnn_convnext_t_fpn_3x_coco.py'

data_root = 'data/synthetic_coco_demo/'
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'cross'))
num_classes = 5
image_size = 160
gn = dict(type='GN', num_groups=16, requires_grad=True)  # 64 channels: 4 per group

model = dict(
    backbone=dict(arch='atto', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=64, norm_cfg=gn),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', in_channels=64, conv_out_channels=64,
                       fc_out_channels=256, norm_cfg=gn, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, norm_cfg=gn,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=600, max_per_img=300)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=(image_size, image_size), ratio_range=(0.8, 1.2),
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
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

max_epochs = 12
iters_per_epoch = 50  # 200 training images / batch 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_epochs * iters_per_epoch,
         T_max=max_epochs * iters_per_epoch - 50, eta_min=1e-5),
]
optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=1.0),
    optimizer=dict(lr=1e-3),
    clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
