# UperNet + ConvNeXt-XL on ADE20K, 640x640, 160k iterations, ImageNet-22K init.
# Official: mIoU 53.6 single-scale, 54.0 multi-scale. Same recipe as B-22K-640 except the
# arch, its channels and lr 8e-5.
_base_ = ['./upernet_convnext_b_in22k_ade20k_640.py']

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_xlarge_22k_224.pth'
model = dict(
    backbone=dict(arch='xlarge', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[256, 512, 1024, 2048]),
    auxiliary_head=dict(in_channels=1024),
)
optim_wrapper = dict(optimizer=dict(lr=8e-5))
