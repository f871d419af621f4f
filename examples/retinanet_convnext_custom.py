# Using the ConvNeXt backbone in your own mmdet config: RetinaNet + ConvNeXt-T.
#
# This file lives outside configs/ on purpose: it is what a user's config looks like.
# All it needs is `custom_imports` (which registers `convnext_dense.ConvNeXt` and the
# layer-decay optimizer constructor) and the backbone/neck lines below; everything else is
# mmdet's stock RetinaNet config. Train it like any other config:
#     python tools/train.py examples/retinanet_convnext_custom.py --data-root data/coco/
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']

custom_imports = dict(imports=['convnext_dense'], allow_failed_imports=False)

model = dict(
    # ConvNeXt stages have no BGR->RGB/caffe quirks: the base's ImageNet mean/std apply
    backbone=dict(
        _delete_=True,  # drop the ResNet-only keys (depth, norm_eval, style, ...)
        type='convnext_dense.ConvNeXt',
        arch='tiny',
        out_indices=(1, 2, 3),  # C3..C5 (strides 8, 16, 32), as RetinaNet uses
        drop_path_rate=0.2,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://dl.fbaipublicfiles.com/convnext/'
                                 'convnext_tiny_1k_224.pth')),
    # the neck takes the backbone's out_channels for those stages
    neck=dict(in_channels=[192, 384, 768], start_level=0, add_extra_convs='on_input'))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=10.0))
