"""This package's registries: children of MMEngine's root (not of mmdet's or mmseg's), so that
``type='convnext_dense.X'`` resolves under the ``mmdet`` and the ``mmseg`` default scope. The
mmdet- and mmseg-only subpackages are no ``locations``: a config's ``custom_imports`` loads them."""
from mmengine import registry as mmengine

MODELS = mmengine.Registry('model', parent=mmengine.MODELS, scope='convnext_dense',
                           locations=['convnext_dense.backbone'])
OPTIM_WRAPPER_CONSTRUCTORS = mmengine.Registry(
    'optimizer wrapper constructor', parent=mmengine.OPTIM_WRAPPER_CONSTRUCTORS,
    scope='convnext_dense', locations=['convnext_dense.layer_decay'])
OPTIM_WRAPPERS = mmengine.Registry('optim_wrapper', parent=mmengine.OPTIM_WRAPPERS,
                                   scope='convnext_dense', locations=['convnext_dense.amp'])
HOOKS = mmengine.Registry('hook', parent=mmengine.HOOKS, scope='convnext_dense',
                          locations=['convnext_dense.hooks'])
RUNNERS = mmengine.Registry('runner', parent=mmengine.RUNNERS, scope='convnext_dense',
                            locations=['convnext_dense.runner'])
DATASETS = mmengine.Registry('dataset', parent=mmengine.DATASETS, scope='convnext_dense')
TRANSFORMS = mmengine.Registry('transform', parent=mmengine.TRANSFORMS, scope='convnext_dense')
METRICS = mmengine.Registry('metric', parent=mmengine.METRICS, scope='convnext_dense')
