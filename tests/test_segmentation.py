"""The ADE20K segmentation suite: configs, synthetic ADE20K-layout data, label checks, and
train -> checkpoint -> tools/test.py as real subprocesses."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from cpu_demo.synthetic_data import CLASSES, SCENE_STYLES
from cpu_demo.synthetic_data import ade_metainfo, write_ade20k_dataset
from convnext_dense.errors import DataError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs/demo/upernet_convnext_atto_synthetic.py')
FAIR = 'https://dl.fbaipublicfiles.com/convnext/'

# config -> (arch, head in_channels, drop_path, lr, num_layers, crop, stride, checkpoint)
RECIPES = {
    'upernet_convnext_t_ade20k.py': ('tiny', [96, 192, 384, 768], 0.4, 1e-4, 6, 512, 341,
                                     'convnext_tiny_1k_224.pth'),
    'upernet_convnext_s_ade20k.py': ('small', [96, 192, 384, 768], 0.3, 1e-4, 12, 512, 341,
                                     'convnext_small_1k_224.pth'),
    'upernet_convnext_b_ade20k.py': ('base', [128, 256, 512, 1024], 0.4, 1e-4, 12, 512, 341,
                                     'convnext_base_1k_224.pth'),
    'upernet_convnext_b_in22k_ade20k_640.py': ('base', [128, 256, 512, 1024], 0.4, 1e-4, 12,
                                               640, 426, 'convnext_base_22k_224.pth'),
    'upernet_convnext_l_in22k_ade20k_640.py': ('large', [192, 384, 768, 1536], 0.4, 1e-4, 12,
                                               640, 426, 'convnext_large_22k_224.pth'),
    'upernet_convnext_xl_in22k_ade20k_640.py': ('xlarge', [256, 512, 1024, 2048], 0.4, 8e-5,
                                                12, 640, 426, 'convnext_xlarge_22k_224.pth'),
}


def run_tool(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONUNBUFFERED='1')
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope='module')
def synthetic_ade(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('synthetic_ade'))
    write_ade20k_dataset(out, num_train=8, num_val=3, image_size=64, seed=1)
    return out


def _build_segmentor(cfg):
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    import convnext_dense  # noqa: F401
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg.model)


# ------------------------------------------------------------------------------ configs
@pytest.mark.parametrize('name', sorted(RECIPES))
def test_config_recipe_and_forward(name):
    arch, in_channels, drop_path, lr, num_layers, crop, stride, ckpt = RECIPES[name]
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    backbone = cfg.model.backbone
    assert backbone.type == 'convnext_dense.ConvNeXt' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path and backbone.layer_scale_init_value == 1.0
    assert list(backbone.out_indices) == [0, 1, 2, 3]
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=FAIR + ckpt)
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and list(head.in_channels) == in_channels
    assert tuple(head.pool_scales) == (1, 2, 3, 6) and head.channels == 512
    assert head.dropout_ratio == 0.1 and head.norm_cfg.type == 'SyncBN'
    assert head.num_classes == aux.num_classes == 150
    assert aux.type == 'FCNHead' and aux.in_index == 2 and aux.in_channels == in_channels[2]
    assert aux.channels == 256 and aux.loss_decode.loss_weight == 0.4
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(crop, crop),
                                      stride=(stride, stride))
    assert cfg.model.data_preprocessor.size == (crop, crop)
    optim = cfg.optim_wrapper
    assert optim.type == 'convnext_dense.AmpOptimWrapper'
    assert optim.constructor == 'convnext_dense.LayerDecayOptimizerConstructor'
    assert optim.optimizer == dict(type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.05)
    assert optim.paramwise_cfg == dict(decay_rate=0.9, decay_type='stage_wise',
                                       num_layers=num_layers)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 1e-6, 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == \
        ('PolyLR', 1.0, 0.0, 1500, 160000)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 16
    crop_step = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
    assert crop_step[0].crop_size == (crop, crop) and crop_step[0].cat_max_ratio == 0.75
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'convnext_dense.ADE20KDataset'
        assert loader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    assert cfg.tta_model.type == 'SegTTAModel'
    scales = [t.scale_factor for t in cfg.tta_pipeline[1].transforms[0]]
    assert scales == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [t.prob for t in cfg.tta_pipeline[1].transforms[1]] == [0., 1.]

    cfg.model.backbone.init_cfg = None  # no download: the layers keep their initial values
    model = _build_segmentor(cfg).eval()
    h, w = 96, 128
    inputs = torch.rand(1, 3, h, w) * 255
    metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), padding_size=[0] * 4)]
    with torch.no_grad():
        model.test_cfg = Config(dict(mode='whole'))
        whole = model.inference(inputs, metas)
        # the config's sliding window, scaled down so that a small image has 2 x 3 windows
        model.test_cfg = Config(dict(mode='slide', crop_size=(64, 64), stride=(43, 43)))
        slide = model.inference(inputs, metas)
    assert whole.shape == slide.shape == (1, 150, h, w)
    assert torch.isfinite(whole).all() and torch.isfinite(slide).all()


def test_layer_decay_groups_of_tiny_recipe():
    """The recipe's stage-wise decay (0.9, num_layers 6) gives the official lr scales."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs/demo/upernet_convnext_atto_synthetic.py'))
    model = _build_segmentor(cfg)
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    wrapper_cfg['type'] = 'OptimWrapper'
    wrapper_cfg.pop('loss_scale')
    # the demo trains from scratch without decay; the recipe's (tiny) stage-wise decay:
    wrapper_cfg['paramwise_cfg'] = dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6)
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    base = cfg.optim_wrapper.optimizer.lr
    scales = {round(g['lr'] / base, 4) for g in wrapper.optimizer.param_groups}
    # N = 6 + 2: downsample layers 0.9^7, stage s 0.9^(6 - s), heads and output norms 1.0
    assert scales == {round(0.9 ** k, 4) for k in (7, 6, 5, 4, 3, 0)}


# ------------------------------------------------------------------------------ data
def test_synthetic_ade_layout_values_and_determinism(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    write_ade20k_dataset(a, num_train=4, num_val=2, image_size=(48, 64), seed=3)
    write_ade20k_dataset(b, num_train=4, num_val=2, image_size=(48, 64), seed=3)
    write_ade20k_dataset(c, num_train=4, num_val=2, image_size=(48, 64), seed=4)
    files = sorted(osp.relpath(p, a) for p in glob.glob(osp.join(a, '*/*/*')))
    assert len(files) == 12
    assert sum(f.startswith('images/training/') and f.endswith('.jpg') for f in files) == 4
    assert sum(f.startswith('annotations/validation/') and f.endswith('.png')
               for f in files) == 2
    seen = set()
    for rel in files:
        data_a = open(osp.join(a, rel), 'rb').read()
        assert data_a == open(osp.join(b, rel), 'rb').read(), rel
        if rel.endswith('.png'):
            label = cv2.imread(osp.join(a, rel), cv2.IMREAD_UNCHANGED)
            assert label.dtype == np.uint8 and label.shape == (48, 64)
            assert set(np.unique(label)) <= set(range(len(CLASSES) + 1))
            assert (label == 0).any()  # "other" (background) is always present
            seen |= set(np.unique(label).tolist())
    assert len(seen - {0}) >= 2
    assert any(open(osp.join(a, rel), 'rb').read() != open(osp.join(c, rel), 'rb').read()
               for rel in files)


def _demo_dataset(data_root, split='training', pipeline=None):
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(DEMO)
    ds = cfg.train_dataloader.dataset.to_dict()
    ds.update(data_root=data_root, data_prefix=dict(img_path=f'images/{split}',
                                                    seg_map_path=f'annotations/{split}'))
    if pipeline is not None:
        ds['pipeline'] = pipeline
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(ds)


def test_demo_dataset_learns_background_as_class_0(synthetic_ade):
    """The demo scores "background" as a real class (reduce_zero_label=False): label maps
    are used as they are, class 0 is background and class k the k-th shape."""
    dataset = _demo_dataset(synthetic_ade, pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    assert dataset.metainfo['classes'] == ('background',) + CLASSES
    assert not dataset.reduce_zero_label
    cfg = Config.fromfile(DEMO)
    assert cfg.metainfo == ade_metainfo(background_class=True)
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 6
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        load = [t for t in pipeline if t.type == 'LoadAnnotations']
        assert load[0].reduce_zero_label is False
    raw = cv2.imread(dataset[0]['seg_map_path'], cv2.IMREAD_UNCHANGED)
    assert (dataset[0]['gt_seg_map'] == raw).all()
    assert 'CheckSegLabels' in repr(dataset.pipeline)


def test_demo_style_is_easier_but_deterministic(tmp_path):
    """``style`` reaches the renderer: the demo preset draws larger shapes than the default
    scenes of the same seed, and is as deterministic."""
    hard, demo, again = (str(tmp_path / n) for n in ('hard', 'demo', 'again'))
    write_ade20k_dataset(hard, num_train=12, num_val=0, image_size=64, seed=2)
    write_ade20k_dataset(demo, num_train=12, num_val=0, image_size=64, seed=2,
                         style=SCENE_STYLES['demo'])
    write_ade20k_dataset(again, num_train=12, num_val=0, image_size=64, seed=2,
                         style=SCENE_STYLES['demo'])

    def foreground(root):
        return np.mean([(cv2.imread(p, cv2.IMREAD_UNCHANGED) > 0).mean() for p in
                        sorted(glob.glob(osp.join(root, 'annotations/training/*.png')))])

    assert foreground(demo) > foreground(hard)
    for path in glob.glob(osp.join(demo, '*/training/*')):
        rel = osp.relpath(path, demo)
        assert open(path, 'rb').read() == open(osp.join(again, rel), 'rb').read(), rel


def _copy_dataset(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return str(dst)


def test_label_out_of_range_is_one_clear_error(synthetic_ade, tmp_path):
    root = _copy_dataset(synthetic_ade, tmp_path / 'bad')
    path = sorted(glob.glob(osp.join(root, 'annotations/training/*.png')))[0]
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[:4, :4] = 9  # 6 classes (background + 5 shapes): 9 is neither a class nor 255
    cv2.imwrite(path, label)
    dataset = _demo_dataset(root)
    with pytest.raises(DataError) as info:
        dataset.prepare_data(0)
    msg = str(info.value)
    assert path in msg and 'values 9 ' in msg and '0..5' in msg and '255' in msg
    assert '\n' not in msg
    label[:4, :4] = 255  # ignore is allowed
    cv2.imwrite(path, label)
    sample = dataset.prepare_data(0)  # random resize: the crop is at most 128x128
    assert sample['data_samples'].gt_sem_seg.data.shape[-2:] == sample['inputs'].shape[-2:]


def test_label_of_wrong_size_fails_through_train_py_as_one_line(synthetic_ade, tmp_path):
    root = _copy_dataset(synthetic_ade, tmp_path / 'bad')
    for path in glob.glob(osp.join(root, 'annotations/training/*.png')):
        cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:40])
    dataset = _demo_dataset(root)
    with pytest.raises(DataError, match=r'is 64x40 but its image .* is 64x64'):
        dataset.prepare_data(0)
    # the same through tools/train.py, raised inside a DataLoader worker process
    result = run_tool('tools/train.py', DEMO, '--data-root', root, '--work-dir',
                      str(tmp_path / 'work'), '--cfg-options', 'train_cfg.max_iters=2',
                      'model.backbone.init_cfg=None',
                      'train_dataloader.num_workers=1', timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert 'annotations/training/' in lines[0] and 'is 64x40 but its image' in lines[0]


def test_missing_dataset_is_a_clear_message(tmp_path):
    missing = str(tmp_path / 'nowhere')
    result = run_tool('tools/train.py', osp.join(REPO, 'configs/upernet_convnext_t_ade20k.py'),
                      '--data-root', missing, '--work-dir', str(tmp_path / 'work'), timeout=300)
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    msg = result.stderr.strip()
    assert len(msg.splitlines()) == 1, msg
    assert osp.join(missing, 'images/training') in msg
    assert 'ADEChallengeData2016.zip' in msg and 'http://sceneparsing.csail.mit.edu' in msg
    assert '--data-root' in msg


def test_unreachable_pretrained_checkpoint_says_where_to_put_it(synthetic_ade, tmp_path):
    """The recipe's FAIR URL cannot be fetched (here: a closed local port, so no real
    download happens): tools/train.py says in one line where to put the file or how to
    train from scratch."""
    torch_home = str(tmp_path / 'torch_home')
    url = 'http://127.0.0.1:9/convnext/convnext_tiny_1k_224.pth'
    env_backup = os.environ.get('TORCH_HOME')
    os.environ['TORCH_HOME'] = torch_home
    try:
        result = run_tool(
            'tools/train.py', osp.join(REPO, 'configs/upernet_convnext_t_ade20k.py'),
            '--data-root', synthetic_ade, '--work-dir', str(tmp_path / 'work'),
            '--cfg-options', f'model.backbone.init_cfg.checkpoint={url}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            timeout=400)
    finally:
        if env_backup is None:
            os.environ.pop('TORCH_HOME')
        else:
            os.environ['TORCH_HOME'] = env_backup
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    expected = osp.join(torch_home, 'hub', 'checkpoints', 'convnext_tiny_1k_224.pth')
    assert f'could not download {url}' in lines[0] and expected in lines[0]
    assert 'init_cfg=None' in lines[0]


# ------------------------------------------------------------------------------ end to end
def test_train_checkpoint_then_test_py_prints_real_miou(synthetic_ade, tmp_path):
    work = str(tmp_path / 'work')
    result = run_tool('tools/train.py', DEMO, '--data-root', synthetic_ade, '--work-dir', work,
                      '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                      'model.backbone.init_cfg=None',
                      'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=2',
                      timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = open(osp.join(work, 'last_checkpoint')).read().strip()
    assert checkpoint.endswith('iter_4.pth') and osp.isfile(checkpoint)

    metrics_file = str(tmp_path / 'metrics.json')
    result = run_tool('tools/test.py', DEMO, checkpoint, '--data-root', synthetic_ade,
                      '--work-dir', work, '--metrics-out', metrics_file, '--show-dir', 'vis',
                      '--out', str(tmp_path / 'pred'), timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    # mmseg's per-class table and the summary
    assert 'per class results' in out
    for name in ('background',) + CLASSES:
        row = rf'\|\s+{name}\s+\|\s+([\d.]+|nan)\s+\|\s+([\d.]+|nan)\s+\|'
        assert re.search(row, out), out[out.find('per class'):][:1500]
    metrics = json.load(open(metrics_file))
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert all(0.0 <= metrics[k] <= 100.0 for k in ('aAcc', 'mIoU', 'mAcc'))
    assert f"mIoU: {metrics['mIoU']:.4f}" in out
    assert len(glob.glob(osp.join(work, 'vis', '**', '*.png'), recursive=True)) == 3
    assert f"pictures of the predictions saved to {osp.join(work, 'vis', 'vis_data')}" in out
    assert len(glob.glob(str(tmp_path / 'pred' / '*.png'))) == 3

    # --tta: multi-scale (6 ratios) x flip through mmseg's SegTTAModel
    result = run_tool('tools/test.py', DEMO, checkpoint, '--data-root', synthetic_ade,
                      '--work-dir', work, '--tta', '--metrics-out', metrics_file, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert 0.0 <= json.load(open(metrics_file))['mIoU'] <= 100.0
