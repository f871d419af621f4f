"""The demos' stand-in for ImageNet pretraining: synthetic shape classification on MMEngine's
Runner, and the detection and segmentation demos fine-tuning from its checkpoint."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from cpu_demo.synthetic_data import CLASSES, render_scene
from cpu_demo.pretraining import PRETRAIN_STYLE, ShapeClassifier, SyntheticShapes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN = 'configs/demo/convnext_atto_shapes_pretrain.py'
DET_DEMO = osp.join(REPO, 'configs/demo/mask_rcnn_convnext_atto_synthetic.py')
SEG_DEMO = osp.join(REPO, 'configs/demo/upernet_convnext_atto_synthetic.py')


def _pretrained_checkpoint() -> str:
    from mmengine.config import Config
    max_iters = Config.fromfile(osp.join(REPO, PRETRAIN)).train_cfg.max_iters
    return f'work_dirs/demo_pretrain/iter_{max_iters}.pth'


PRETRAINED_CHECKPOINT = _pretrained_checkpoint()


def test_synthetic_shapes_are_deterministic_and_labelled_by_shape():
    data = SyntheticShapes(num_samples=10, image_size=48, seed=3)
    a, b = data[7], data[7]
    assert torch.equal(a['inputs'], b['inputs']) and a['data_samples'] == b['data_samples']
    assert a['inputs'].shape == (3, 48, 48) and a['inputs'].dtype == torch.uint8
    img, objects = render_scene(np.random.default_rng([3, 7]), 48, 48, max_objects=1,
                                style=PRETRAIN_STYLE)
    assert len(objects) == 1 and objects[0].label == a['data_samples'] < len(CLASSES)
    assert torch.equal(a['inputs'], torch.from_numpy(img).permute(2, 0, 1))
    assert not torch.equal(SyntheticShapes(10, 48, seed=4)[7]['inputs'], a['inputs'])


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_samples=0), 'num_samples >= 1'),
    (dict(num_samples=4, image_size=16), 'image_size >= 32'),
    (dict(num_samples=4, style='fancy'), "unknown style 'fancy'"),
])
def test_synthetic_shapes_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticShapes(**kwargs)


def test_classifier_loss_and_predictions():
    model = ShapeClassifier(backbone=dict(type='convnext_dense.ConvNeXt', arch='atto',
                                          out_indices=(3, )))
    x, y = torch.randn(3, 3, 64, 64), torch.tensor([0, 4, 2])
    assert model(x).shape == (3, len(CLASSES))
    loss = model(x, y, mode='loss')['loss_cls']
    assert loss.ndim == 0 and torch.isfinite(loss)
    preds = model(x, y, mode='predict')
    assert [t for _, t in preds] == [0, 4, 2] and all(0 <= p < 5 for p, _ in preds)


@pytest.fixture(scope='module')
def pretrained_checkpoint(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('pretrain'))
    res = subprocess.run(
        [sys.executable, 'tools/train.py', PRETRAIN, '--work-dir', work, '--cfg-options',
         'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=2',
         'train_dataloader.batch_size=4', 'val_dataloader.dataset.num_samples=20',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))  # cpu_demo/
    assert res.returncode == 0, res.stderr[-3000:]
    accuracy = re.search(r'shapes/accuracy: ([0-9.]+)', res.stdout + res.stderr)
    assert accuracy and 0.0 <= float(accuracy.group(1)) <= 1.0
    checkpoint = osp.join(work, 'iter_4.pth')
    assert osp.isfile(checkpoint)
    return checkpoint


@pytest.mark.parametrize('config,scope', [(DET_DEMO, 'mmdet'), (SEG_DEMO, 'mmseg')],
                         ids=['detection', 'segmentation'])
def test_demos_fine_tune_from_the_pretraining_checkpoint(pretrained_checkpoint, config, scope):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from convnext_dense.checkpoint import load_checkpoint_file
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.backbone.init_cfg.checkpoint == PRETRAINED_CHECKPOINT
    cfg.model.backbone.init_cfg.checkpoint = pretrained_checkpoint
    init_default_scope(scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    saved = load_checkpoint_file(pretrained_checkpoint)['state_dict']
    own = model.backbone.state_dict()
    stage_keys = [k for k in own if k.startswith(('stages.', 'downsample_layers.'))]
    assert stage_keys and all(torch.equal(own[k], saved['backbone.' + k]) for k in stage_keys)

