"""Released models of every source load into our configs and give the source's own outputs
(issue 26): mmdet 3 / mmseg 1 models (mmpretrain's backbone names, V2's GRN), the official 2022
naming, transformers (ConvNext, ConvNextV2, ConvNextBackbone, DINOv3ConvNext; UperNet both
ways), timm's DINOv3 tags and open_clip; and transformers beside mmdet in one venv.

Each source model is built by the source's own code (mmpretrain's ConvNeXt from its files, see
helpers.mmpretrain_models) with random weights perturbed so that layer scales, GRN, norms and
BatchNorm statistics are far from their init, saved the way that source saves it, loaded
through our path and compared with the source's own outputs. Tolerances: outputs agree to
1e-4 relative to their largest magnitude (measured: below 3e-6); the models compute the same
operations in another order (channels-last, fused LayerNorm), not the same bits.
"""
import copy
import os.path as osp
import pickle
import sys

import mmdet
import mmseg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from convnext_dense import ConvNeXt
from convnext_dense.checkpoint_layouts import load_model_checkpoint
from helpers import DET_DEMO, NO_PRETRAINED, SEG_DEMO, mmpretrain_models, perturb, run_tool

MMDET_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'convnext')
ATTO_DIMS = [40, 80, 160, 320]
# mmdet's and mmseg's own configs name mmpretrain's ConvNeXt so (mmdet's ConvNeXt-V2 project:
# the same with use_grn=True, layer_scale_init_value=0.)
MMPRETRAIN_ATTO = dict(type='mmpretrain.ConvNeXt', arch='atto', out_indices=[0, 1, 2, 3],
                       drop_path_rate=0., layer_scale_init_value=1.0,
                       gap_before_final_norm=False, init_cfg=None)


def assert_same(ours, theirs, rel=1e-4):
    """Equal up to ``rel`` times the largest magnitude (different operation order)."""
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=rel * float(b.abs().max()))


def stage_outputs(model: ConvNeXt, x: torch.Tensor):
    """Our four stage outputs before the output norms (what classifiers' features are)."""
    outs = []
    for i in range(4):
        x = model.stages[i](model.downsample_layers[i](x))
        outs.append(x)
    return outs


def pretrained(checkpoint, **kwargs) -> ConvNeXt:
    model = ConvNeXt(arch=kwargs.pop('arch', 'atto'), init_cfg=dict(
        type='Pretrained', checkpoint=str(checkpoint)), **kwargs)
    model.init_weights()
    return model.eval()


def small_test_images(cfg: Config, scale=(160, 128)) -> Config:
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = scale
    return cfg


def build(scope: str, cfg_model: dict):
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return revert_sync_batchnorm(MODELS.build(cfg_model))


def shrink_heads(cfg_model) -> None:
    """The recipe's 256/1024-channel neck and heads at an eighth (the same classes and
    names, seconds instead of minutes on a CPU), in place."""
    if isinstance(cfg_model, (list, tuple)):
        for item in cfg_model:
            shrink_heads(item)
    elif isinstance(cfg_model, dict):
        for key, value in cfg_model.items():
            if key.endswith('channels') and value in (256, 1024):
                cfg_model[key] = value // 8
            elif key != 'backbone':
                shrink_heads(value)


def mmdet_own_model(config_name: str, **backbone):
    """mmdet's own ConvNeXt config (mmpretrain's backbone), atto-sized, perturbed."""
    mmpretrain_models()
    cfg = small_test_images(Config.fromfile(osp.join(MMDET_CONFIGS, config_name)))
    cfg.model.backbone.update(arch='atto', init_cfg=None, **backbone)
    cfg.model.neck.in_channels = ATTO_DIMS
    shrink_heads(cfg.model)
    # less noise than the backbones' tests: box deltas go through exp()
    model = perturb(build('mmdet', cfg.model), scale=0.02)
    model.cfg = cfg
    return model


def our_det_config(path: str, **backbone) -> Config:
    cfg = small_test_images(Config.fromfile(path))
    cfg.model.backbone.update(arch='atto', init_cfg=None, **backbone)
    cfg.model.neck.in_channels = ATTO_DIMS
    shrink_heads(cfg.model)
    return cfg


def save_release(model, path, **meta):
    """As mmdet 3 / mmseg 1 publish a model: weights and the dataset's classes."""
    torch.save({'meta': dict(dataset_meta=dict(classes=tuple(f'c{i}' for i in range(80))),
                             **meta), 'state_dict': model.state_dict()}, path)


def same_detections(ours, theirs, rel=1e-3):
    """Each detection has its twin (class, box within ``rel`` of the image size, score within
    ``rel``) in order-insensitive matching: near-equal scores may swap places. At most one
    may differ at the per-image cut-off (max_per_img) or an NMS threshold."""
    ours, theirs = ours.pred_instances, theirs.pred_instances
    assert len(theirs) > 10 and abs(len(ours) - len(theirs)) <= 1
    box_tol = rel * float(theirs.bboxes.abs().max())
    twins = ((ours.labels[:, None] == theirs.labels[None])
             & ((ours.bboxes[:, None] - theirs.bboxes[None]).abs().amax(-1) <= box_tol)
             & ((ours.scores[:, None] - theirs.scores[None]).abs() <= rel))
    assert int((~twins.any(1)).sum()) <= 1 and int((~twins.any(0)).sum()) <= 1, (
        int((~twins.any(1)).sum()), len(ours))


# ---------------------------------------------------------------- transformers beside mmdet
IMPORT_EVERYTHING = r'''
import glob, importlib.util, os.path as osp, sys
import transformers
from packaging.version import Version
assert Version(transformers.__version__) >= Version('4.56'), transformers.__version__
import mmdet, mmdet.models, mmseg.models, convnext_dense.detection, convnext_dense.segmentation
from mmdet.apis import DetInferencer, init_detector
from mmseg.apis import MMSegInferencer, init_model
sys.path[:0] = ['tools']
mmdet_tools = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools')
for path in sorted(glob.glob('tools/*.py')) + [osp.join(mmdet_tools, 'train.py'),
                                               osp.join(mmdet_tools, 'test.py')]:
    spec = importlib.util.spec_from_file_location('tool_' + osp.basename(path)[:-3], path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print('imported with transformers', transformers.__version__)
'''


def test_transformers_mmdet_mmseg_and_the_tools_import_together():
    """mmdet's ReID preprocessor imports mmpretrain when it is installed, and mmpretrain 1.2
    breaks beside transformers >= 4.56: the tests extra brings transformers, the default install
    no mmpretrain (tools/install.sh removes one that breaks mmdet)."""
    result = run_tool('-c', IMPORT_EVERYTHING)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'imported with transformers' in result.stdout


# ---------------------------------------------------------------- mmdet 3 / mmseg 1 releases
@pytest.mark.parametrize('theirs, ours, backbone', [
    ('mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
     'configs/mask_rcnn_convnext_t_fpn_3x_coco.py', {}),
    ('cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',
     'configs/cascade_mask_rcnn_convnext_t_fpn_3x_coco.py', {}),
    # mmdet's projects/ConvNeXt-V2: its Mask R-CNN with mmpretrain's ConvNeXt-V2 (GRN)
    ('mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
     'configs/mask_rcnn_convnext_v2_b_fpn_lsj_3x_fcmae_coco.py',
     dict(use_grn=True, layer_scale_init_value=0.)),
], ids=['mask_rcnn', 'cascade', 'v2'])
def test_mmdet_release_gives_mmdets_detections_in_our_config(tmp_path, theirs, ours, backbone):
    """Through mmdet's own API (init_detector; DetInferencer loads the same way), and for V2
    through this project's loading (tools/test.py, infer.py, export.py, load_from, --resume),
    whose coverage check must see the translated names and let the file through."""
    from mmdet.apis import inference_detector, init_detector
    source = mmdet_own_model(theirs, **backbone)
    save_release(source, tmp_path / 'release.pth')
    cfg = our_det_config(ours, **backbone)
    if backbone:
        model = build('mmdet', cfg.model).eval()
        load_model_checkpoint(model, str(tmp_path / 'release.pth'))
        model.cfg = cfg
    else:
        model = init_detector(cfg, str(tmp_path / 'release.pth'), device='cpu')
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        assert_same(model.extract_feat(x), source.extract_feat(x))
        same_detections(inference_detector(model, image), inference_detector(source, image))


def test_official_2022_release_naming_loads(tmp_path):
    """facebookresearch/ConvNeXt's detectors (mmdet 2.x): the official backbone names under
    ``backbone.``, mmdet 2.x heads (the same names as mmdet 3's: mmdet 3.3's and mmseg 1.2's
    metafiles serve their 2022 checkpoints, mmdet v2.0 / mmseg v0.5, unchanged), the classes in
    ``meta['CLASSES']`` and an optimizer state."""
    from mmdet.apis import init_detector
    source = mmdet_own_model('mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py')
    official = {k.replace('depthwise_conv', 'dwconv').replace('pointwise_conv', 'pwconv'): v
                for k, v in source.state_dict().items()}
    torch.save({'meta': {'CLASSES': tuple(f'c{i}' for i in range(80)), 'mmdet_version': '2.23.0'},
                'state_dict': official, 'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-4}]}},
               tmp_path / 'official.pth')
    model = init_detector(our_det_config('configs/mask_rcnn_convnext_t_fpn_3x_coco.py'),
                          str(tmp_path / 'official.pth'), device='cpu')
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert_same(model.extract_feat(x), source.extract_feat(x))


def test_mmseg_release_gives_mmsegs_logits_in_our_config(tmp_path):
    from mmseg.apis import init_model
    mmpretrain_models()
    theirs = Config.fromfile(osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', 'convnext',
                                      'convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'))
    theirs.model.backbone.update(arch='atto', init_cfg=None)
    theirs.model.decode_head.in_channels = ATTO_DIMS
    theirs.model.auxiliary_head.in_channels = ATTO_DIMS[2]
    source = perturb(build('mmseg', theirs.model))
    save_release(source, tmp_path / 'release.pth')
    ours = Config.fromfile('configs/upernet_convnext_t_ade20k.py')
    ours.model.backbone.update(arch='atto', init_cfg=None)
    ours.model.decode_head.in_channels = ATTO_DIMS
    ours.model.auxiliary_head.in_channels = ATTO_DIMS[2]
    model = init_model(ours, str(tmp_path / 'release.pth'), device='cpu')
    x, metas = torch.randn(1, 3, 64, 96), [dict(img_shape=(64, 96), ori_shape=(64, 96))]
    with torch.no_grad():
        assert_same([model.encode_decode(x, metas)], [source.encode_decode(x, metas)])


# ---------------------------------------------------------------- through the tools
def demo_model_with_mmpretrain_backbone(num_classes=5):
    """The detection demo config as mmdet's own configs build it (mmpretrain's backbone)."""
    mmpretrain_models()
    cfg = Config.fromfile(DET_DEMO)
    cfg.model.backbone = dict(MMPRETRAIN_ATTO)
    cfg.model.roi_head.bbox_head.num_classes = num_classes
    cfg.model.roi_head.mask_head.num_classes = num_classes
    return perturb(build('mmdet', cfg.model), scale=0.02), cfg


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    from cpu_demo.synthetic_data import write_coco_dataset
    root = tmp_path_factory.mktemp('synthetic_coco')
    write_coco_dataset(str(root), num_train=4, num_val=2, image_size=96, seed=1)
    return str(root)


LOADERS = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
           'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def test_tools_test_gives_the_releases_own_detections(tmp_path, tiny_coco):
    """tools/test.py on a checkpoint with mmpretrain's backbone names: mmdet's model's own
    predictions on the test set, exit 0."""
    from mmengine.runner import Runner
    source, cfg = demo_model_with_mmpretrain_backbone()
    save_release(source, tmp_path / 'release.pth')
    result = run_tool('tools/test.py', DET_DEMO, tmp_path / 'release.pth', '--data-root',
                      tiny_coco, '--work-dir', tmp_path, '--out', tmp_path / 'preds.pkl',
                      '--cfg-options', NO_PRETRAINED, *LOADERS)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        predicted = pickle.load(f)
    cfg.test_dataloader.dataset.data_root = tiny_coco
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    with DefaultScope.overwrite_default_scope('mmdet'), torch.no_grad():
        batches = list(Runner.build_dataloader(copy.deepcopy(cfg.test_dataloader)))
        expected = [sample for batch in batches for sample in source.test_step(batch)]
    assert len(predicted) == len(expected) == 2
    for ours, theirs in zip(predicted, expected):
        theirs = theirs.pred_instances
        assert len(theirs) > 0 and len(ours['pred_instances']['scores']) == len(theirs)
        assert_same([ours['pred_instances']['bboxes'], ours['pred_instances']['scores']],
                    [theirs.bboxes, theirs.scores])


def test_fine_tuning_from_another_datasets_release_names_the_skipped_classifier(
        tmp_path, tiny_coco):
    """load_from an 80-class release (mmpretrain's backbone names) into the 5-class demo:
    training runs, the six classifier tensors of another shape are named in one line."""
    source, _ = demo_model_with_mmpretrain_backbone(num_classes=80)
    save_release(source, tmp_path / 'coco_release.pth')
    result = run_tool('tools/train.py', DET_DEMO, '--data-root', tiny_coco, '--work-dir',
                      tmp_path, '--cfg-options', NO_PRETRAINED,
                      f'load_from={tmp_path / "coco_release.pth"}', 'train_cfg.max_epochs=1',
                      'train_dataloader.batch_size=2', *LOADERS)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    lines = [line for line in log.splitlines() if 'tensors of another shape are not loaded' in line]
    assert len(lines) == 1, log[-3000:]
    assert '6 tensors' in lines[0]
    for name in ('roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_reg.weight',
                 'roi_head.mask_head.conv_logits.weight'):
        assert name in lines[0]
    assert 'missing keys' not in log and 'unexpected key' not in log
    assert osp.isfile(tmp_path / 'epoch_1.pth')


# ---------------------------------------------------------------- transformers backbones
def hf_backbones():
    import transformers as hf
    atto = dict(depths=[2, 2, 6, 2], hidden_sizes=ATTO_DIMS)
    stages = dict(out_features=['stage1', 'stage2', 'stage3', 'stage4'])
    return {
        'ConvNextModel': (hf.ConvNextModel(hf.ConvNextConfig(**atto)), {}),
        'ConvNextV2Model': (hf.ConvNextV2Model(hf.ConvNextV2Config(**atto)),
                            dict(use_grn=True, layer_scale_init_value=0.)),
        'ConvNextBackbone': (hf.ConvNextBackbone(hf.ConvNextConfig(**atto, **stages)), {}),
        'DINOv3ConvNextModel': (hf.DINOv3ConvNextModel(hf.DINOv3ConvNextConfig(**atto)), {}),
    }


@pytest.mark.parametrize('name', ['ConvNextModel', 'ConvNextV2Model', 'ConvNextBackbone',
                                  'DINOv3ConvNextModel'])
def test_transformers_model_directory_is_a_pretrained_backbone(tmp_path, name):
    source, backbone = hf_backbones()[name]
    perturb(source).save_pretrained(tmp_path / 'hf')  # config.json + model.safetensors
    torch.save(source.state_dict(), tmp_path / 'pytorch_model.bin')  # the older file name
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = source(x, output_hidden_states=True)
        for checkpoint in (tmp_path / 'hf', tmp_path / 'pytorch_model.bin'):
            model = pretrained(checkpoint, **backbone)
            if name == 'ConvNextBackbone':  # with its trained output norms: our norm0..3
                assert_same(model(x), out.feature_maps)
            else:
                assert_same(stage_outputs(model, x), out.hidden_states[-4:])


def test_timm_dinov3_tag_is_the_plain_convnext_and_loads(tmp_path):
    """timm's convnext_*.dinov3_lvd1689m: timm's ConvNeXt class with V1 blocks (layer scale,
    LayerNorm eps 1e-6, biases, 4x4 stem), saved as timm's hub directories are."""
    import timm
    from timm.models._hub import save_for_hf
    source = perturb(timm.create_model('convnext_tiny.dinov3_lvd1689m', pretrained=False))
    assert source.pretrained_cfg['license'] == 'dinov3-license'
    save_for_hf(source, str(tmp_path / 'timm'), safe_serialization=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_same(stage_outputs(pretrained(tmp_path / 'timm', arch='tiny'), x),
                    source.forward_intermediates(x, intermediates_only=True))


def test_open_clip_convnext_tower_is_a_pretrained_backbone(tmp_path):
    """open_clip's ConvNeXt CLIP (its model_configs/convnext_*.json: a timm trunk), saved as
    open_clip's hub files are; the text tower and projection are not the backbone's."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    from safetensors.torch import save_file
    source = perturb(CLIP(embed_dim=32, vision_cfg=CLIPVisionCfg(
        timm_model_name='convnext_atto', timm_model_pretrained=False, timm_pool='',
        timm_proj='linear', image_size=64), text_cfg=CLIPTextCfg(
        context_length=8, vocab_size=64, width=32, heads=2, layers=1)))
    torch.save(source.state_dict(), tmp_path / 'open_clip_pytorch_model.bin')
    (tmp_path / 'hub').mkdir()
    save_file({k: v.contiguous() for k, v in source.state_dict().items()},
              tmp_path / 'hub' / 'open_clip_model.safetensors')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = source.visual.trunk.forward_intermediates(x, intermediates_only=True)
        for checkpoint in (tmp_path / 'open_clip_pytorch_model.bin', tmp_path / 'hub'):
            assert_same(stage_outputs(pretrained(checkpoint), x), expected)


# ---------------------------------------------------------------- transformers UperNet
def test_transformers_upernet_converts_both_ways_with_equal_logits(tmp_path, monkeypatch,
                                                                   capsys):
    """openmmlab/upernet-convnext-* layout -> an mmseg checkpoint for our UperNet config, and
    our trained UperNet -> a directory UperNetForSemanticSegmentation.from_pretrained loads."""
    import transformers as hf
    from mmseg.apis import init_model
    classes = ['background', 'circle', 'triangle', 'square', 'star', 'cross']
    config = hf.UperNetConfig(
        backbone_config=hf.ConvNextConfig(depths=[2, 2, 6, 2], hidden_sizes=ATTO_DIMS,
                                          out_features=['stage1', 'stage2', 'stage3', 'stage4']),
        hidden_size=64, auxiliary_channels=32, num_labels=6, id2label=dict(enumerate(classes)))
    source = perturb(hf.UperNetForSemanticSegmentation(config))
    source.save_pretrained(tmp_path / 'hf')
    result = run_tool('tools/convert_checkpoint.py', tmp_path / 'hf', tmp_path / 'ours.pth')
    assert result.returncode == 0, result.stderr[-3000:]
    assert '6 classes from id2label' in result.stdout
    assert '6 differ from the ADE20K configs' in result.stdout  # these are not ADE20K's names
    checkpoint = torch.load(tmp_path / 'ours.pth', weights_only=True)
    assert checkpoint['meta']['dataset_meta']['classes'] == classes

    cfg = Config.fromfile(SEG_DEMO)  # UperNet ConvNeXt-atto, 64/32-channel heads, 6 classes
    cfg.model.backbone.init_cfg = None
    model = init_model(cfg, str(tmp_path / 'ours.pth'), device='cpu')
    x, metas = torch.randn(1, 3, 64, 96), [dict(img_shape=(64, 96), ori_shape=(64, 96))]
    with torch.no_grad():
        logits = model.encode_decode(x, metas)
        assert_same([logits], [source(pixel_values=x).logits])

    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {
        'classes': ('bg', 'a', 'b', 'c', 'd', 'e')}}}, tmp_path / 'trained.pth')
    import convert_checkpoint  # tools/ (in-process: a second interpreter costs 10 s here)
    monkeypatch.setattr(sys, 'argv', ['convert_checkpoint.py', str(tmp_path / 'trained.pth'),
                                      str(tmp_path / 'back'), '--to', 'hf'])
    convert_checkpoint.main()
    assert 'UperNet ConvNeXt-atto, 6 classes' in capsys.readouterr().out
    back = hf.UperNetForSemanticSegmentation.from_pretrained(str(tmp_path / 'back')).eval()
    assert back.config.id2label == dict(enumerate(('bg', 'a', 'b', 'c', 'd', 'e')))
    with torch.no_grad():
        assert_same([back(pixel_values=x).logits], [logits])


# ---------------------------------------------------------------- DINOv3 configs, refusals
@pytest.mark.parametrize('name, base', [
    ('upernet_convnext_b_dinov3_ade20k_640', 'upernet_convnext_b_in22k_ade20k_640'),
    ('cascade_mask_rcnn_convnext_b_dinov3_fpn_3x_coco',
     'cascade_mask_rcnn_convnext_b_in22k_fpn_3x_coco'),
    ('dino_4scale_convnext_b_dinov3_12e_coco', 'dino_4scale_convnext_b_in22k_12e_coco'),
])
def test_dinov3_configs_are_the_convnext_b_recipe_with_dinov3_weights(name, base):
    path = osp.join('configs', 'dinov3', name + '.py')
    cfg, recipe = Config.fromfile(path), Config.fromfile(osp.join('configs', base + '.py'))
    assert 'dinov3-license' in open(path).read()
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('convnext_base.dinov3_lvd1689m/'
                                                           'model.safetensors')
    assert 'huggingface-cli download timm/convnext_base.dinov3_lvd1689m' in cfg.checkpoint_hint
    cfg.model.backbone.init_cfg = recipe.model.backbone.init_cfg
    assert cfg.model == recipe.model and cfg.optim_wrapper == recipe.optim_wrapper
    assert cfg.param_scheduler == recipe.param_scheduler


def test_a_backbone_in_no_known_layout_is_refused_before_loading(tmp_path):
    """Our own detector's checkpoint with ``backbone.`` renamed ``backbone.body.``: one line
    that counts what would stay unloaded and says no known layout was seen."""
    from convnext_dense.checkpoint import CheckpointError
    source, cfg = demo_model_with_mmpretrain_backbone()
    state = {k.replace('backbone.', 'backbone.body.'): v for k, v in source.state_dict().items()}
    cfg.model.backbone = Config.fromfile(DET_DEMO).model.backbone
    cfg.model.backbone.init_cfg = None
    model = build('mmdet', cfg.model)
    with pytest.raises(CheckpointError, match=r'132 of its \d+ tensors \(132 of backbone\) would '
                                              r'stay unloaded.*\(no known ConvNeXt layout\)'):
        load_model_checkpoint(model, {'state_dict': state}, source='renamed.pth')
