# Cascade Mask R-CNN, ConvNeXt-S (ImageNet-1K), 3x. Paper: 51.9 box AP / 45.0 mask AP, 108M params.
_base_ = './cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_small_1k_224.pth'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.6,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=12),
    optimizer=dict(lr=2e-4))
