# UperNet + ConvNeXt-B distilled by DINOv3 (LVD-1689M images, Simeoni et al. 2025) on ADE20K,
# 640x640 crops, 160k iterations. Not trained or measured here.
# Licence: the DINOv3 weights are under the DINOv3 License
# (https://ai.meta.com/resources/models-and-libraries/dinov3-license/), not this project's
# Apache-2.0; read it before use: its terms reach the models trained from them.
# Recipe: DINOv3 publishes no UperNet fine-tuning of its ConvNeXts (its dense results are linear
# probes on frozen features), so every setting is ConvNeXt-B's own at 640 with ImageNet-22K
# weights (facebookresearch/ConvNeXt semantic_segmentation, inherited from
# ../upernet_convnext_b_in22k_ade20k_640.py): AdamW lr 1e-4, weight decay 0.05, stage-wise lr
# decay 0.9 over 12 layers, drop path 0.4, 1500 linear warm-up iterations then poly decay,
# 16 images per step, 640x640 crops, sliding test with stride 426. Only the weights differ.
# The network is ConvNeXt V1 (timm's convnext_base.dinov3_lvd1689m is timm's plain ConvNeXt;
# dinov3/models/convnext.py is the official block: layer scale, LayerNorm eps 1e-6, biases,
# 4x4 stem); DINOv3's final norm on pooled and patch tokens is a classifier part, not loaded
# into our output norms. Inputs: ImageNet's mean and std, as for DINOv3's LVD-1689M models
# (timm's pretrained_cfg) and as the base config normalises.
_base_ = '../upernet_convnext_b_in22k_ade20k_640.py'

# timm's hub file; transformers' facebook/dinov3-convnext-base-pretrain-lvd1689m
# model.safetensors (or its directory) loads as well
checkpoint_file = 'checkpoints/convnext_base.dinov3_lvd1689m/model.safetensors'
checkpoint_hint = ('accept the DINOv3 License on huggingface.co/timm/convnext_base.dinov3_lvd1689m'
                   ', then: huggingface-cli download timm/convnext_base.dinov3_lvd1689m '
                   '--local-dir checkpoints/convnext_base.dinov3_lvd1689m')
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
