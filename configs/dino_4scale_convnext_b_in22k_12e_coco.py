# DINO-4scale, ConvNeXt-B (ImageNet-22K, fine-tuned on 1K at 384), COCO, 12 epochs.
# detrex projects/dino dino_convnext_base_384_4scale_12ep.py: 55.1 box AP (not trained here).
# Everything but the arch, its channels and the weights (detrex's convnext_base_22k_1k_384)
# comes from the ConvNeXt-T config, whose header says where each setting comes from.
_base_ = './dino_4scale_convnext_t_12e_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_1k_384.pth'
model = dict(
    backbone=dict(arch='base', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[256, 512, 1024]))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
