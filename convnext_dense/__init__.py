"""convnext-dense: ConvNeXt and ConvNeXt-V2 for dense prediction on OpenMMLab 2.0.

``import convnext_dense`` (or ``custom_imports=dict(imports=['convnext_dense'])`` in a
config) registers the backbone ``convnext_dense.ConvNeXt``, the optimizer constructor
``convnext_dense.LayerDecayOptimizerConstructor`` and the hooks, and makes checkpoint
loading safe under torch >= 2.6. mmdet-only and mmseg-only pieces live in
``convnext_dense.detection`` and ``convnext_dense.segmentation``; the CPU demo's data and
pretraining in ``convnext_dense.demo``.
"""
from . import amp  # noqa: F401  (type='AmpOptimWrapper' autocasts on a CPU too)
from . import checkpoint  # noqa: F401  (routes MMEngine's checkpoint loading through it)
from .backbone import ARCH_SETTINGS, ConvNeXt
from .checkpoint_layouts import convert_to_official, detect_layout, load_pretrained
from .hooks import CheckFiniteLossHook, ProgressBarHook, RngStateHook
from .layer_decay import LayerDecayOptimizerConstructor

__all__ = ['ARCH_SETTINGS', 'CheckFiniteLossHook', 'ConvNeXt', 'LayerDecayOptimizerConstructor',
           'ProgressBarHook', 'RngStateHook', 'convert_to_official', 'detect_layout',
           'load_pretrained']
__version__ = '0.2.0'
