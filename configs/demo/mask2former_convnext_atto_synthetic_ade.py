# Mask2Former semantic segmentation at CPU-demo scale: the Mask2Former ADE20K ConvNeXt recipe
# shrunk as the UperNet demo config is (configs/demo/upernet_convnext_atto_synthetic.py): the
# synthetic 'demo' shape scenes in ADE20K's layout (128x128; tools/make_synthetic_data.py ade
# --style demo) with label 0 a learnt "background" class (6 classes), resize 0.75-1.5, 128
# crops, flip, no photometric distortion (colour carries no class), whole-image test;
# ConvNeXt-atto from the demo's shape pretraining, no drop path; the Mask2Former head shrunk
# as in configs/demo/mask2former_convnext_atto_synthetic.py (128 channels, 2 pixel-decoder
# and 3 decoder layers, 20 queries, 1,024 points); the backbone at the full lr; batch 4,
# AdamW lr 3e-4, 50-iteration warm-up then poly decay over 1000 iterations.
_base_ = ['../mask2former_convnext_t_ade20k.py']

data_root = 'data/synthetic_ade_demo'
metainfo = dict(
    classes=('background', 'circle', 'triangle', 'square', 'star', 'cross'),
    palette=[[120, 120, 120], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
             [145, 30, 180]])
dataset_hint = 'python tools/make_synthetic_data.py ade --style demo writes it'
checkpoint_hint = 'python tools/demo.py makes it (its first step, the shape pretraining)'

model = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(
        arch='atto', drop_path_rate=0.0,
        # the demo's shape pretraining; --cfg-options model.backbone.init_cfg=None: scratch
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_pretrain/iter_3000.pth')),
    decode_head=dict(
        in_channels=[40, 80, 160, 320],
        feat_channels=128, out_channels=128,
        num_classes=6, num_queries=20,
        pixel_decoder=dict(encoder=dict(num_layers=2, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=128),
            ffn_cfg=dict(embed_dims=128, feedforward_channels=256))),
            positional_encoding=dict(num_feats=64)),
        positional_encoding=dict(num_feats=64),
        transformer_decoder=dict(num_layers=3, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=128),
            cross_attn_cfg=dict(embed_dims=128),
            ffn_cfg=dict(embed_dims=128, feedforward_channels=512))),
        loss_cls=dict(class_weight=[1.0] * 6 + [0.1]),
        train_cfg=dict(num_points=1024)))

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
    batch_size=4, num_workers=1,
    dataset=dict(
        _delete_=True, type='convnext_dense.ADE20KStyleDataset', data_root=data_root,
        metainfo=metainfo, reduce_zero_label=False, pipeline=train_pipeline,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')))
val_dataloader = dict(
    batch_size=1, num_workers=1,
    dataset=dict(
        _delete_=True, type='convnext_dense.ADE20KStyleDataset', data_root=data_root,
        metainfo=metainfo, reduce_zero_label=False, pipeline=test_pipeline,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation')))
test_dataloader = val_dataloader

optim_wrapper = dict(
    dtype='float32',
    optimizer=dict(lr=3e-4, fused=True),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50, end=1000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=250, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
