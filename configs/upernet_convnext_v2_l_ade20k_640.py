# UperNet + ConvNeXt-V2-L on ADE20K, 640x640, 160k iterations, ImageNet-22K init (ours, as
# V2-B: V1's recipe with the V2 backbone). Weights CC-BY-NC 4.0.
_base_ = ['./upernet_convnext_v2_b_ade20k_640.py']

checkpoint_file = ('https://dl.fbaipublicfiles.com/convnext/convnextv2/im22k/'
                   'convnextv2_large_22k_384_ema.pt')
model = dict(
    backbone=dict(arch='large', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768),
)
