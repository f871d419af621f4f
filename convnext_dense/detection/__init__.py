"""mmdet-only pieces (importing this module imports mmdet). Detection configs load it with
``custom_imports = dict(imports=['convnext_dense', 'convnext_dense.detection'])`` so that
segmentation users never pay for importing mmdet."""
from .tta import DetTTAModelWithMasks

__all__ = ['DetTTAModelWithMasks']
