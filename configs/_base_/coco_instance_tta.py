# Test-time augmentation for the COCO instance-segmentation configs (tools/test.py --tta):
# three scales x horizontal flip. mmdet's DetTTAModel merges boxes only, so the mask-aware
# subclass from convnext_dense.detection is used.
tta_model = dict(
    type='convnext_dense.DetTTAModelWithMasks',
    tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))

tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=(1333, 640), keep_ratio=True),
              dict(type='Resize', scale=(1333, 800), keep_ratio=True),
              dict(type='Resize', scale=(1333, 960), keep_ratio=True)],
             [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
             [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
             [dict(type='PackDetInputs',
                   meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                              'scale_factor', 'flip', 'flip_direction'))]])
]
