from .convnext import ARCH_SETTINGS, ConvNeXt, ConvNeXtBlock
from .checkpoint_layouts import convert_to_official, detect_layout
from .pretrained import load_pretrained

__all__ = ["ARCH_SETTINGS", "load_pretrained", 'ConvNeXt', 'ConvNeXtBlock', 'convert_to_official', 'detect_layout']
