# UperNet + ConvNeXt-B on ADE20K, 512x512, 160k iterations, ImageNet-1K init.
# Official: mIoU 49.1 single-scale, 49.9 multi-scale. Same recipe as T except the arch,
# its channels and num_layers 12 for the stage-wise lr decay (drop_path stays 0.4).
_base_ = ['./upernet_convnext_t_ade20k.py']

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_base_1k_224.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
