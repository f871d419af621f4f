# Cascade Mask R-CNN, ConvNeXt-B (ImageNet-1K), 3x. Paper: 52.7 box AP / 45.6 mask AP, 146M params.
_base_ = './cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_base_1k_224.pth'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.7,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.8, decay_type='layer_wise', num_layers=12),
    optimizer=dict(lr=2e-4))
