# UperNet + ConvNeXt-S on ADE20K, 512x512, 160k iterations, ImageNet-1K init.
# Official: mIoU 48.7 single-scale, 49.6 multi-scale. Same recipe as T except the arch,
# drop_path 0.3 and num_layers 12 for the stage-wise lr decay.
_base_ = ['./upernet_convnext_t_ade20k.py']

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_small_1k_224.pth'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
