# Mask2Former semantic segmentation, ConvNeXt-T (ImageNet-1K), ADE20K, 512x512 crops, 160k
# iterations of 16 images. No published ConvNeXt-T number for this head (mmseg's Swin-T with
# the same recipe: 48.66 mIoU); not trained here.
# Recipe: mmseg's mask2former_r50_8xb2-160k_ade20k-512x512.py / swin-t, which are the official
# facebookresearch/Mask2Former ADE20K recipe: 100 queries, 9 masked-attention decoder layers,
# an MSDeformAttn pixel decoder (6 layers) on strides 8-32, class 2 / mask 5 / dice 5 losses,
# short side 256..1024 then 512 crops, flip, photometric distortion; whole-image test at short
# side 512; AdamW lr 1e-4, weight decay 0.05, poly decay (power 0.9), the backbone at 0.1x the
# lr, the queries and level embeddings and all norms without weight decay, gradient clipping
# 0.01. Only the backbone differs: ConvNeXt-T stages 0-3, drop path 0.4 (the ConvNeXt paper's
# UperNet-T value; OneFormer's ConvNeXt-L uses 0.4 too; mmseg's Swin-T 0.3).
# Adapted: our layer-decay constructor gives those multipliers (custom_keys) and leaves
# biases and layer scales undecayed too; decay_rate=1.0 keeps the published flat backbone
# rate (decay_rate < 1 adds stage-wise decay on top, untested at scale); AMP (bf16 on a CPU
# with native bf16); our ADE20K dataset (label maps checked as they load).
_base_ = [
    'mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    './_base_/convnext_dense_runtime.py',
]
# mmdet.models: mmseg's Mask2FormerHead is built from mmdet's pixel decoder, losses, assigner
custom_imports = dict(
    imports=['convnext_dense', 'convnext_dense.segmentation', 'mmdet.models'],
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
    decode_head=dict(in_channels=[96, 192, 384, 768]))

embed = dict(lr_mult=1.0, decay_mult=0.0)
optim_wrapper = dict(
    _delete_=True,
    type='convnext_dense.AmpOptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(
        decay_rate=1.0, decay_type='stage_wise', num_layers=6,
        custom_keys={'backbone': dict(lr_mult=0.1), 'query_embed': embed,
                     'query_feat': embed, 'level_embed': embed}),
    clip_grad=dict(max_norm=0.01, norm_type=2))

dataset_type = 'convnext_dense.ADE20KDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
