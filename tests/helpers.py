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


def mmpretrain_atto_checkpoint(path, **backbone):
    """Write an mmpretrain ConvNeXt-atto classifier checkpoint with non-trivial weights to
    ``path`` (``backbone`` adds e.g. V2's ``use_grn``); return the classifier."""
    import mmpretrain.models as mmpretrain_models  # installed by tools/install.sh (bench)
    import torch
    from mmengine.registry import DefaultScope
    torch.manual_seed(2)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # other tests may set mmdet's
        classifier = mmpretrain_models.ImageClassifier(
            backbone=dict(type='ConvNeXt', arch='atto', **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=320))
    for p in classifier.parameters():
        p.data.normal_(0, 0.1)
    torch.save({'state_dict': classifier.state_dict(), 'meta': {}}, path)
    return classifier
