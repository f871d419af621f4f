# Mask2Former instance segmentation, ConvNeXt-T (ImageNet-1K), COCO, 50 epochs (368,750
# iterations of 16 images), large-scale jitter at 1024. No published ConvNeXt number for this
# head (mmdet's Swin-T with the same recipe: 47.7 box AP / 44.7 mask AP); not trained here.
# Recipe: mmdet's mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py, which is the official
# facebookresearch/Mask2Former instance recipe: 100 queries, 9 masked-attention decoder
# layers, an MSDeformAttn pixel decoder (6 layers) on strides 8-32, 12,544 sampled points,
# class 2 / mask 5 / dice 5 losses; AdamW lr 1e-4, weight decay 0.05, the backbone at 0.1x
# the lr, the queries and level embeddings and all norms without weight decay, gradient
# clipping 0.01, steps at 327,778 and 355,092. Only the backbone differs: ConvNeXt-T stages
# 0-3, drop path 0.4 (the ConvNeXt paper's COCO value for T; Swin-T used 0.3).
# Adapted: our layer-decay constructor gives those multipliers (custom_keys) and leaves
# biases and layer scales undecayed too; decay_rate=1.0 keeps the published flat backbone
# rate (decay_rate < 1 adds layer-wise decay on top, untested at scale); AMP (bf16 on a CPU
# with native bf16); data_prefix without the panoptic `seg` folder, which instance training
# never reads (mmdet's config keeps it from its panoptic base).
_base_ = [
    'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py',
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
    panoptic_head=dict(in_channels=[96, 192, 384, 768]))

embed = dict(lr_mult=1.0, decay_mult=0.0)
optim_wrapper = dict(
    _delete_=True,
    type='convnext_dense.AmpOptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(
        decay_rate=1.0, decay_type='layer_wise', num_layers=6,
        custom_keys={'backbone': dict(lr_mult=0.1), 'query_embed': embed,
                     'query_feat': embed, 'level_embed': embed}),
    clip_grad=dict(max_norm=0.01, norm_type=2))

train_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset',
                                     data_prefix=dict(_delete_=True, img='train2017/')))
val_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset',
                                   data_prefix=dict(_delete_=True, img='val2017/')))
test_dataloader = val_dataloader
