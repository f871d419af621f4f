# Mask2Former semantic segmentation, ConvNeXt-B (ImageNet-22K, fine-tuned on 1K at 384),
# ADE20K, 640x640 crops, 160k iterations of 16 images. Published for this backbone and head:
# 55.06 mIoU in facebookresearch/Mask2Former PR #34 (unmerged; same weights, but 64 images per
# step, lr 4e-4, 50k iterations); mmseg's Swin-B 22K with this recipe: 53.9. Not trained here.
# The 640 settings are mmseg's mask2former_swin-b-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py
# (short side 320..1280, max 2560, 640 crops; test at short side 640); drop path 0.4 as the
# ConvNeXt paper's UperNet B-22K-640. Everything else: the ConvNeXt-T config's header.
_base_ = './mask2former_convnext_t_ade20k.py'

crop_size = (640, 640)
checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_base_22k_1k_384.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='base', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomChoiceResize', scales=[int(640 * x * 0.1) for x in range(5, 21)],
         resize_type='ResizeShortestEdge', max_size=2560),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
