"""mmdet-only pieces (importing this imports mmdet): COCO datasets checked as they load and
test-time augmentation that keeps masks. Detection configs import it with
``custom_imports = dict(imports=['convnext_dense', 'convnext_dense.detection'])``."""
from .datasets import CocoDataset, LoadImageChecked
from .tta import DetTTAModelWithMasks

__all__ = ['CocoDataset', 'DetTTAModelWithMasks', 'LoadImageChecked']
