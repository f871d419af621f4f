"""ONNX export (tools/export.py) and exported files evaluated and drawn by tools/test.py and
tools/infer.py with onnxruntime: Mask R-CNN, Cascade Mask R-CNN (class-specific regression,
ConvNeXt-V2 backbone) and UperNet (slide inference) on ConvNeXt-atto, small inputs (DINO and
Mask2Former: test_onnx_query_heads.py).

The checkpoints are random but decisive (sharpened classifiers), and each evaluation's ground
truth is what the checkpoint predicts, so the checkpoint scores near 1 and the ONNX file must
score the same: a test that fails when the exported graph drifts."""
import json
import os.path as osp
import pickle
import re
import shutil

import cv2
import pytest
import torch
from mmengine.config import Config, DictAction

from helpers import DET_DEMO, REPO, SEG_DEMO, one_line_error, run_tool

ATTO_CASCADE = ['model.backbone.arch=atto', 'model.backbone.use_grn=True',
                'model.neck.in_channels=[40,80,160,320]']
CASCADE = 'configs/cascade_mask_rcnn_convnext_t_fpn_3x_coco.py'


def write_checkpoint(config: str, path: str, options=()) -> None:
    """A random model whose classifiers are sharp enough to give distinct scores."""
    import convnext_dense  # noqa: F401
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict({key: DictAction._parse_iterable(value)
                         for key, value in (o.split('=', 1) for o in options)})
    cfg.model.backbone.init_cfg = None
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    for name, p in model.named_parameters():
        if re.search(r'(fc_cls|conv_seg|conv_logits|cls_branches\.\d+|cls_embed)\.weight', name):
            p.data.normal_(0, 0.5)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def export(config, checkpoint, out, *options, shape=None):
    args = ['tools/export.py', config, checkpoint, out]
    args += ['--shape', *map(str, shape)] if shape else []
    args += ['--cfg-options', *options] if options else []
    result = run_tool(*args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    checks = re.findall(r'checked against PyTorch at (\d+)x(\d+): .*largest difference (\S+)',
                        result.stdout)
    assert len(checks) == 2 and checks[0][:2] != checks[1][:2], result.stdout  # two sizes
    assert all(float(diff) < 1e-3 for *_, diff in checks), result.stdout
    assert 'outputs [(0, 5)' not in result.stdout, result.stdout  # detections to compare
    return out


@pytest.fixture(scope='module')
def det_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('onnx_det')
    write_checkpoint(DET_DEMO, str(tmp / 'det.pth'))
    export(DET_DEMO, tmp / 'det.pth', str(tmp / 'det.onnx'))
    data = tmp / 'coco'
    assert run_tool('tools/make_synthetic_data.py', 'coco', '--out', data, '--num-train', '2',
                    '--num-val', '4', '--style', 'demo', '--size', '160').returncode == 0
    return tmp


def evaluate(config, model_file, data_root, work_dir, *extra):
    result = run_tool('tools/test.py', config, model_file, '--data-root', data_root,
                      '--work-dir', work_dir, *extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        return json.load(f)


def predictions_as_ground_truth(pkl: str, ann_file: str) -> None:
    """Rewrite the COCO annotations as the predictions scoring at least the lowest of the
    images' best scores: every image has one, and every prediction that is not ground truth
    scores below every one that is (so the checkpoint's AP is 1)."""
    with open(pkl, 'rb') as f:
        results = pickle.load(f)
    with open(ann_file) as f:
        coco = json.load(f)
    coco['annotations'] = []
    threshold = min(float(r['pred_instances']['scores'].max()) for r in results)
    for result in results:
        pred = result['pred_instances']
        for i in (pred['scores'] >= threshold).nonzero()[:, 0].tolist():
            x1, y1, x2, y2 = map(float, pred['bboxes'][i])
            coco['annotations'].append(dict(
                id=len(coco['annotations']) + 1, image_id=result['img_id'], iscrowd=0,
                category_id=coco['categories'][int(pred['labels'][i])]['id'],
                bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1)))
            if 'masks' in pred:  # a detector without masks (DINO) is scored on boxes only
                counts = pred['masks'][i]['counts']
                coco['annotations'][-1]['segmentation'] = dict(
                    pred['masks'][i], counts=counts.decode() if isinstance(counts, bytes) else counts)
    with open(ann_file, 'w') as f:
        json.dump(coco, f)


def check_detector_parity(config, checkpoint, model_file, coco, tmp_path, masks=True):
    """The exported file scores what the checkpoint scores (COCO box and mask AP through
    tools/test.py, with the checkpoint's own detections as ground truth) and gives the same
    detections."""
    data = str(shutil.copytree(coco, tmp_path / 'coco'))
    evaluate(config, checkpoint, data, tmp_path / 'gt', '--out', tmp_path / 'gt.pkl')
    predictions_as_ground_truth(str(tmp_path / 'gt.pkl'),
                                osp.join(data, 'annotations/instances_val2017.json'))
    ours = evaluate(config, checkpoint, data, tmp_path / 'pth', '--out', tmp_path / 'pth.pkl')
    exported = evaluate(config, model_file, data, tmp_path / 'onnx', '--out', tmp_path / 'onnx.pkl')
    keys = ['coco/bbox_mAP'] + (['coco/segm_mAP'] if masks else [])
    assert all(ours[key] > 0.9 for key in keys), ours
    for key in keys:
        assert abs(exported[key] - ours[key]) <= 0.005, (key, ours, exported)
    with open(tmp_path / 'pth.pkl', 'rb') as f, open(tmp_path / 'onnx.pkl', 'rb') as g:
        for a, b in zip(pickle.load(f), pickle.load(g)):
            a, b = a['pred_instances'], b['pred_instances']
            assert len(a['scores']) == len(b['scores']) > 0
            # each detection has its twin (same label, score and box; equal scores may come
            # in either order)
            twins = (((a['scores'][:, None] - b['scores'][None]).abs() <= 1e-4)
                     & (a['labels'][:, None] == b['labels'][None])
                     & ((a['bboxes'][:, None] - b['bboxes'][None]).abs().amax(-1) < 0.5))
            assert twins.any(0).all() and twins.any(1).all()


def test_detector_onnx_matches_checkpoint_in_coco_metrics_and_boxes(det_files, tmp_path):
    check_detector_parity(DET_DEMO, det_files / 'det.pth', det_files / 'det.onnx',
                          det_files / 'coco', tmp_path)


def test_infer_draws_onnx_predictions(det_files, tmp_path):
    images = det_files / 'coco' / 'val2017'
    result = run_tool('tools/infer.py', DET_DEMO, det_files / 'det.onnx', images,
                      '--out-dir', tmp_path, '--score-thr', '0')
    assert result.returncode == 0, result.stderr[-3000:]
    stems = sorted(osp.splitext(n)[0] for n in map(osp.basename, images.iterdir()))
    assert sorted(osp.splitext(p.name)[0] for p in (tmp_path / 'vis').iterdir()) == stems
    with open(tmp_path / 'preds' / f'{stems[0]}.json') as f:
        preds = json.load(f)
    assert len(preds['bboxes']) == len(preds['masks']) > 0
    assert set(preds['label_names']) <= {'circle', 'triangle', 'square', 'star', 'cross'}


def test_cascade_with_class_specific_regression_and_v2_backbone_exports(tmp_path):
    write_checkpoint(CASCADE, str(tmp_path / 'cascade.pth'), ATTO_CASCADE)
    export(CASCADE, tmp_path / 'cascade.pth', str(tmp_path / 'cascade.onnx'), *ATTO_CASCADE,
           shape=(160, 224))


def test_segmentor_onnx_matches_checkpoint_in_miou_with_slide_inference(tmp_path):
    check_segmentor_parity(SEG_DEMO, tmp_path)


def check_segmentor_parity(config, tmp_path):
    """The exported file scores the checkpoint's mIoU (its own predictions as ground truth)
    through tools/test.py, and tools/infer.py writes the same label maps."""
    write_checkpoint(config, str(tmp_path / 'seg.pth'))
    export(config, tmp_path / 'seg.pth', str(tmp_path / 'seg.onnx'))
    data = tmp_path / 'ade'
    assert run_tool('tools/make_synthetic_data.py', 'ade', '--out', data, '--num-train', '2',
                    '--num-val', '3', '--style', 'demo', '--size', '150', '200').returncode == 0
    evaluate(config, tmp_path / 'seg.pth', data, tmp_path / 'gt', '--out', tmp_path / 'labels')
    for png in (tmp_path / 'labels').iterdir():  # the checkpoint's predictions as ground truth
        shutil.copy(png, data / 'annotations' / 'validation' / png.name)
    ours = evaluate(config, tmp_path / 'seg.pth', data, tmp_path / 'pth')
    exported = evaluate(config, tmp_path / 'seg.onnx', data, tmp_path / 'onnx')
    assert ours['mIoU'] > 99, ours
    assert abs(exported['mIoU'] - ours['mIoU']) <= 0.2, (ours, exported)
    # tools/infer.py: the .onnx file draws and writes the label maps the checkpoint does
    images = data / 'images' / 'validation'
    for model_file in ('seg.pth', 'seg.onnx'):
        result = run_tool('tools/infer.py', config, tmp_path / model_file, images,
                          '--out-dir', tmp_path / f'infer_{model_file}')
        assert result.returncode == 0, result.stderr[-3000:]
    for image in images.iterdir():
        name = image.with_suffix('.png').name
        assert (tmp_path / 'infer_seg.onnx' / 'vis' / image.name).is_file()
        label_maps = [cv2.imread(str(tmp_path / f'infer_{m}' / 'preds' / name), 0)
                      for m in ('seg.pth', 'seg.onnx')]
        assert all(m is not None for m in label_maps), f'{name}: a label map was not written'
        assert (label_maps[0] == label_maps[1]).mean() > 0.999, name


def test_adaptive_pool_by_shape_equals_adaptive_avg_pool():
    from convnext_dense.onnx import AdaptiveAvgPool2dByShape
    for bins in (1, 2, 3, 6):
        for h, w in ((6, 6), (7, 13), (2, 5), (25, 40)):
            x = torch.randn(2, 3, h, w)
            torch.testing.assert_close(AdaptiveAvgPool2dByShape(bins)(x),
                                       torch.nn.AdaptiveAvgPool2d(bins)(x))


def test_soft_nms_config_is_refused_in_one_line(det_files):
    result = run_tool('tools/export.py', DET_DEMO, det_files / 'det.pth', det_files / 'x.onnx',
                      '--cfg-options', 'model.test_cfg.rcnn.nms.type=soft_nms')
    one_line_error(result, r"soft_nms.*no ONNX counterpart.*model.test_cfg.rcnn.nms.type=nms")


def test_module_without_onnx_counterpart_is_named_in_one_line(det_files, tmp_path):
    # mmcv's modulated deformable conv runs a compiled kernel that torch.export cannot trace
    config = tmp_path / 'dcn.py'
    config.write_text(f"_base_ = '{osp.join(REPO, DET_DEMO)}'\n"
                      "model = dict(roi_head=dict(mask_head=dict(\n"
                      "    _delete_=True, type='FCNMaskHead', num_convs=2, in_channels=64,\n"
                      "    conv_out_channels=64, num_classes=5, conv_cfg=dict(type='DCNv2'),\n"
                      "    norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),\n"
                      "    loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))))\n")
    # the DCNv2 offsets are not in the checkpoint: loading what fits is asked for
    result = run_tool('tools/export.py', config, det_files / 'det.pth', tmp_path / 'x.onnx',
                      '--allow-partial-checkpoint')
    one_line_error(result, r'cannot export roi_head\.mask_head\.convs\.0\.conv '
                           r'\(ModulatedDeformConv2dPack\)')


@pytest.mark.parametrize('case', ['task', 'classes', 'not_onnx'])
def test_onnx_file_that_does_not_fit_the_config_is_refused(det_files, tmp_path, case):
    model_file, config, extra = det_files / 'det.onnx', DET_DEMO, []
    if case == 'task':
        config = SEG_DEMO
    elif case == 'classes':
        extra = ['--cfg-options', 'test_dataloader.dataset.metainfo.classes=[a,b,c,d,e]']
    else:
        model_file = tmp_path / 'broken.onnx'
        model_file.write_bytes(b'not a model')
    result = run_tool('tools/test.py', config, model_file, '--work-dir', tmp_path, *extra)
    pattern = {'task': 'is a detection model but the config is a segmentation config',
               'classes': r'predicts 5 classes \(circle.*but the config.s dataset has 5 \(a, b',
               'not_onnx': 'is not an ONNX model onnxruntime can load'}[case]
    one_line_error(result, pattern)


def test_translation_failure_names_the_op_and_its_module():
    from convnext_dense.onnx import untranslated_node

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.head(x).sigmoid()

    program = torch.export.export(Model(), (torch.randn(1, 3, 4, 4),))
    assert untranslated_node(RuntimeError('no ONNX function for aten::conv2d'), program) == \
        'op aten.conv2d.default in head (Conv2d)'
    assert untranslated_node(RuntimeError('unrelated'), program) == 'an op'
