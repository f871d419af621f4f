"""Analysis tools (FLOPs table, benchmark --quick, training-curve plot), tools/infer.py and
the shape-classification probe, each run as a user runs it."""
import importlib
import importlib.metadata
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.registry import init_default_scope

from convnext_dense import ConvNeXt
from helpers import DET_DEMO, NO_PRETRAINED, REPO, SEG_DEMO, one_line_error, run_tool


def build_demo_model(config: str) -> torch.nn.Module:
    """The demo config's model with random weights (its pretraining checkpoint is not
    there in tests)."""
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    return importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)


def markdown_rows(text: str) -> dict:
    """``{first cell: [cells]}`` of the markdown tables in ``text``."""
    rows = [[c.strip() for c in line.split('|')[1:-1]] for line in text.splitlines()
            if line.startswith('| ') and not line.startswith('|---')]
    return {cells[0]: cells for cells in rows}


# ---------------------------------------------------------------- FLOPs
def test_get_flops_counts_demo_models_and_their_backbones(tmp_path):
    out = tmp_path / 'flops.md'
    result = run_tool('tools/analysis/get_flops.py', DET_DEMO, SEG_DEMO, '--shape', '320', '256',
                      '--out', out, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = markdown_rows(out.read_text())
    assert out.read_text().strip() in result.stdout
    assert list(rows) == ['config', 'mask_rcnn_convnext_atto_synthetic',
                          'upernet_convnext_atto_synthetic']
    assert rows['config'][1:4] == ['input (WxH)', 'params (M)', 'FLOPs (G)']
    # the backbone columns are what MMEngine counts for ConvNeXt-atto alone at 1x3x256x320
    atto = ConvNeXt('atto')
    counted = get_model_complexity_info(atto, inputs=(torch.randn(1, 3, 256, 320),),
                                        show_table=False, show_arch=False)
    for config in (DET_DEMO, SEG_DEMO):
        name, shape, params, flops, backbone_params, backbone_flops = \
            rows[osp.splitext(osp.basename(config))[0]]
        assert shape == '320x256'
        assert float(flops) > float(backbone_flops) > 0  # the whole model does more
        assert backbone_flops == f"{counted['flops'] / 1e9:.2f}"
        assert backbone_params == f"{counted['params'] / 1e6:.2f}"
        whole_params = sum(p.numel() for p in build_demo_model(config).parameters())
        assert params == f'{whole_params / 1e6:.2f}'


def test_cascade_mask_heads_are_counted_on_100_rois_as_in_the_paper():
    """mmdet 3's tensor mode runs every cascade stage's mask head on all proposals; the
    paper's counts (mmdet 2's forward_dummy) on the first 100, as get_flops does."""
    spec = importlib.util.spec_from_file_location(
        'get_flops', osp.join(REPO, 'tools/analysis/get_flops.py'))
    get_flops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(get_flops)
    cfg = Config.fromfile(osp.join(REPO, 'configs/cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'))
    cfg.model.backbone.arch = 'atto'
    cfg.model.neck.in_channels = [40, 80, 160, 320]
    torch.manual_seed(0)
    model = get_flops.build_model(cfg)
    samples = get_flops.data_samples('mmdet', 320, 256)
    inputs = torch.randn(1, 3, 256, 320)
    with torch.no_grad():
        outs = get_flops.cascade_forward_dummy(model, inputs, samples)
    stages = model.roi_head.num_stages
    boxes, masks = outs[:2 * stages], outs[2 * stages:]
    assert len(masks) == stages and all(m.shape[0] == 100 for m in masks)
    assert all(b.shape[0] == boxes[0].shape[0] > 100 for b in boxes)  # every proposal


def test_get_flops_default_input_and_a_missing_config():
    result = run_tool('tools/analysis/get_flops.py', SEG_DEMO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert markdown_rows(result.stdout)['upernet_convnext_atto_synthetic'][1] == '2048x512'
    one_line_error(run_tool('tools/analysis/get_flops.py', 'configs/no_such_config.py'),
                   'config configs/no_such_config.py does not exist')


# ---------------------------------------------------------------- benchmark
def test_benchmark_quick_writes_its_tables(tmp_path):
    out = tmp_path / 'bench.md'
    result = run_tool('benchmarks/speed.py', '--quick', '--out', out, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert text.strip() in result.stdout
    assert 'torch ' + torch.__version__ in text and 'load average' in text
    for heading in ('## Backbone inference, 1x3x128x160', '## Whole model in tensor mode: '
                    'configs/demo/mask_rcnn_convnext_atto_synthetic.py',
                    '## Backbone training step'):
        assert heading in text
    rows = markdown_rows(text)
    try:  # installed, as the benchmark's process sees it (not a test's stand-in module)
        importlib.metadata.distribution('mmpretrain')
        implementations = ['ours', 'timm', 'timm channels-last', 'mmpretrain']
    except importlib.metadata.PackageNotFoundError:
        implementations = ['ours', 'timm', 'timm channels-last']
    for impl in implementations:
        name, median, iqr, ratio, diff = rows[f'{impl} ConvNeXt-atto']
        assert float(median) > 0
        assert float(diff) < 1e-4  # the same weights give the same outputs
    assert rows['ours ConvNeXt-atto'][3] == rows['ours'][3] == rows['with_cp=False'][3] == '1.00'
    for case in ('with_cp=False', 'with_cp=True'):  # at this size, mostly first-call costs
        assert float(rows[case][1]) > 0 and float(rows[case][4]) > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_benchmark_on_a_missing_gpu_is_one_line():
    one_line_error(run_tool('benchmarks/speed.py', '--quick', '--device', 'cuda'),
                   'no GPU')


# ---------------------------------------------------------------- infer
def _save_fresh_checkpoint(config: str, path) -> None:
    model = build_demo_model(config)
    metainfo = dict(Config.fromfile(osp.join(REPO, config)).metainfo)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': metainfo}}, path)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    image = np.full((120, 160, 3), 40, np.uint8)
    cv2.circle(image, (60, 60), 30, (30, 30, 220), -1)
    cv2.imwrite(str(folder / 'scene.png'), image + rng.integers(0, 20, image.shape, np.uint8))
    (folder / 'broken.jpg').write_bytes(b'this is not a JPEG')
    return folder


def test_infer_detector_folder_with_a_broken_image(images, tmp_path):
    checkpoint = str(tmp_path / 'det.pth')
    _save_fresh_checkpoint(DET_DEMO, checkpoint)
    out = tmp_path / 'out'
    result = run_tool('tools/infer.py', DET_DEMO, checkpoint, str(images), '--out-dir', str(out),
                      '--score-thr', '0.0', timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = [line for line in result.stderr.splitlines() if line.startswith('failed:')]
    assert len(failures) == 1 and 'broken.jpg' in failures[0]
    assert 'not a readable image' in failures[0]
    assert '1 image(s) written' in result.stdout and '1 failed' in result.stdout
    picture = cv2.imread(str(out / 'vis' / 'scene.png'))
    assert picture is not None and picture.shape == (120, 160, 3)
    preds = json.loads((out / 'preds' / 'scene.json').read_text())
    assert set(preds) >= {'labels', 'scores', 'bboxes', 'masks'}
    assert len(preds['labels']) == len(preds['scores']) == len(preds['bboxes']) > 0
    assert all(0 <= label < 5 for label in preds['labels'])
    classes = Config.fromfile(osp.join(REPO, DET_DEMO)).metainfo['classes']
    assert preds['label_names'] == [classes[label] for label in preds['labels']]


def test_infer_nothing_readable_is_exit_1_and_missing_checkpoint_is_one_line(images, tmp_path):
    checkpoint = tmp_path / 'seg.pth'
    out = ('--out-dir', tmp_path / 'o')
    one_line_error(run_tool('tools/infer.py', SEG_DEMO, checkpoint, images, *out),
                   'checkpoint .* does not exist')
    _save_fresh_checkpoint(SEG_DEMO, checkpoint)
    one_line_error(run_tool('tools/infer.py', SEG_DEMO, checkpoint, tmp_path / 'none*.png', *out),
                   'no images found')
    result = run_tool('tools/infer.py', SEG_DEMO, checkpoint, images / 'broken.jpg', *out,
                      timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert '0 image(s) written' in result.stdout and '1 failed' in result.stdout


@pytest.fixture(scope='module')
def trained_segmentor(tmp_path_factory):
    """A tiny real training run of the segmentation demo: 4 iterations, validation at 2
    and 4, a checkpoint written by MMEngine."""
    from cpu_demo.synthetic_data import write_ade20k_dataset
    root = tmp_path_factory.mktemp('seg')
    data = str(root / 'data')
    write_ade20k_dataset(data, num_train=8, num_val=2, image_size=64, seed=1)
    work = str(root / 'work')
    result = run_tool('tools/train.py', SEG_DEMO, '--data-root', data, '--work-dir', work,
                      '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
                      NO_PRETRAINED, 'default_hooks.checkpoint.interval=4',
                      'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
                      timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    return work


def test_infer_segmentor_with_trained_checkpoint(trained_segmentor, images, tmp_path):
    checkpoint = open(osp.join(trained_segmentor, 'last_checkpoint')).read().strip()
    out = tmp_path / 'out'
    result = run_tool('tools/infer.py', SEG_DEMO, checkpoint, str(images / 'scene.png'),
                      '--out-dir', str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    overlay = cv2.imread(str(out / 'vis' / 'scene.png'))
    assert overlay is not None and overlay.shape == (120, 160, 3)
    labels = cv2.imread(str(out / 'preds' / 'scene.png'), cv2.IMREAD_UNCHANGED)
    classes = Config.fromfile(osp.join(REPO, SEG_DEMO)).metainfo['classes']
    assert labels.shape == (120, 160) and labels.max() < len(classes)
    summary = json.loads((out / 'preds' / 'scene.json').read_text())
    assert summary['height'] == 120 and summary['width'] == 160
    assert sum(c['pixels'] for c in summary['classes']) == 120 * 160
    assert {c['name'] for c in summary['classes']} <= set(classes)


# ---------------------------------------------------------------- training curves
def test_plot_training_from_real_work_dir(trained_segmentor):
    out = osp.join(trained_segmentor, 'curves.png')
    result = run_tool('tools/analysis/plot_training.py', trained_segmentor, '--out', out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'loss over 4 logged iterations' in result.stdout
    assert 'mIoU at 2 validation(s)' in result.stdout
    assert 'at iteration 2,' in result.stdout and result.stdout.strip().endswith('iteration 4')
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[0] > 200 and picture.std() > 5


def test_epoch_based_validation_is_placed_at_its_last_iteration(tmp_path):
    # the lines MMEngine's epoch-based loop writes: a validation's "step" is its epoch
    log = tmp_path / 'scalars.json'
    lines = [dict(loss=2.0 - i / 10, loss_cls=1.0, epoch=1 + (i > 4), iter=i * 5, step=i * 5)
             for i in range(1, 9)]
    lines.insert(4, {'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.05, 'data_time': 0.1, 'step': 1})
    lines.append({'coco/bbox_mAP': 0.3, 'coco/segm_mAP': 0.2, 'step': 2})
    log.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    result = run_tool('tools/analysis/plot_training.py', log)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / 'training_curves.png').is_file()
    assert 'coco/segm_mAP at 2 validation(s): 0.05 at iteration 20, 0.2 at iteration 40' \
        in result.stdout
    one_line_error(run_tool('tools/analysis/plot_training.py', log, '--metric', 'mIoU'),
                   "metric 'mIoU' is not in the log; it has: coco/bbox_mAP, coco/segm_mAP")
    one_line_error(run_tool('tools/analysis/plot_training.py', tmp_path / 'missing'),
                   'no <timestamp>/vis_data/scalars.json under')


def test_shape_classification_probe_trains_and_rejects_a_bad_style():
    probe = 'benchmarks/probes/shape_classification_probe.py'
    done = run_tool(probe, '--model', 'plain_s4', '--iters', '50', '--num-train', '64',
                    '--num-val', '32', '--style', 'size_range=(0.5,0.8), max_rotation=0',
                    timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'step 50: loss' in done.stdout and 'val acc' in done.stdout
    bad = run_tool(probe, '--style', '__import__("os").system("true")', timeout=120)
    assert bad.returncode == 2
    assert "--style" in bad.stderr and 'keyword arguments' in bad.stderr
