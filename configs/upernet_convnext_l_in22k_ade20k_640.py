# UperNet + ConvNeXt-L on ADE20K, 640x640, 160k iterations, ImageNet-22K init.
# Official: mIoU 53.2 single-scale, 53.7 multi-scale. Same recipe as B-22K-640 except the
# arch and its channels.
_base_ = ['./upernet_convnext_b_in22k_ade20k_640.py']

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth'
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768),
)
