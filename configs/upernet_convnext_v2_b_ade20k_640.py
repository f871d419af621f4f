# UperNet + ConvNeXt-V2-B on ADE20K, 640x640, 160k iterations, ImageNet-22K init.
# There are no official ConvNeXt-V2 segmentation configs; these settings are ours: V1's
# UperNet B-22K-640 recipe unchanged (drop path 0.4, stage-wise decay 0.9 over 12 layers,
# lr 1e-4) with the V2 backbone (GRN, no layer scale) initialised from the official
# ImageNet-22K fine-tuned weights (EMA, 384 px). Not trained here: no mIoU to quote.
# The ConvNeXt-V2 weights are licensed CC-BY-NC 4.0: non-commercial use only.
_base_ = ['./upernet_convnext_b_in22k_ade20k_640.py']

checkpoint_file = ('https://dl.fbaipublicfiles.com/convnext/convnextv2/im22k/'
                   'convnextv2_base_22k_384_ema.pt')
model = dict(
    backbone=dict(use_grn=True, layer_scale_init_value=0.,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
