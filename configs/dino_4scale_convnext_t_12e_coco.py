# DINO-4scale, ConvNeXt-T (ImageNet-1K), COCO, 12 epochs.
# Recipe: IDEA-Research/detrex projects/dino/configs/dino-convnext/ (dino_convnext.py model,
# *_384_4scale_12ep.py training), which publishes 52.4 box AP for ConvNeXt-T, but initialised
# from the ImageNet-22K->1K 384 weights (convnext_tiny_22k_1k_384.pth); with the 1K weights
# here no number is published (not trained here either).
# From mmdet's dino-4scale_r50_8xb2-12e_coco.py (the same DINO as detrex): 900 queries, 100
# denoising queries, 6+6 layers of 256 channels, FFN 2048, focal loss 1 / L1 5 / GIoU 2,
# ChannelMapper (1x1 convs + GN, a fourth level by a strided 3x3 conv), the DETR
# multi-scale + crop augmentation, 12 epochs with one step at epoch 11, 16 images per step.
# From detrex, where mmdet's R-50 config differs: ConvNeXt stages 1-3 (out_indices=(1, 2, 3),
# strides 8/16/32) into the ChannelMapper; no drop path; sine position embedding with
# temperature 10000 and offset -0.5 (mmdet: 20 and 0); label noise 0.2 (mmdet: 0.5).
# Both: AdamW lr 1e-4, weight decay 1e-4, the backbone at 0.1x the lr, gradient clipping 0.1.
# Adapted: our layer-decay constructor gives the backbone's 0.1x (custom_keys, as mmdet's and
# detrex's), no weight decay to norms, biases, layer scales, the query and level embeddings
# (detrex: 1e-4 on biases and embeddings); decay_rate=1.0 keeps the published flat backbone
# rate (decay_rate < 1 adds layer-wise decay on top, untested at scale); AMP (bf16 on a CPU
# with native bf16; detrex trains in fp32).
_base_ = [
    'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
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
        out_indices=(1, 2, 3),
        drop_path_rate=0.0,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[192, 384, 768]),
    positional_encoding=dict(temperature=10000, offset=-0.5),
    dn_cfg=dict(label_noise_scale=0.2))

# no weight decay and the full lr: queries (query_embedding, the denoising label_embedding)
# and level embeddings; the transformer, neck and head get the full lr anyway
embed = dict(lr_mult=1.0, decay_mult=0.0)
optim_wrapper = dict(
    _delete_=True,
    type='convnext_dense.AmpOptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    paramwise_cfg=dict(
        decay_rate=1.0, decay_type='layer_wise', num_layers=6,
        custom_keys={'backbone': dict(lr_mult=0.1), 'query_embedding': embed,
                     'label_embedding': embed, 'level_embed': embed}),
    clip_grad=dict(max_norm=0.1, norm_type=2))

# mmdet's CocoDataset plus one-line errors for malformed annotations and missing images
train_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
val_dataloader = dict(dataset=dict(type='convnext_dense.CocoDataset'))
test_dataloader = val_dataloader
