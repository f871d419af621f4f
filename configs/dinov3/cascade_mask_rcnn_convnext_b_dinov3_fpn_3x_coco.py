# Cascade Mask R-CNN, ConvNeXt-B distilled by DINOv3 (LVD-1689M images, Simeoni et al. 2025),
# FPN, 3x (36 epochs), multi-scale + crop training on COCO. Not trained or measured here.
# Licence: the DINOv3 weights are under the DINOv3 License
# (https://ai.meta.com/resources/models-and-libraries/dinov3-license/), not this project's
# Apache-2.0; read it before use: its terms reach the models trained from them.
# Recipe: DINOv3 publishes no detection fine-tuning of its ConvNeXts, so every setting is
# ConvNeXt-B's own with ImageNet-22K weights (facebookresearch/ConvNeXt object_detection,
# inherited from ../cascade_mask_rcnn_convnext_b_in22k_fpn_3x_coco.py): AdamW lr 1e-4, weight
# decay 0.05, layer-wise lr decay 0.8 over 12 layers, drop path 0.6, 500 warm-up iterations,
# steps at epochs 27 and 33, 16 images per step; mmdet's 4conv1fc SyncBN box heads with GIoU.
# Only the weights differ. The network is ConvNeXt V1 (see
# upernet_convnext_b_dinov3_ade20k_640.py for what was checked); inputs: ImageNet's mean and std.
_base_ = '../cascade_mask_rcnn_convnext_b_in22k_fpn_3x_coco.py'

# timm's hub file; transformers' facebook/dinov3-convnext-base-pretrain-lvd1689m
# model.safetensors (or its directory) loads as well
checkpoint_file = 'checkpoints/convnext_base.dinov3_lvd1689m/model.safetensors'
checkpoint_hint = ('accept the DINOv3 License on huggingface.co/timm/convnext_base.dinov3_lvd1689m'
                   ', then: huggingface-cli download timm/convnext_base.dinov3_lvd1689m '
                   '--local-dir checkpoints/convnext_base.dinov3_lvd1689m')
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
