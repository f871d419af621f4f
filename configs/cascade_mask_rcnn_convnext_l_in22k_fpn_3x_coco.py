# Cascade Mask R-CNN, ConvNeXt-L (ImageNet-22K), 3x. Paper: 54.8 box AP / 47.6 mask AP, 255M params.
_base_ = './cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.7,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[192, 384, 768, 1536]))

optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=12),
    optimizer=dict(lr=1e-4))
