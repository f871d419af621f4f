"""mmdet-only pieces (importing this imports mmdet; configs name it in ``custom_imports``): COCO
datasets checked as they load and test-time augmentation that keeps masks."""
from .datasets import CocoDataset, LoadImageChecked
from .tta import DetTTAModelWithMasks

__all__ = ['CocoDataset', 'DetTTAModelWithMasks', 'LoadImageChecked']
