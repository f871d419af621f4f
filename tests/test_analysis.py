"""Analysis tools: FLOPs table, benchmark (quick), tools/infer.py, training-curve plot."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import convnext_dense  # noqa: F401
from convnext_dense.analysis.complexity import count_flops, model_complexity
from convnext_dense.analysis.models import (TensorModeForward, build_model,
                                            dummy_data_samples, load_config)
from convnext_dense.errors import UserError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_DEMO = osp.join(REPO, 'configs/demo/mask_rcnn_convnext_atto_synthetic.py')
SEG_DEMO = osp.join(REPO, 'configs/demo/upernet_convnext_atto_synthetic.py')


def run_tool(*args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONUNBUFFERED='1')
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------- FLOPs
def test_get_flops_prints_table_for_demo_configs():
    result = run_tool('tools/analysis/get_flops.py', DET_DEMO, SEG_DEMO, '--shape', '320', '256',
                      timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith('| ')]
    assert rows[0].startswith('| config | input (WxH) | params (M) | paper')
    by_name = {r.split('|')[1].strip(): [c.strip() for c in r.split('|')[1:-1]] for r in rows[1:]}
    assert set(by_name) == {'mask_rcnn_convnext_atto_synthetic', 'upernet_convnext_atto_synthetic'}
    for cells in by_name.values():
        assert cells[1] == '320x256'
        assert float(cells[2]) > 3.0          # atto backbone alone has 3.4M parameters
        assert cells[3] == '-'                # no paper row for demo configs
        assert float(cells[5]) > float(cells[8]) > 0  # whole model > backbone > 0


def test_counts_agree_with_get_model_complexity_info_and_shortcut_is_exact():
    from mmengine.analysis import get_model_complexity_info
    cfg = load_config(SEG_DEMO)
    torch.manual_seed(0)
    model = build_model(cfg)
    wrapped = TensorModeForward(model, dummy_data_samples('segmentation', 1, 128, 160))
    reference = get_model_complexity_info(wrapped, inputs=(torch.randn(1, 3, 128, 160),),
                                          show_table=False, show_arch=False)
    exact = model_complexity(cfg, (160, 128), shortcut=False)
    fast = model_complexity(cfg, (160, 128), shortcut=True)
    assert fast.shortcut_blocks == 3  # atto: 6 blocks in stage 2, 3 traced
    assert exact.flops == reference['flops'] == fast.flops
    assert exact.params == reference['params'] == fast.params
    assert fast.flops_by_part['backbone'] == exact.flops_by_part['backbone']


def test_cascade_paper_convention_counts_masks_on_100_rois():
    # a cascade detector with the demo's slim heads: mmdet 3 tensor mode runs the mask
    # heads on every proposal; the paper's (mmdet 2 forward_dummy) on the first 100
    cfg = load_config(DET_DEMO)
    cfg.model.roi_head = dict(
        type='CascadeRoIHead', num_stages=2, stage_loss_weights=[1, 0.5],
        bbox_roi_extractor=cfg.model.roi_head.bbox_roi_extractor,
        bbox_head=[cfg.model.roi_head.bbox_head] * 2,
        mask_roi_extractor=cfg.model.roi_head.mask_roi_extractor,
        mask_head=cfg.model.roi_head.mask_head)
    cfg.model.train_cfg.rcnn = [cfg.model.train_cfg.rcnn] * 2
    cfg.model.test_cfg.rpn.max_per_img = 300
    torch.manual_seed(0)
    model = build_model(cfg)
    paper, parts, _ = count_flops(model, 'detection', 320, 256, paper_convention=True)
    mmdet3, parts3, _ = count_flops(model, 'detection', 320, 256, paper_convention=False)
    assert parts['backbone'] == parts3['backbone']
    assert parts3['roi_head'] > parts['roi_head'] > 0
    assert mmdet3 - paper == parts3['roi_head'] - parts['roi_head']


# ---------------------------------------------------------------- benchmark
def test_benchmark_quick_writes_table(tmp_path):
    out = tmp_path / 'bench.md'
    result = run_tool('tools/analysis/benchmark.py', '--quick', '--no-channels-last',
                      '--out', str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert text in result.stdout
    for heading in ('## Targets', '## Backbone inference', '## Whole detector',
                    '## Whole segmentor', '## Backbone training step'):
        assert heading in text
    assert 'load average' in text and 'torch threads' in text and 'CPU:' in text
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[1:-1]]
            for line in text.splitlines() if line.startswith('| ') and '---' not in line}
    for impl in ('ours NCHW', 'timm NCHW', 'mmpretrain NCHW'):
        cells = rows[impl]
        assert float(cells[2]) > 0 and float(cells[3]) > 0   # median s, images/s
        assert float(cells[8]) < 1e-4                        # same weights, same outputs
    assert rows['ours NCHW'][4] == '1.00'
    for case in ('ours, with_cp=False', 'ours, with_cp=True'):
        assert float(rows[case][7]) > 0                      # peak MiB from a fresh process
    assert 'with_cp' in text.split('## Targets')[1].split('##')[0]


# ---------------------------------------------------------------- infer
def _save_fresh_checkpoint(config, path):
    cfg = load_config(config)
    torch.manual_seed(0)
    model = build_model(cfg)
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': dict(cfg.metainfo)}}, path)


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
    assert len(failures) == 1 and 'broken.jpg' in failures[0] and 'not a readable image' in failures[0]
    assert '1 image(s) written' in result.stdout and '1 failed' in result.stdout
    picture = cv2.imread(str(out / 'vis' / 'scene.png'))
    assert picture is not None and picture.shape == (120, 160, 3)
    preds = json.loads((out / 'preds' / 'scene.json').read_text())
    assert set(preds) >= {'labels', 'scores', 'bboxes', 'masks'}
    assert len(preds['labels']) == len(preds['scores']) == len(preds['bboxes']) > 0
    assert all(0 <= label < 5 for label in preds['labels'])


def test_infer_nothing_readable_is_exit_1_and_missing_checkpoint_is_one_line(images, tmp_path):
    from convnext_dense.apis.infer import run_inference
    checkpoint = str(tmp_path / 'seg.pth')
    with pytest.raises(UserError, match='checkpoint .* does not exist'):
        run_inference(SEG_DEMO, checkpoint, str(images), str(tmp_path / 'o'))
    _save_fresh_checkpoint(SEG_DEMO, checkpoint)
    with pytest.raises(UserError, match='no images found'):
        run_inference(SEG_DEMO, checkpoint, str(tmp_path / 'none*.png'), str(tmp_path / 'o'))
    report = run_inference(SEG_DEMO, checkpoint, str(images / 'broken.jpg'),
                           str(tmp_path / 'o'), progress=False)
    assert report.done == [] and report.exit_code == 1


@pytest.fixture(scope='module')
def trained_segmentor(tmp_path_factory):
    """A tiny real training run of the segmentation demo: 4 iterations, validation at 2
    and 4, a checkpoint written by MMEngine."""
    from convnext_dense.datasets.synthetic_ade import write_ade20k_dataset
    root = tmp_path_factory.mktemp('seg')
    data = str(root / 'data')
    write_ade20k_dataset(data, num_train=8, num_val=2, image_size=64, seed=1)
    work = str(root / 'work')
    result = run_tool('tools/train.py', SEG_DEMO, '--data-root', data, '--work-dir', work,
                      '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
                      'model.backbone.init_cfg=None',
                      'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1',
                      'train_dataloader.batch_size=2', timeout=500)
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
    classes = Config.fromfile(SEG_DEMO).metainfo['classes']
    assert labels.shape == (120, 160) and labels.max() < len(classes)
    summary = json.loads((out / 'preds' / 'scene.json').read_text())
    assert summary['height'] == 120 and summary['width'] == 160
    assert sum(c['pixels'] for c in summary['classes']) == 120 * 160
    assert {c['name'] for c in summary['classes']} <= set(classes)


# ---------------------------------------------------------------- training curves
def test_plot_training_from_real_work_dir(trained_segmentor):
    from convnext_dense.analysis.training_curves import find_log, read_curves
    curves = read_curves(find_log(trained_segmentor))
    assert curves.loss_iters == [1, 2, 3, 4]
    assert curves.val_iters == [2, 4] and len(curves.metrics['mIoU']) == 2
    out = osp.join(trained_segmentor, 'curves.png')
    result = run_tool('tools/analysis/plot_training.py', trained_segmentor, '--out', out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'mIoU at 2 validation(s)' in result.stdout
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[0] > 200 and picture.std() > 5


def test_epoch_based_validation_is_placed_at_its_last_iteration(tmp_path):
    # the line format MMEngine's epoch-based loop writes: validation "step" is the epoch
    log = tmp_path / 'scalars.json'
    lines = [dict(loss=2.0 - i / 10, loss_cls=1.0, epoch=1 + (i > 4), iter=i * 5, step=i * 5)
             for i in range(1, 9)]
    lines.insert(4, {'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.05, 'data_time': 0.1, 'step': 1})
    lines.append({'coco/bbox_mAP': 0.3, 'coco/segm_mAP': 0.2, 'step': 2})
    log.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    from convnext_dense.analysis.training_curves import choose_metric, read_curves
    curves = read_curves(str(log))
    assert curves.val_iters == [20, 40]
    assert choose_metric(curves) == 'coco/segm_mAP'
    assert set(curves.losses) == {'loss', 'loss_cls'}
    with pytest.raises(UserError, match='not in'):
        choose_metric(curves, 'mIoU')
    result = run_tool('tools/analysis/plot_training.py', str(tmp_path / 'missing'))
    assert result.returncode == 2 and result.stderr.count('\n') == 1


def test_backbone_torch_compile_option_same_outputs_and_keys():
    from convnext_dense.models import ConvNeXt
    torch.manual_seed(0)
    eager = ConvNeXt('atto').eval()
    compiled = ConvNeXt('atto', torch_compile=True).eval()
    compiled.load_state_dict(eager.state_dict())
    assert list(compiled.state_dict()) == list(eager.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():
        for a, b in zip(eager(x), compiled(x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


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
