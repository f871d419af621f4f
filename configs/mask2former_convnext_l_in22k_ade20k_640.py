# Mask2Former semantic segmentation, ConvNeXt-L (ImageNet-22K, fine-tuned on 1K at 384),
# ADE20K, 640x640 crops, 160k iterations. Published with this backbone: OneFormer (a
# Mask2Former successor, SHI-Labs/OneFormer oneformer_convnext_large_bs16_160k.yaml, same
# weights, drop path 0.4, 250 queries) 56.6 mIoU single scale; mmseg's Mask2Former Swin-L 22K
# with this recipe: 56.01. Not trained here. Same as the B-22K-640 config but the arch, its
# channels and the weights.
_base_ = './mask2former_convnext_b_in22k_ade20k_640.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_1k_384.pth'
model = dict(
    backbone=dict(arch='large', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]))
