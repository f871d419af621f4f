# UperNet + ConvNeXt-T on ADE20K, 512x512 crops, 160k iterations, ImageNet-1K init.
# Official recipe (facebookresearch/ConvNeXt semantic_segmentation): mIoU 46.0 single-scale,
# 46.7 multi-scale (tools/test.py --tta). 16 images per step = 8 GPUs x 2.
_base_ = [
    'mmseg::_base_/models/upernet_convnext.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    './_base_/convnext_dense_runtime.py',
]
# replaces the base's mmpretrain import: the backbone is this project's
custom_imports = dict(
    imports=['convnext_dense', 'convnext_dense.segmentation'], allow_failed_imports=False)

crop_size = (512, 512)
num_classes = 150
checkpoint_file = 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='convnext_dense.ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    # UperHead: pool scales (1, 2, 3, 6), 512 channels, dropout 0.1, SyncBN (from the base)
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=num_classes),
    # FCNHead on stage 2: 256 channels, loss weight 0.4 (from the base)
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)),
)

optim_wrapper = dict(
    _delete_=True,
    type='convnext_dense.AmpOptimWrapper',  # on a CPU: bf16 where it has native bf16, else fp32
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='convnext_dense.LayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6),
    loss_scale='dynamic')

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=160000),
]

# ADE20K (data/ade/ADEChallengeData2016, or --data-root). Label 0 is "other" and is ignored
# (reduce_zero_label=True); convnext_dense.ADE20KDataset is mmseg's dataset plus a check that
# every label map fits its image and holds only 0..150 or 255.
dataset_type = 'convnext_dense.ADE20KDataset'
train_dataloader = dict(batch_size=2, dataset=dict(type=dataset_type))
val_dataloader = dict(batch_size=1, dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=16)

# tools/test.py --tta: ratios 0.5..1.75 with and without horizontal flip
tta_model = dict(type='SegTTAModel')
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
             [dict(type='RandomFlip', prob=0., direction='horizontal'),
              dict(type='RandomFlip', prob=1., direction='horizontal')],
             [dict(type='LoadAnnotations')],
             [dict(type='PackSegInputs')],
         ]),
]
