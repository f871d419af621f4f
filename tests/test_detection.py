"""COCO detection suite: synthetic data, every detection config, the demo pipeline end to
end (train -> checkpoint -> tools/test.py), CPU-distributed training and user errors."""
import glob
import re
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from cpu_demo.synthetic_data import (CLASSES, PALETTE, SCENE_STYLES, render_scene,
                                               write_coco_dataset)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PYTHON = sys.executable
DEMO = 'configs/demo/mask_rcnn_convnext_atto_synthetic.py'
DETECTION_CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '*.py'))
    if osp.basename(p).startswith(('mask_rcnn', 'cascade_mask_rcnn'))
    and 'convnext_v2' not in p)  # V2: tests/test_v2.py
# recipes.md: (arch, drop_path, lr, decay_rate, num_layers, neck in_channels, checkpoint)
RECIPES = {
    'mask_rcnn_convnext_t_fpn_3x_coco': ('tiny', 0.4, 1e-4, 0.95, 6, 96, 'tiny_1k'),
    'mask_rcnn_convnext_t_fpn_1x_coco': ('tiny', 0.4, 1e-4, 0.95, 6, 96, 'tiny_1k'),
    'cascade_mask_rcnn_convnext_t_fpn_3x_coco': ('tiny', 0.4, 2e-4, 0.7, 6, 96, 'tiny_1k'),
    'cascade_mask_rcnn_convnext_s_fpn_3x_coco': ('small', 0.6, 2e-4, 0.7, 12, 96, 'small_1k'),
    'cascade_mask_rcnn_convnext_b_fpn_3x_coco': ('base', 0.7, 2e-4, 0.8, 12, 128, 'base_1k'),
    'cascade_mask_rcnn_convnext_b_in22k_fpn_3x_coco': ('base', 0.6, 1e-4, 0.8, 12, 128,
                                                       'base_22k'),
    'cascade_mask_rcnn_convnext_l_in22k_fpn_3x_coco': ('large', 0.7, 1e-4, 0.7, 12, 192,
                                                       'large_22k'),
    'cascade_mask_rcnn_convnext_xl_in22k_fpn_3x_coco': ('xlarge', 0.8, 1e-4, 0.7, 12, 256,
                                                        'xlarge_22k'),
}


def run_tool(args, timeout=300, env=None):
    # one math thread per tool process: 2 OpenMP threads thrash when the 2 cores are shared
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1', **(env or {}))
    return subprocess.run([PYTHON] + args, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


# ------------------------------------------------------------------------- synthetic data

def test_render_scene_is_deterministic_by_seed():
    img_a, objs_a = render_scene(np.random.default_rng(7), 96, 128)
    img_b, objs_b = render_scene(np.random.default_rng(7), 96, 128)
    img_c, _ = render_scene(np.random.default_rng(8), 96, 128)
    assert img_a.shape == (96, 128, 3) and img_a.dtype == np.uint8
    assert np.array_equal(img_a, img_b)
    assert [o.label for o in objs_a] == [o.label for o in objs_b]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(objs_a, objs_b))
    assert not np.array_equal(img_a, img_c)


@pytest.mark.parametrize('style', sorted(SCENE_STYLES))
def test_masks_are_visible_pixels_and_match_boxes(style):
    for seed in range(30):
        _, objs = render_scene(np.random.default_rng(seed), 128, 128, max_objects=5,
                               style=SCENE_STYLES[style])
        assert 1 <= len(objs) <= 5
        union = np.zeros((128, 128), bool)
        for obj in objs:
            assert obj.mask.shape == (128, 128) and obj.mask.dtype == bool
            assert not (union & obj.mask).any(), 'visible masks must not overlap'
            union |= obj.mask
            x, y, w, h = obj.bbox
            ys, xs = np.nonzero(obj.mask)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
            assert obj.area == obj.mask.sum() >= 20  # no object is almost fully hidden


@pytest.mark.parametrize('style', sorted(SCENE_STYLES))
def test_class_is_not_predictable_from_colour(style):
    """A nearest-class-mean classifier on an object's mean colour (fitted on one half,
    scored on the other) must be close to chance: the class is in the shape only."""
    colours, labels = [], []
    for seed in range(300):
        img, objs = render_scene(np.random.default_rng(seed), 96, 96, style=SCENE_STYLES[style])
        for obj in objs:
            colours.append(img[obj.mask].mean(axis=0))
            labels.append(obj.label)
    colours, labels = np.array(colours), np.array(labels)
    assert set(labels) == set(range(len(CLASSES)))
    half = len(labels) // 2
    means = np.stack([colours[:half][labels[:half] == c].mean(axis=0)
                      for c in range(len(CLASSES))])
    pred = np.argmin(((colours[half:, None] - means[None]) ** 2).sum(-1), axis=1)
    accuracy = (pred == labels[half:]).mean()
    assert accuracy < 1.0 / len(CLASSES) + 0.1, accuracy
    # and the per-class mean colours are all close to each other (shared palette)
    assert np.ptp(means, axis=0).max() < 30, means


def test_demo_style_has_larger_objects_on_calmer_backgrounds():
    """The detection demo's style is easier (what a from-scratch model can learn in minutes)
    without giving the class away: larger objects, flatter backgrounds; the colour test
    above covers that colour still says nothing about the class."""
    def stats(style):
        areas, texture = [], []
        for seed in range(60):
            img, objs = render_scene(np.random.default_rng(seed), 128, 128, style=style)
            areas += [o.area for o in objs]
            background = ~np.any([o.mask for o in objs], axis=0)
            texture.append(img[background].std(axis=0).mean())
        return np.median(areas), np.median(texture)
    hard_area, hard_texture = stats(SCENE_STYLES['hard'])
    demo_area, demo_texture = stats(SCENE_STYLES['demo'])
    assert demo_area > 1.3 * hard_area, (demo_area, hard_area)
    assert demo_texture < hard_texture, (demo_texture, hard_texture)


def test_coco_files_are_exact(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    files = write_coco_dataset(str(tmp_path), num_train=6, num_val=3, image_size=(96, 128),
                               seed=3)
    coco = COCO(files['train'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    assert len(coco.getImgIds()) == 6
    from cpu_demo.synthetic_data import scene_rng
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        assert osp.isfile(tmp_path / 'train2017' / info['file_name'])
        _, objs = render_scene(scene_rng(3, 'train', img_id - 1), 96, 128)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) == len(objs)
        for ann, obj in zip(anns, objs):
            decoded = mask_utils.decode(ann['segmentation']).astype(bool)
            assert np.array_equal(decoded, obj.mask)
            assert ann['area'] == int(decoded.sum()) and ann['iscrowd'] == 0
            assert ann['bbox'] == list(obj.bbox)
            assert ann['category_id'] == obj.label + 1
    assert len(PALETTE) >= 8


# ------------------------------------------------------------------------------- configs

def _load(path):
    from mmengine.config import Config
    return Config.fromfile(path)


@pytest.mark.parametrize('path', DETECTION_CONFIGS, ids=osp.basename)
def test_config_follows_recipe(path):
    name = osp.splitext(osp.basename(path))[0]
    arch, drop, lr, decay, layers, c0, ckpt = RECIPES[name]
    cfg = _load(path)
    assert cfg.default_scope == 'mmdet'
    assert 'convnext_dense' in cfg.custom_imports.imports
    bb = cfg.model.backbone
    assert (bb.type, bb.arch, bb.drop_path_rate) == ('convnext_dense.ConvNeXt', arch, drop)
    assert bb.init_cfg.checkpoint == f'https://dl.fbaipublicfiles.com/convnext/convnext_{ckpt}_224.pth'
    assert cfg.model.neck.in_channels == [c0, 2 * c0, 4 * c0, 8 * c0]
    ow = cfg.optim_wrapper
    assert ow.type == 'convnext_dense.AmpOptimWrapper'
    assert ow.constructor == 'convnext_dense.LayerDecayOptimizerConstructor'
    assert dict(ow.paramwise_cfg) == dict(decay_rate=decay, decay_type='layer_wise',
                                          num_layers=layers)
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay,
            tuple(ow.optimizer.betas)) == ('AdamW', lr, 0.05, (0.9, 0.999))
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    epochs, steps = (12, [8, 11]) if '1x' in name else (36, [27, 33])
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.param_scheduler[0].type == 'LinearLR'
    assert cfg.param_scheduler[1].milestones == steps
    assert cfg.data_root == 'data/coco/'
    assert cfg.tta_model.type == 'convnext_dense.DetTTAModelWithMasks'
    if name.startswith('cascade'):
        heads = cfg.model.roi_head.bbox_head
        stds = [h.bbox_coder.target_stds for h in heads]
        assert stds == [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                        [0.033, 0.033, 0.067, 0.067]]
        for h in heads:
            assert (h.num_shared_convs, h.num_shared_fcs, h.norm_cfg.type) == (4, 1, 'SyncBN')
            assert h.loss_bbox == dict(type='GIoULoss', loss_weight=10.0)
            assert h.reg_decoded_bbox
    else:
        pipeline = str(cfg.train_dataloader.dataset.pipeline)
        assert ('RandomCrop' in pipeline) == ('3x' in name)


def _build(cfg_model):
    from mmdet.registry import MODELS
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    return revert_sync_batchnorm(MODELS.build(cfg_model)).eval()


def _predict(model, height=128, width=160):
    from mmdet.structures import DetDataSample
    img = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
    sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         scale_factor=(1.0, 1.0)))
    data = model.data_preprocessor({'inputs': [img], 'data_samples': [sample]}, False)
    with torch.no_grad():
        return model(**data, mode='predict')[0]


@pytest.mark.parametrize('path', DETECTION_CONFIGS, ids=osp.basename)
def test_config_builds_and_predicts(path):
    cfg = _load(path)
    cfg.model.backbone.init_cfg = None
    # 50 proposals instead of 1000: the cascade's 4-conv box heads on 1000 RoIs x 3 stages
    # cost ~350 GFLOPs, which tests nothing more than 50 do
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    model = _build(cfg.model)
    expected = {'tiny': 96, 'small': 96, 'base': 128, 'large': 192, 'xlarge': 256}
    assert model.backbone.out_channels[0] == expected[cfg.model.backbone.arch]
    pred = _predict(model)
    inst = pred.pred_instances
    assert inst.bboxes.shape[1] == 4 and len(inst.scores) == len(inst.labels)
    assert inst.masks.shape[1:] == (128, 160)


def test_optimizer_gets_layer_decay_groups():
    from mmengine.optim import build_optim_wrapper
    cfg = _load(osp.join(REPO, 'configs/mask_rcnn_convnext_t_fpn_3x_coco.py'))
    cfg.model.backbone.init_cfg = None
    model = _build(cfg.model)
    cfg.optim_wrapper.type = 'OptimWrapper'  # fp32 here; mixed precision: tests/test_amp.py
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    scales = sorted({round(g['lr'] / 1e-4, 4) for g in wrapper.optimizer.param_groups})
    assert scales == [0.6983, 0.7351, 0.7738, 0.8145, 0.8574, 0.9025, 0.95, 1.0]


def test_user_config_with_custom_imports_runs():
    """examples/: a user's own RetinaNet config picks up the backbone through custom_imports;
    it builds, predicts and computes a training loss."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    cfg = _load(osp.join(REPO, 'examples/retinanet_convnext_custom.py'))
    assert cfg.model.backbone.type == 'convnext_dense.ConvNeXt'
    cfg.model.backbone.init_cfg = None
    model = _build(cfg.model)
    pred = _predict(model, 96, 128)
    assert pred.pred_instances.bboxes.shape[1] == 4
    model.train()
    sample = DetDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 20., 60., 70.]]),
                                       labels=torch.tensor([3]))
    img = torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8)
    data = model.data_preprocessor({'inputs': [img], 'data_samples': [sample]}, True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    assert torch.isfinite(total) and total > 0
    assert model.backbone.stages[0][0].dwconv.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------- demo pipeline end to end

TINY = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1']


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic_coco')
    write_coco_dataset(str(root), num_train=8, num_val=4, image_size=96, seed=1)
    return str(root)


@pytest.fixture(scope='module')
def trained_demo(tiny_coco, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('demo_work'))
    res = run_tool(['tools/train.py', DEMO, '--data-root', tiny_coco, '--work-dir', work,
                    '--cfg-options', 'model.backbone.init_cfg=None'] + TINY)
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    return work, ckpt


@pytest.mark.slow
def test_demo_train_then_test_reports_coco_metrics(trained_demo, tiny_coco):
    work, ckpt = trained_demo
    out = osp.join(work, 'preds.pkl')
    res = run_tool(['tools/test.py', DEMO, ckpt, '--data-root', tiny_coco, '--work-dir', work,
                    '--out', out, '--show-dir', 'vis', '--cfg-options'] + TINY[5:])
    assert res.returncode == 0, res.stderr[-3000:]
    text = res.stdout + res.stderr
    # pycocotools' tables for both box and mask AP, and mmdet's summary lines
    assert 'Evaluating bbox' in text and 'Evaluating segm' in text
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in text
    assert 'coco/bbox_mAP' in text and 'coco/segm_mAP' in text
    metrics = json.load(open(osp.join(work, 'test_metrics.json')))
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'):
        assert 0.0 <= metrics[key] <= 1.0
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4 and 'pred_instances' in preds[0]
    pictures = glob.glob(osp.join(work, '*', 'vis', '*.jpg'))
    assert re.search(r'pictures of the predictions saved to .*/vis', text)
    assert len(pictures) == 4


@pytest.mark.slow
def test_demo_test_time_augmentation_merges_masks(trained_demo, tiny_coco):
    work, ckpt = trained_demo
    res = run_tool(['tools/test.py', DEMO, ckpt, '--tta', '--data-root', tiny_coco,
                    '--work-dir', work, '--metrics-out', osp.join(work, 'tta.json'),
                    '--cfg-options'] + TINY[5:])
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.load(open(osp.join(work, 'tta.json')))
    assert 'coco/segm_mAP' in metrics and 'coco/bbox_mAP' in metrics


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tiny_coco, tmp_path):
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', DEMO, '2', '--data-root', tiny_coco,
         '--work-dir', str(tmp_path), '--cfg-options', 'model.backbone.init_cfg=None'] + TINY,
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHON=PYTHON, PORT=str(_free_port()), OMP_NUM_THREADS='1'))
    assert res.returncode == 0, res.stderr[-3000:]
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'Distributed training: True' in log  # gloo: convnext_dense.Runner, without a GPU
    assert 'Epoch(train) [1][2/2]' in log  # 8 images / (2 per process x 2 processes)
    assert osp.isfile(tmp_path / 'epoch_1.pth')


# --------------------------------------------------------------------------- user errors

def _one_line_error(res):
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert 'Traceback' not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, res.stderr[-2000:]
    return lines[0]


def test_missing_dataset_is_one_clear_line(tmp_path):
    missing = str(tmp_path / 'no_coco')
    res = run_tool(['tools/train.py', 'configs/mask_rcnn_convnext_t_fpn_3x_coco.py',
                    '--data-root', missing, '--work-dir', str(tmp_path / 'w')])
    line = _one_line_error(res)
    assert osp.join(missing, 'annotations/instances_train2017.json') in line
    assert 'cocodataset.org' in line and '--data-root' in line


def _config_with_checkpoint(tmp_path, checkpoint):
    path = tmp_path / 'with_pretrained.py'
    path.write_text(f"_base_ = '{osp.join(REPO, DEMO)}'\n"
                    f"model = dict(backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', "
                    f"checkpoint='{checkpoint}')))\n")
    return str(path)


def test_missing_pretrained_file_is_one_clear_line(tmp_path, tiny_coco):
    missing = str(tmp_path / 'convnext_atto.pth')
    res = run_tool(['tools/train.py', _config_with_checkpoint(tmp_path, missing),
                    '--data-root', tiny_coco, '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options'] + TINY)
    line = _one_line_error(res)
    assert missing in line and 'does not exist' in line


def test_unreachable_pretrained_url_says_where_to_put_the_file(tmp_path, tiny_coco):
    url = f'http://127.0.0.1:{_free_port()}/convnext_tiny_1k_224.pth'
    res = run_tool(['tools/train.py', _config_with_checkpoint(tmp_path, url),
                    '--data-root', tiny_coco, '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options'] + TINY, env={'TORCH_HOME': str(tmp_path / 'torch')})
    line = _one_line_error(res)
    target = osp.join(str(tmp_path / 'torch'), 'hub', 'checkpoints', 'convnext_tiny_1k_224.pth')
    assert url in line and target in line and 'init_cfg=None' in line
