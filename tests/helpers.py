"""What the tests share: one way to run a tool, one way to check a one-line error."""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DET_DEMO = 'configs/demo/mask_rcnn_convnext_atto_synthetic.py'
SEG_DEMO = 'configs/demo/upernet_convnext_atto_synthetic.py'
# train a demo config without its pretraining checkpoint (the tests test the pipeline)
NO_PRETRAINED = 'model.backbone.init_cfg=None'


def run_tool(*args, timeout=600, env=None) -> subprocess.CompletedProcess:
    """``python ARGS...`` from the repository root; one math thread per tool process (two
    would thrash when the 2 cores are shared)."""
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
                    PYTHONWARNINGS='ignore', **(env or {}))
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def one_line_error(result: subprocess.CompletedProcess, pattern: str = '') -> str:
    """Assert that a tool exited 2 with exactly one ``error:`` line (matching ``pattern``)
    and no traceback; return that line."""
    log = result.stdout + result.stderr
    assert result.returncode == 2, (result.returncode, log[-3000:])
    assert 'Traceback' not in log, log[-3000:]
    errors = [line for line in log.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1, log[-3000:]
    assert re.search(pattern, errors[0]), errors[0]
    return errors[0]


def mmpretrain_models():
    """``mmpretrain.models`` with only its ConvNeXt, registered as mmdet's and mmseg's configs
    name it (``mmpretrain.ConvNeXt``): the source model of their released ConvNeXt checkpoints.

    mmpretrain 1.2's own package imports its multimodal models, which break beside
    transformers >= 4.56 (and take mmdet with them), so tools/install.sh keeps its files in
    ``$VENV/reference`` (not importable) and this imports the three modules the backbone needs
    under empty parent packages, after mmdet and mmseg (whose optional import of mmpretrain
    must find none)."""
    import importlib
    import importlib.util
    import types
    import mmdet.models, mmseg.models  # noqa: E401,F401
    if 'mmpretrain.models.backbones.convnext' not in sys.modules:
        spec = importlib.util.find_spec('mmpretrain')
        root = (spec.submodule_search_locations[0] if spec else
                os.path.join(sys.prefix, 'reference', 'mmpretrain'))
        if not os.path.isdir(root):
            import pytest
            pytest.fail(f'no mmpretrain reference at {root}: run bash tools/install.sh')
        for name in ('', '.models', '.models.utils', '.models.backbones'):
            package = types.ModuleType('mmpretrain' + name)
            package.__path__ = [os.path.join(root, *name.split('.')[1:])]
            sys.modules['mmpretrain' + name] = package
        norm = importlib.import_module('mmpretrain.models.utils.norm')
        sys.modules['mmpretrain.models.utils'].__dict__.update(vars(norm))
        convnext = importlib.import_module('mmpretrain.models.backbones.convnext')
        sys.modules['mmpretrain.models'].ConvNeXt = convnext.ConvNeXt
    return sys.modules['mmpretrain.models']


def perturb(model, scale=0.1, seed=0):
    """Add noise to every parameter and BatchNorm statistic, so that layer scales, GRN and
    norms are far from their init (a wrong mapping shows); returns the model in eval mode."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            noise = torch.randn(tensor.shape, generator=generator) * scale
            tensor.copy_(tensor.abs() + 0.5 + noise if name.endswith('running_var')
                         else tensor + noise)
    return model.eval()


def mmpretrain_atto_checkpoint(path, **backbone):
    """Write an mmpretrain ConvNeXt-atto classifier checkpoint with non-trivial weights to
    ``path`` (``backbone`` adds e.g. V2's ``use_grn``); return the classifier: mmpretrain's
    backbone and a ``head.fc`` as its ``LinearClsHead`` names it."""
    import torch
    import torch.nn as nn
    torch.manual_seed(2)
    classifier = nn.Module()
    classifier.backbone = mmpretrain_models().ConvNeXt(arch='atto', **backbone)
    classifier.head = nn.Module()
    classifier.head.fc = nn.Linear(320, 10)
    for p in classifier.parameters():
        p.data.normal_(0, 0.1)
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, path)
    return classifier
