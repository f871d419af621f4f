# Cascade Mask R-CNN, ConvNeXt-XL (ImageNet-22K), 3x. Paper: 55.2 box AP / 47.7 mask AP, 407M params.
_base_ = './cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth'

model = dict(
    backbone=dict(arch='xlarge', drop_path_rate=0.8,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[256, 512, 1024, 2048]))

optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise', num_layers=12),
    optimizer=dict(lr=1e-4))
