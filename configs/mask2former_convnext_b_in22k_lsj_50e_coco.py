# Mask2Former instance segmentation, ConvNeXt-B (ImageNet-22K, fine-tuned on 1K at 384),
# COCO, 50 epochs. No published ConvNeXt number for this head; not trained here. The weights
# are those the published ConvNeXt query-head results use (detrex, OneFormer, Mask2Former
# PR #34); drop path 0.6 is the ConvNeXt paper's COCO value for B-22K. Everything else: the
# ConvNeXt-T config's header.
_base_ = './mask2former_convnext_t_lsj_50e_coco.py'

checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_1k_384.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.6,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
