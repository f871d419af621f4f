"""ONNX export of the query-based heads (tools/export.py), and the exported files scored by
tools/test.py and drawn by tools/infer.py with onnxruntime: DINO and Mask2Former (instances)
on the COCO-style demo scenes, Mask2Former (semantic) on the ADE20K-style ones, ConvNeXt-atto.
Random but decisive checkpoints, scored against their own predictions (see test_onnx.py)."""
import json

import pytest

from helpers import run_tool
from test_onnx import check_detector_parity, check_segmentor_parity, export, write_checkpoint

DINO_DEMO = 'configs/demo/dino_convnext_atto_synthetic.py'
M2F_DEMO = 'configs/demo/mask2former_convnext_atto_synthetic.py'
M2F_ADE_DEMO = 'configs/demo/mask2former_convnext_atto_synthetic_ade.py'


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    data = tmp_path_factory.mktemp('coco')
    assert run_tool('tools/make_synthetic_data.py', 'coco', '--out', data, '--num-train', '2',
                    '--num-val', '4', '--style', 'demo', '--size', '160').returncode == 0
    return data


@pytest.mark.parametrize('config', [DINO_DEMO, M2F_DEMO], ids=['dino', 'mask2former'])
def test_query_detector_onnx_scores_its_checkpoint_and_infer_draws_it(config, coco, tmp_path):
    masks = config == M2F_DEMO
    write_checkpoint(config, str(tmp_path / 'model.pth'))
    # checked against PyTorch at the test size (128 / 160) and at an odd one
    model_file = export(config, tmp_path / 'model.pth', str(tmp_path / 'model.onnx'))
    check_detector_parity(config, tmp_path / 'model.pth', model_file, coco, tmp_path, masks)
    image = sorted((coco / 'val2017').iterdir())[0]
    result = run_tool('tools/infer.py', config, model_file, image, '--out-dir',
                      tmp_path / 'infer', '--score-thr', '0')
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'infer' / 'vis' / image.name).is_file()
    with open(tmp_path / 'infer' / 'preds' / f'{image.stem}.json') as f:
        preds = json.load(f)
    assert len(preds['bboxes']) > 0 and ('masks' in preds) == masks


def test_mask2former_semantic_onnx_scores_its_checkpoint(tmp_path):
    check_segmentor_parity(M2F_ADE_DEMO, tmp_path)


def test_dino_with_padding_or_a_softmax_classifier_is_refused():
    import convnext_dense  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmdet.registry import MODELS
    from convnext_dense.detection.onnx import detector_graph
    from convnext_dense.errors import UserError
    cfg = Config.fromfile(DINO_DEMO)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.data_preprocessor.pad_size_divisor = 32
    with pytest.raises(UserError, match=r'pad_size_divisor=1 .*padding makes mmdet mask'):
        detector_graph(model)
    model.data_preprocessor.pad_size_divisor = 1
    model.bbox_head.loss_cls.use_sigmoid = False
    with pytest.raises(UserError, match=r'sigmoid classifier'):
        detector_graph(model)


def test_maskformer_is_not_taken_for_mask2former():
    """MaskFormer (mmdet's parent of Mask2Former, another pixel decoder) is refused in one line."""
    from mmdet.models.detectors import MaskFormer
    from convnext_dense.detection.onnx import detector_graph
    from convnext_dense.errors import UserError
    with pytest.raises(UserError, match=r'MaskFormer cannot be exported: .*DINO and Mask2Former'):
        detector_graph(MaskFormer.__new__(MaskFormer))
