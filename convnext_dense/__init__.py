"""convnext-dense: ConvNeXt and ConvNeXt-V2 for dense prediction on OpenMMLab 2.0.

``import convnext_dense`` (or ``custom_imports``) registers the modules below in the
``convnext_dense`` scope and changes nothing else; mmdet-only and mmseg-only pieces live in
``convnext_dense.detection`` and ``convnext_dense.segmentation``."""
from .amp import AmpOptimWrapper
from .archs import ARCH_SETTINGS
from .backbone import ConvNeXt
from .checkpoint_layouts import convert_to_official, detect_layout, load_pretrained
from .hooks import CheckFiniteLossHook, RngStateHook
from .layer_decay import LayerDecayOptimizerConstructor
from .runner import Runner

__all__ = ['ARCH_SETTINGS', 'AmpOptimWrapper', 'CheckFiniteLossHook', 'ConvNeXt',
           'LayerDecayOptimizerConstructor', 'RngStateHook', 'Runner',
           'convert_to_official', 'detect_layout', 'load_pretrained']
__version__ = '0.3.0'
