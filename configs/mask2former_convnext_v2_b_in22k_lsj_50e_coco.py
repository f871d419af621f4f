# Mask2Former instance segmentation, ConvNeXt-V2-B (ImageNet-22K, fine-tuned on 1K at 384),
# COCO, 50 epochs. No published V2 recipe or number for this head: the V1 B-22K config with
# the backbone changed only (GRN, no layer scale, the official V2 22K->1K 384 weights). Not
# trained here. The ConvNeXt-V2 weights are licensed CC-BY-NC 4.0: non-commercial use only.
_base_ = './mask2former_convnext_b_in22k_lsj_50e_coco.py'

checkpoint_file = ('https://dl.fbaipublicfiles.com/convnext/convnextv2/im22k/'
                   'convnextv2_base_22k_384_ema.pt')
model = dict(
    backbone=dict(use_grn=True, layer_scale_init_value=0.,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
