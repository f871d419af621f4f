# DINO-4scale, ConvNeXt-B distilled by DINOv3 (LVD-1689M images, Simeoni et al. 2025), COCO,
# 12 epochs. Not trained or measured here.
# Licence: the DINOv3 weights are under the DINOv3 License
# (https://ai.meta.com/resources/models-and-libraries/dinov3-license/), not this project's
# Apache-2.0; read it before use: its terms reach the models trained from them.
# Recipe: DINOv3 publishes no detection fine-tuning of its ConvNeXts, so every setting is the
# ConvNeXt-B 22K DINO recipe's (detrex projects/dino, inherited from
# ../dino_4scale_convnext_b_in22k_12e_coco.py); only the weights differ. The network is
# ConvNeXt V1 (see upernet_convnext_b_dinov3_ade20k_640.py); inputs: ImageNet's mean and std.
_base_ = '../dino_4scale_convnext_b_in22k_12e_coco.py'

# timm's hub file; transformers' facebook/dinov3-convnext-base-pretrain-lvd1689m
# model.safetensors (or its directory) loads as well
checkpoint_file = 'checkpoints/convnext_base.dinov3_lvd1689m/model.safetensors'
checkpoint_hint = ('accept the DINOv3 License on huggingface.co/timm/convnext_base.dinov3_lvd1689m'
                   ', then: huggingface-cli download timm/convnext_base.dinov3_lvd1689m '
                   '--local-dir checkpoints/convnext_base.dinov3_lvd1689m')
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
