"""convnext-dense: ConvNeXt and ConvNeXt-V2 for dense prediction on OpenMMLab 2.0.

``import convnext_dense`` (or ``custom_imports=dict(imports=['convnext_dense'])`` in a
config) registers this package's modules in its own registry scope and changes nothing else:
the backbone ``convnext_dense.ConvNeXt``, the optimizer constructor
``convnext_dense.LayerDecayOptimizerConstructor``, the CPU mixed-precision wrapper
``convnext_dense.AmpOptimWrapper``, the hooks and ``convnext_dense.Runner``. Configs switch
them on (``configs/_base_/convnext_dense_runtime.py``). mmdet-only and mmseg-only pieces live
in ``convnext_dense.detection`` and ``convnext_dense.segmentation``.
"""
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
