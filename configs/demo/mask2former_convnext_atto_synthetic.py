# CPU demo (python tools/demo.py mask2former): the Mask2Former instance ConvNeXt recipe shrunk
# to train in minutes on 2 cores. Changed from the recipe: the synthetic 'demo' shape scenes
# (5 classes, 160x160; tools/make_synthetic_data.py coco --style demo) trained at 128..192
# with flip (the recipe's large-scale jitter crops 1024 squares) and tested at 160;
# ConvNeXt-atto fine-tuned from the demo's shape pretraining
# (configs/demo/convnext_atto_shapes_pretrain.py), no drop path; 128 channels (256), 2
# pixel-decoder layers (6) with FFN 256 (1024), 3 masked-attention decoder layers (9) with
# FFN 512 (2048), 20 queries (100; a scene has at most 4 objects), 1,024 sampled points per
# mask (12,544 on a 1/4-resolution mask of 40x40 here); the backbone at the full lr; batch 4,
# AdamW lr 3e-4, 50-iteration warm-up then cosine decay. Measurements:
# benchmarks/query_heads.md.
_base_ = '../mask2former_convnext_t_lsj_50e_coco.py'

data_root = 'data/synthetic_coco_demo/'
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'cross'))
dataset_hint = 'python tools/demo.py mask2former writes it'
checkpoint_hint = 'python tools/demo.py makes it (its first step, the shape pretraining)'

model = dict(
    # the recipe pads every batch to 1024x1024
    data_preprocessor=dict(batch_augments=None),
    backbone=dict(
        arch='atto', drop_path_rate=0.0,
        # written by python tools/demo.py (the shape pretraining); --cfg-options
        # model.backbone.init_cfg=None trains from scratch instead
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_pretrain/iter_3000.pth')),
    panoptic_head=dict(
        in_channels=[40, 80, 160, 320],
        feat_channels=128, out_channels=128,
        num_things_classes=5, num_queries=20,
        pixel_decoder=dict(encoder=dict(num_layers=2, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=128),
            ffn_cfg=dict(embed_dims=128, feedforward_channels=256))),
            positional_encoding=dict(num_feats=64)),
        positional_encoding=dict(num_feats=64),
        transformer_decoder=dict(num_layers=3, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=128),
            cross_attn_cfg=dict(embed_dims=128),
            ffn_cfg=dict(embed_dims=128, feedforward_channels=512))),
        loss_cls=dict(class_weight=[1.0] * 5 + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=5),
    train_cfg=dict(num_points=1024),
    test_cfg=dict(max_per_image=20))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=(160, 160), ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
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

# epochs of 250 iterations, validated and saved at the end (an interrupted demo resumes)
# iterations, validated at the end; checkpoints every 100 so that an interrupted demo resumes
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=400, val_interval=400)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=400, eta_min=1e-6),
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
