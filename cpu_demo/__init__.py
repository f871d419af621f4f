"""The CPU demo's synthetic data (shape scenes in COCO and ADE20K layouts) and its stand-in
for ImageNet pretraining (shape classification on MMEngine's Runner)."""
from .pretraining import ShapeAccuracy, ShapeClassifier, SyntheticShapes
from .synthetic_data import (CLASSES, ade_metainfo, render_scene, write_ade20k_dataset,
                             write_coco_dataset)

__all__ = ['CLASSES', 'ShapeAccuracy', 'ShapeClassifier', 'SyntheticShapes', 'ade_metainfo',
           'render_scene', 'write_ade20k_dataset', 'write_coco_dataset']
