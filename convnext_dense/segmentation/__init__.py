"""mmseg-only pieces (importing this imports mmseg; configs name it in ``custom_imports``):
ADE20K-layout datasets whose label maps are checked as they load."""
from .datasets import ADE20KDataset, ADE20KStyleDataset, CheckSegLabels

__all__ = ['ADE20KDataset', 'ADE20KStyleDataset', 'CheckSegLabels']
