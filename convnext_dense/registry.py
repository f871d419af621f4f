"""This package's registries, children of MMEngine's root registries.

Being children of the root (not of mmdet's or mmseg's) is what lets
``type='convnext_dense.ConvNeXt'`` resolve from a config whose default scope is
``mmdet`` as well as from one whose default scope is ``mmseg``: a scoped name is looked
up from the root down.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='convnext_dense',
                  locations=['convnext_dense.models'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='convnext_dense', locations=['convnext_dense.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='convnext_dense',
                 locations=['convnext_dense.engine'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='convnext_dense',
                    locations=['convnext_dense.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='convnext_dense',
                   locations=['convnext_dense.pretraining'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='convnext_dense',
                      locations=['convnext_dense.datasets'])
