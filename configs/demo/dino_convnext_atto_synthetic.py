# CPU demo (python tools/demo.py dino): the DINO-4scale ConvNeXt recipe shrunk to train in
# minutes on 2 cores. Changed from the recipe: the synthetic 'demo' shape scenes (5 classes,
# 160x160, the detection demo's; tools/make_synthetic_data.py coco --style demo) resized to
# 102..154 with flip and tested at 128 (the cost grows fast with the image here);
# ConvNeXt-atto fine-tuned from the demo's shape pretraining
# (configs/demo/convnext_atto_shapes_pretrain.py); 3+3 transformer layers (6+6), FFN 512
# (2048), 100 queries (900) and 30 denoising queries (100); mmdet's DINO decoder fixes the
# 256 channels; the backbone at the full lr (as the other demos); batch 4, AdamW lr 3e-4,
# 50-iteration warm-up then cosine decay. Measurements: benchmarks/query_heads.md.
_base_ = '../dino_4scale_convnext_t_12e_coco.py'

data_root = 'data/synthetic_coco_demo/'
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'cross'))
dataset_hint = 'python tools/demo.py dino writes it'
checkpoint_hint = 'python tools/demo.py makes it (its first step, the shape pretraining)'

model = dict(
    num_queries=100,
    backbone=dict(
        arch='atto',
        # written by python tools/demo.py (the shape pretraining); --cfg-options
        # model.backbone.init_cfg=None trains from scratch instead
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_pretrain/iter_3000.pth')),
    neck=dict(in_channels=[80, 160, 320]),
    encoder=dict(num_layers=3, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    decoder=dict(num_layers=3, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    bbox_head=dict(num_classes=5),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=30)),
    test_cfg=dict(max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
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

# iterations, validated at the end; checkpoints every 100 so that an interrupted demo resumes
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=300, val_interval=300)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=300, eta_min=1e-6),
]
# fp32 even on a CPU with native bf16 (as the detection demo; not measured for these heads)
optim_wrapper = dict(
    dtype='float32',
    optimizer=dict(lr=3e-4, fused=True),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
auto_scale_lr = dict(enable=False, base_batch_size=4)
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(_delete_=True, type='CheckpointHook', by_epoch=False, interval=100,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
