# UperNet + ConvNeXt-V2-H (657M-parameter trunk) on ADE20K, 640x640, 160k iterations,
# ImageNet-22K init (EMA, 512 px). Ours, as V2-B, plus V1 XL's lower lr 8e-5 for the
# largest model; add model.backbone.with_cp=True if 2 images per GPU do not fit.
# Weights CC-BY-NC 4.0.
_base_ = ['./upernet_convnext_v2_b_ade20k_640.py']

checkpoint_file = ('https://dl.fbaipublicfiles.com/convnext/convnextv2/im22k/'
                   'convnextv2_huge_22k_512_ema.pt')
model = dict(
    backbone=dict(arch='huge', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[352, 704, 1408, 2816]),
    auxiliary_head=dict(in_channels=1408),
)
optim_wrapper = dict(optimizer=dict(lr=8e-5))
