"""DINO and Mask2Former on ConvNeXt (issue 27): the recipes follow their published sources,
layer decay with custom_keys, every recipe builds and trains at atto size, and the tools work
with these heads on the demo-sized configs: tools/train.py (and resume) -> tools/test.py (COCO
box / mask AP, mIoU) -> tools/infer.py pictures; tools/analysis/get_flops.py; a short learning
run (the loss falls, mIoU rises)."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from cpu_demo.synthetic_data import write_ade20k_dataset, write_coco_dataset
from helpers import NO_PRETRAINED, REPO, run_tool

DINO_DEMO = 'configs/demo/dino_convnext_atto_synthetic.py'
M2F_DEMO = 'configs/demo/mask2former_convnext_atto_synthetic.py'
M2F_ADE_DEMO = 'configs/demo/mask2former_convnext_atto_synthetic_ade.py'
FAIR = 'https://dl.fbaipublicfiles.com/convnext/'
# config: arch, V2, drop path, weights, lr, weight decay, gradient clip, decay type, layers
RECIPES = {
    'dino_4scale_convnext_t_12e_coco': ('tiny', False, 0.0, 'convnext_tiny_1k_224.pth',
                                        1e-4, 1e-4, 0.1, 'layer_wise', 6),
    'dino_4scale_convnext_b_in22k_12e_coco': ('base', False, 0.0,
                                              'convnext_base_22k_1k_384.pth',
                                              1e-4, 1e-4, 0.1, 'layer_wise', 12),
    'dino_4scale_convnext_l_in22k_12e_coco': ('large', False, 0.0,
                                              'convnext_large_22k_1k_384.pth',
                                              1e-4, 1e-4, 0.1, 'layer_wise', 12),
    'dino_4scale_convnext_v2_b_in22k_12e_coco': ('base', True, 0.0,
                                                 'convnextv2/im22k/convnextv2_base_22k_384_ema.pt',
                                                 1e-4, 1e-4, 0.1, 'layer_wise', 12),
    'mask2former_convnext_t_lsj_50e_coco': ('tiny', False, 0.4, 'convnext_tiny_1k_224.pth',
                                            1e-4, 0.05, 0.01, 'layer_wise', 6),
    'mask2former_convnext_b_in22k_lsj_50e_coco': ('base', False, 0.6,
                                                  'convnext_base_22k_1k_384.pth',
                                                  1e-4, 0.05, 0.01, 'layer_wise', 12),
    'mask2former_convnext_v2_b_in22k_lsj_50e_coco': (
        'base', True, 0.6, 'convnextv2/im22k/convnextv2_base_22k_384_ema.pt',
        1e-4, 0.05, 0.01, 'layer_wise', 12),
    'mask2former_convnext_t_ade20k': ('tiny', False, 0.4, 'convnext_tiny_1k_224.pth',
                                      1e-4, 0.05, 0.01, 'stage_wise', 6),
    'mask2former_convnext_b_in22k_ade20k_640': ('base', False, 0.4,
                                                'convnext_base_22k_1k_384.pth',
                                                1e-4, 0.05, 0.01, 'stage_wise', 12),
    'mask2former_convnext_l_in22k_ade20k_640': ('large', False, 0.4,
                                                'convnext_large_22k_1k_384.pth',
                                                1e-4, 0.05, 0.01, 'stage_wise', 12),
    'mask2former_convnext_v2_b_in22k_ade20k_640': (
        'base', True, 0.4, 'convnextv2/im22k/convnextv2_base_22k_384_ema.pt',
        1e-4, 0.05, 0.01, 'stage_wise', 12),
}
WIDTHS = {'atto': 40, 'tiny': 96, 'base': 128, 'large': 192}


def test_every_query_head_config_is_listed():
    found = {osp.splitext(osp.basename(p))[0]
             for pattern in ('dino_*.py', 'mask2former_*.py')
             for p in glob.glob(osp.join(REPO, 'configs', pattern))}
    assert found == set(RECIPES)


def _config(name):
    return Config.fromfile(osp.join(REPO, 'configs', name + '.py'))


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_config_follows_its_recipe(name):
    arch, v2, drop, weights, lr, wd, clip, decay_type, layers = RECIPES[name]
    cfg = _config(name)
    bb = cfg.model.backbone
    assert (bb.type, bb.arch, bb.drop_path_rate) == ('convnext_dense.ConvNeXt', arch, drop)
    assert bb.get('use_grn', False) == v2 and bb.layer_scale_init_value == (0. if v2 else 1.)
    assert bb.init_cfg.checkpoint == FAIR + weights
    assert cfg.runner_type == 'convnext_dense.Runner'
    width = WIDTHS[arch]
    ow = cfg.optim_wrapper
    assert ow.type == 'convnext_dense.AmpOptimWrapper'
    assert ow.constructor == 'convnext_dense.LayerDecayOptimizerConstructor'
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == ('AdamW', lr, wd)
    assert ow.clip_grad.max_norm == clip
    pw = ow.paramwise_cfg
    assert (pw.decay_rate, pw.decay_type, pw.num_layers) == (1.0, decay_type, layers)
    keys = pw.custom_keys
    assert keys['backbone'] == dict(lr_mult=0.1)  # the published backbone multiplier
    assert keys['level_embed'] == dict(lr_mult=1.0, decay_mult=0.0)
    if name.startswith('dino'):
        assert bb.out_indices == (1, 2, 3)
        assert cfg.model.neck.type == 'ChannelMapper' and cfg.model.neck.num_outs == 4
        assert cfg.model.neck.in_channels == [2 * width, 4 * width, 8 * width]
        assert (cfg.model.num_queries, cfg.model.dn_cfg.group_cfg.num_dn_queries) == (900, 100)
        assert cfg.model.positional_encoding.temperature == 10000  # detrex, not mmdet's 20
        assert cfg.model.dn_cfg.label_noise_scale == 0.2
        assert cfg.train_cfg.max_epochs == 12 and cfg.param_scheduler[0].milestones == [11]
        assert keys['query_embedding'] == keys['label_embedding'] == keys['level_embed']
    else:
        head = cfg.model.get('panoptic_head') or cfg.model.decode_head
        assert bb.out_indices == (0, 1, 2, 3)
        assert head.in_channels == [width, 2 * width, 4 * width, 8 * width]
        assert (head.num_queries, head.transformer_decoder.num_layers) == (100, 9)
        assert keys['query_embed'] == keys['query_feat'] == keys['level_embed']
    if 'ade20k' in name:
        crop = (640, 640) if name.endswith('_640') else (512, 512)
        assert cfg.crop_size == cfg.model.data_preprocessor.size == crop
        assert cfg.train_cfg.max_iters == 160000
        assert cfg.train_dataloader.dataset.type == 'convnext_dense.ADE20KDataset'
    else:
        assert cfg.train_dataloader.dataset.type == 'convnext_dense.CocoDataset'
    if 'lsj' in name:  # instance: no panoptic folder that CocoDataset would never read
        assert dict(cfg.train_dataloader.dataset.data_prefix) == dict(img='train2017/')
        assert cfg.train_cfg.max_iters == 368750


def test_custom_keys_multiply_layer_decay_and_drop_weight_decay():
    from mmengine.optim import build_optim_wrapper
    from convnext_dense.backbone import ConvNeXt
    model = torch.nn.Module()
    model.backbone = ConvNeXt(arch='atto', out_indices=(1, 2, 3))
    model.head = torch.nn.Module()
    model.head.query_embed = torch.nn.Embedding(5, 8)
    model.head.level_embed = torch.nn.Parameter(torch.zeros(3, 8))
    model.head.proj = torch.nn.Linear(8, 8)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='convnext_dense.LayerDecayOptimizerConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.5, decay_type='stage_wise', num_layers=6,
                           custom_keys={'backbone': dict(lr_mult=0.1),
                                        'query_embed': dict(lr_mult=1.0, decay_mult=0.0),
                                        'level_embed': dict(decay_mult=0.0)})))
    by_name = {name: group for group in wrapper.optimizer.param_groups
               for name in group['param_names']}
    stem = by_name['backbone.downsample_layers.0.0.weight']  # stage_wise id 0 of N = 8
    assert stem['lr'] == pytest.approx(0.1 * 0.5 ** 7) and stem['weight_decay'] == 0.05
    assert by_name['backbone.stages.3.0.pwconv1.weight']['lr'] == pytest.approx(0.1 * 0.5 ** 3)
    assert by_name['backbone.stages.3.0.gamma']['weight_decay'] == 0.
    for name in ('head.query_embed.weight', 'head.level_embed'):
        assert (by_name[name]['lr'], by_name[name]['weight_decay']) == (1.0, 0.)
    assert (by_name['head.proj.weight']['lr'], by_name['head.proj.weight']['weight_decay']) \
        == (1.0, 0.05)
    assert by_name['head.proj.bias']['weight_decay'] == 0.


def _atto(cfg):
    """The recipe at ConvNeXt-atto size: backbone and the channels it feeds, no pretrained
    weights, no padding to the recipe's 1024 / 512 / 640 squares."""
    bb = cfg.model.backbone
    bb.update(arch='atto', init_cfg=None)
    channels = [40, 80, 160, 320]
    if 'neck' in cfg.model:
        cfg.model.neck.in_channels = [channels[i] for i in bb.out_indices]
    head = cfg.model.get('panoptic_head') or cfg.model.get('decode_head')
    if head is not None:
        head.in_channels = channels
    preprocessor = cfg.model.data_preprocessor
    if preprocessor.get('batch_augments'):
        preprocessor.batch_augments = None
    if 'size' in preprocessor:
        preprocessor.size = (64, 64)
    return cfg


def _batch(scope, size=64):
    """Two images with three objects each (boxes, masks, a label map)."""
    rng = np.random.default_rng(0)
    inputs = [torch.from_numpy(rng.integers(0, 255, (3, size, size), dtype=np.uint8))
              for _ in range(2)]
    boxes = [[c * size // 64 for c in box]
             for box in ([4, 6, 30, 34], [30, 20, 60, 50], [10, 40, 28, 62])]
    masks = np.zeros((3, size, size), np.uint8)
    label_map = np.zeros((1, size, size), np.int64)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, y0:y1, x0:x1] = 1
        label_map[0, y0:y1, x0:x1] = i + 1
    meta = dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                scale_factor=(1., 1.))
    samples = []
    for _ in inputs:
        if scope == 'mmdet':
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            from mmengine.structures import InstanceData
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                labels=torch.tensor([0, 2, 1]), masks=BitmapMasks(masks, size, size))
        else:
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(label_map))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def one_thread():
    """One math thread in this process while the test runs (tests/conftest.py sets two,
    which thrash on two shared cores); the tools' processes get one from run_tool."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_recipe_builds_and_trains_at_atto_size(name, one_thread):
    """The recipe's head as published (layers, losses, matching; DINO with 300 queries, not
    900, on 128-pixel images), atto backbone, 64-pixel images: an optimizer step through the
    recipe's own optim wrapper and layer decay updates the backbone and the queries."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    cfg = _atto(_config(name))
    dino = name.startswith('dino')
    if dino:  # its two-stage query selection needs as many encoder tokens as queries
        cfg.model.num_queries = 300
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        import convnext_dense.detection  # noqa: F401
        from mmdet.registry import MODELS
    else:
        import convnext_dense.segmentation  # noqa: F401
        import mmdet.models  # noqa: F401
        from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    params = dict(model.named_parameters())
    query = next(n for n in params if 'query_embed' in n)
    watched = {n: params[n].detach().clone()
               for n in ('backbone.downsample_layers.0.0.weight', query)}
    log_vars = model.train_step(_batch(cfg.default_scope, 128 if dino else 64), wrapper)
    assert torch.isfinite(log_vars['loss']), log_vars
    for n, before in watched.items():
        assert not torch.equal(params[n].detach(), before), n
    groups = {n: g for g in wrapper.optimizer.param_groups for n in g['param_names']}
    assert groups[query]['weight_decay'] == 0. and groups[query]['lr'] == 1e-4
    assert groups['backbone.downsample_layers.0.0.weight']['lr'] == pytest.approx(1e-5)


# ------------------------------------------------------------------------------ the tools

@pytest.fixture(scope='module')
def coco_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_coco_dataset(str(root), num_train=8, num_val=3, image_size=96, seed=0)
    return str(root)


@pytest.fixture(scope='module')
def ade_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade')
    write_ade20k_dataset(str(root), num_train=8, num_val=3, image_size=64, seed=0)
    return str(root)


def _train(config, data, work, iters, *options, resume=False):
    result = run_tool(
        'tools/train.py', config, '--data-root', data, '--work-dir', work,
        *(['--resume'] if resume else []), '--cfg-options', NO_PRETRAINED,
        f'train_cfg.max_iters={iters}', 'train_dataloader.batch_size=2',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=5', *options, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout + result.stderr


def _scalars(work):
    """Every run's logged scalars, in the order of the runs."""
    return [json.loads(line)
            for path in sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
            for line in open(path)]


@pytest.fixture(scope='module')
def dino(coco_data, tmp_path_factory):
    """4 iterations, stopped after 2 and resumed; no validation."""
    work = str(tmp_path_factory.mktemp('dino'))
    _train(DINO_DEMO, coco_data, work, 2, 'train_cfg.val_interval=100')
    log = _train(DINO_DEMO, coco_data, work, 4, 'train_cfg.val_interval=100', resume=True)
    return work, log


@pytest.fixture(scope='module')
def mask2former(coco_data, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('m2f'))
    _train(M2F_DEMO, coco_data, work, 2, 'train_cfg.val_interval=100')
    return work


@pytest.fixture(scope='module')
def mask2former_ade(ade_data, tmp_path_factory):
    """The learning run: 40 iterations on 8 scenes, scored on those scenes every 10."""
    work = str(tmp_path_factory.mktemp('m2f_ade'))
    _train(M2F_ADE_DEMO, ade_data, work, 40, 'train_cfg.val_interval=10',
           'default_hooks.checkpoint.interval=40',
           'val_dataloader.dataset.data_prefix.img_path=images/training',
           'val_dataloader.dataset.data_prefix.seg_map_path=annotations/training',
           'param_scheduler.0.end=5', 'param_scheduler.1.begin=5',
           'param_scheduler.1.end=40', 'optim_wrapper.optimizer.lr=1e-3')
    return work


def _checkpoint(work):
    return open(osp.join(work, 'last_checkpoint')).read().strip()


def test_resume_goes_on_from_the_checkpoint(dino):
    work, log = dino
    assert 'resumed' in log.lower() and 'Iter(train) [3/4]' in log, log[-2000:]
    assert _checkpoint(work).endswith('iter_4.pth')


def test_mask2former_semantic_learns_in_a_few_dozen_iterations(mask2former_ade):
    scalars = _scalars(mask2former_ade)
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    mious = [s['mIoU'] for s in scalars if 'mIoU' in s]
    assert len(mious) == 4 and mious[-1] > mious[0], mious  # after 10, 20, 30 and 40


@pytest.mark.parametrize('head', ['dino', 'mask2former', 'mask2former_ade'])
def test_test_py_scores_a_checkpoint_and_infer_draws_it(head, request, coco_data, ade_data,
                                                        tmp_path):
    work = request.getfixturevalue(head)
    work = work[0] if head == 'dino' else work
    config, data = {'dino': (DINO_DEMO, coco_data), 'mask2former': (M2F_DEMO, coco_data),
                    'mask2former_ade': (M2F_ADE_DEMO, ade_data)}[head]
    metrics_file = tmp_path / 'metrics.json'
    result = run_tool('tools/test.py', config, _checkpoint(work), '--data-root', data,
                      '--work-dir', tmp_path / 'test', '--metrics-out', metrics_file,
                      '--cfg-options', NO_PRETRAINED, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    metrics = json.loads(metrics_file.read_text())
    expected = {'dino': ['coco/bbox_mAP'], 'mask2former': ['coco/bbox_mAP', 'coco/segm_mAP'],
                'mask2former_ade': ['mIoU']}[head]
    for key in expected:
        assert 0 <= metrics[key] <= 100, metrics
    image = sorted(glob.glob(osp.join(data, '*', '*validation*', '*.jpg'))
                   + glob.glob(osp.join(data, 'val2017', '*.jpg')))[0]
    out = tmp_path / 'infer'
    result = run_tool('tools/infer.py', config, _checkpoint(work), image, '--out-dir', out,
                      '--score-thr', '0.0', timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    stem = osp.splitext(osp.basename(image))[0]
    picture = cv2.imread(str(out / 'vis' / osp.basename(image)))
    assert picture is not None and picture.shape[:2] == cv2.imread(image).shape[:2]
    assert (out / 'preds' / f'{stem}.json').is_file()


def test_get_flops_counts_the_query_heads():
    result = run_tool('tools/analysis/get_flops.py', DINO_DEMO, M2F_DEMO, M2F_ADE_DEMO,
                      '--shape', '96', '96', timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split('|')[1:-1] for line in result.stdout.splitlines()
            if line.startswith('| ') and 'synthetic' in line]
    assert [row[0].strip() for row in rows] == [
        'dino_convnext_atto_synthetic', 'mask2former_convnext_atto_synthetic',
        'mask2former_convnext_atto_synthetic_ade']
    for _, shape, params, flops, backbone_params, backbone_flops in rows:
        assert shape.strip() == '96x96'
        assert float(params) > float(backbone_params) > 3 and float(flops) > float(backbone_flops)


def test_demo_entries_run_the_query_head_configs_and_all_leaves_them_out(tmp_path):
    """tools/demo.py dino / mask2former / mask2former_ade: the detection (segmentation)
    demo's data, their demo configs from the cached pretraining, tested with pictures; `all`
    (make demo) stays Mask R-CNN and UperNet."""
    from cpu_demo import run as demo
    work = tmp_path / 'work'
    (work / 'demo_pretrain').mkdir(parents=True)
    (work / 'demo_pretrain' / 'iter_3000.pth').write_bytes(b'x')
    for name, config, data, pictures in (
            ('dino', DINO_DEMO, 'synthetic_coco_demo', 'predictions'),
            ('mask2former', M2F_DEMO, 'synthetic_coco_demo', 'predictions'),
            ('mask2former_ade', M2F_ADE_DEMO, 'synthetic_ade_demo', 'vis')):
        result = run_tool('tools/demo.py', name, '--work-root', work, '--data-root',
                          tmp_path / 'data', '--dry-run')
        assert result.returncode == 0, result.stderr[-2000:]
        trained = [line for line in result.stdout.splitlines() if 'tools/train.py' in line]
        assert len(trained) == 1 and config in trained[0], result.stdout
        assert f'checkpoint={work}/demo_pretrain/iter_3000.pth' in trained[0]
        assert f'--work-dir {work}/demo_{name}' in trained[0]
        assert data in trained[0]
        tested = [line for line in result.stdout.splitlines() if 'tools/test.py' in line]
        assert len(tested) == 1 and f'--show-dir {pictures}' in tested[0]
    assert demo.ALL == ('detection', 'segmentation')
