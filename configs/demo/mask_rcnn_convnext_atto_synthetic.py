# CPU demo: the real Mask R-CNN ConvNeXt recipe (configs/mask_rcnn_convnext_t_fpn_3x_coco.py),
# shrunk until it trains in minutes on 2 CPU cores. What changes, and why:
# - data: the synthetic shapes in their 'demo' style (tools/make_synthetic_data.py coco
#   --style demo: 1000 train / 50 val scenes of 160x160, 5 classes whose identity is the
#   shape only, colours shared by all classes and the background, textured backgrounds,
#   0-3 clutter lines, occlusion, objects at any rotation); metainfo names the
#   classes, otherwise CocoDataset would keep COCO's 80 names and find no category.
# - image size: 160-pixel scenes trained at 128..192 plus flip instead of 480..800 with
#   crops (the crops of the recipe would cut most of a 160-pixel scene away), tested at 192,
#   the top of that range, as the recipe tests at 800, the top of its range (testing at
#   160 instead gave 0.035 box AP less; benchmarks/from_scratch_learning.md section 8).
# - backbone: ConvNeXt-atto, fine-tuned from the demos' stand-in for ImageNet weights:
#   configs/demo/convnext_atto_shapes_pretrain.py (single-shape classification, 3000 steps,
#   cached in work_dirs/demo_pretrain/; tools/demo_detection.sh runs it when the
#   checkpoint is missing). Layer-wise lr decay 0.95 as in the recipe, no drop path.
#   Trained from scratch the model finds the objects but barely tells the shapes apart
#   (box AP ~0.22 after 500 iterations; benchmarks/from_scratch_learning.md); to try
#   that, set model.backbone.init_cfg=None (official init) or the fan-in Kaiming init of
#   the pretraining config.
# - slim heads and sampling (what makes a CPU iteration cheap): 64-channel FPN (with GN),
#   RoI extractors and mask convs, the recipe's 2-FC box head with 256-wide FCs (1024), a
#   mask head of 2 convs, 128 sampled anchors, 64 sampled RoIs, 300 proposals; RoIs of
#   28-56 pixels are pooled from P2, larger ones from P3 and up (finest_scale 28 instead
#   of 56: the demo's objects are 35-100 pixels, "large" for a 160-pixel image, and
#   coarser levels carry more of the shape). RoIAlign runs torchvision's kernel (the
#   same numbers, its forward 4x faster than mmcv's on CPU) and AdamW its fused CPU
#   kernel: 6% less time per iteration.
# - schedule: batch 4, AdamW lr 2e-3, 50-iteration warm-up then cosine, 5 epochs of 250
#   iterations (about 9 minutes with 2 math threads), seeded; evaluation at the end.
_base_ = '../mask_rcnn_convnext_t_fpn_3x_coco.py'

data_root = 'data/synthetic_coco_demo/'
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'cross'))
num_classes = 5
image_size = 160
gn = dict(type='GN', num_groups=16, requires_grad=True)  # 64 channels: 4 per group
fast_roi_align = dict(use_torchvision=True)
# made by configs/demo/convnext_atto_shapes_pretrain.py (bash tools/demo_pretrain.sh)
pretrained = 'work_dirs/demo_pretrain/iter_3000.pth'

model = dict(
    backbone=dict(arch='atto', drop_path_rate=0.0,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[40, 80, 160, 320], out_channels=64, norm_cfg=gn),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, finest_scale=28, roi_layer=fast_roi_align),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64, finest_scale=28, roi_layer=fast_roi_align),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, norm_cfg=gn,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
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
test_size = 192  # the top of the training scales (image_size x 0.8..1.2)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(test_size, test_size), keep_ratio=True),
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

max_epochs = 5
iters_per_epoch = 250  # 1000 training images / batch 4
max_iters = max_epochs * iters_per_epoch
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters,
         T_max=max_iters - 50, eta_min=1e-5),
]
optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.95),
    optimizer=dict(lr=2e-3, fused=True),
    clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=1))  # per epoch: an interrupted demo resumes
randomness = dict(seed=0)
