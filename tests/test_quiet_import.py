"""``import convnext_dense`` registers modules and changes nothing else in its host process.

Each check runs in a fresh interpreter: the process a user's own tool would be.
"""
import json
import subprocess
import sys

from helpers import REPO

# What the package changed at import before (mmcv's and mmdet's methods, MMEngine's registry
# and checkpoint loaders, torch's unpickling allowlist, the warnings filters): the identity of
# each, before the package is imported and after a detector, a segmentor and the recipes'
# optimizer wrapper are built from our configs.
SNAPSHOT = r'''
import json, sys, warnings
import pkg_resources, timm.layers, torch  # our dependencies, imported first
import mmcv.ops, mmdet.models, mmseg.models
import mmengine.runner.checkpoint as mmengine_checkpoint
from mmengine import registry
from mmcv.ops import RoIAlign
from mmcv.ops.nms import NMSop, SoftNMSop
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.roi_heads import BBoxHead, SingleRoIExtractor


def snapshot():
    objects = {
        'mmcv RoIAlign.forward': RoIAlign.__dict__['forward'],
        'mmcv NMSop.forward': NMSop.__dict__['forward'],
        'mmcv SoftNMSop.forward': SoftNMSop.__dict__['forward'],
        'mmdet BaseDenseHead.predict_by_feat': BaseDenseHead.__dict__['predict_by_feat'],
        'mmdet BBoxHead.predict_by_feat': BBoxHead.__dict__['predict_by_feat'],
        'mmdet SingleRoIExtractor.forward': SingleRoIExtractor.__dict__['forward'],
        'mmengine load_from_http': mmengine_checkpoint.load_from_http,
        'torch.load': torch.load,
    }
    for prefix, loader in mmengine_checkpoint.CheckpointLoader._schemes.items():
        objects[f'mmengine checkpoint scheme {prefix!r}'] = loader
    for name in ('MODELS', 'OPTIM_WRAPPERS', 'HOOKS', 'RUNNERS', 'DATASETS', 'TRANSFORMS'):
        for key, value in getattr(registry, name)._module_dict.items():
            objects[f'mmengine {name}[{key}]'] = value
    for i, item in enumerate(torch.serialization.get_safe_globals()):
        objects[f'torch safe global {i}'] = item
    # MMEngine reloads pkg_resources for every mmdet::/mmseg:: base it resolves, and each
    # reload appends pkg_resources' own PEP440Warning filter: not ours, left out
    for i, item in enumerate(f for f in warnings.filters
                             if f[2].__name__ != 'PEP440Warning'):
        objects[f'warnings filter {i}'] = item
    return objects


before = snapshot()
import convnext_dense, convnext_dense.detection, convnext_dense.segmentation  # noqa
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope

for config in ('configs/mask_rcnn_convnext_t_fpn_3x_coco.py', 'configs/upernet_convnext_t_ade20k.py'):
    cfg = Config.fromfile(config)
    cfg.model.backbone.update(arch='atto', init_cfg=None)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper) is convnext_dense.AmpOptimWrapper, type(wrapper)
after = snapshot()
print(json.dumps(dict(
    changed=sorted(k for k in before if k not in after or after[k] is not before[k]),
    added=sorted(k for k in after if k not in before))))
'''


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_import_and_building_models_change_no_other_library():
    found = json.loads(run_python(SNAPSHOT))
    assert found['changed'] == []
    # our registries are children of MMEngine's: nothing is added to the root's entries
    assert found['added'] == []


def test_import_loads_neither_mmdet_nor_mmseg():
    """The core imports neither; ``convnext_dense.detection`` / ``.segmentation`` do."""
    modules = json.loads(run_python(
        'import json, sys, convnext_dense\n'
        'print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in '
        '("mmdet", "mmseg", "mmpretrain", "cpu_demo"))))'))
    assert modules == []
