"""mmseg-only pieces (importing this imports mmseg): ADE20K-layout datasets whose label maps
are checked as they load. Segmentation configs import it with
``custom_imports = dict(imports=['convnext_dense', 'convnext_dense.segmentation'])``."""
from .datasets import ADE20KDataset, ADE20KStyleDataset, CheckSegLabels

__all__ = ['ADE20KDataset', 'ADE20KStyleDataset', 'CheckSegLabels']
