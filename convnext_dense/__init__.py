"""convnext-dense: ConvNeXt for dense prediction on OpenMMLab 2.0.

``import convnext_dense`` (or ``custom_imports=dict(imports=['convnext_dense'])`` in a
config) registers the backbone ``convnext_dense.ConvNeXt``, the optimizer constructor
``convnext_dense.LayerDecayOptimizerConstructor`` and this package's hooks, and makes
checkpoint loading safe under torch >= 2.6 (see :mod:`convnext_dense.checkpoint`).
"""
from . import compat  # noqa: F401  (mmdet::/mmseg:: config bases without pkg_resources)
from . import checkpoint  # noqa: F401  (installs the safe checkpoint loaders)
from .engine import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .registry import HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: F401

__version__ = '0.1.0'
