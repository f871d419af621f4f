"""Mixed precision on a CPU (convnext_dense/amp.py): the recipes' ``convnext_dense.AmpOptimWrapper``
trains Mask R-CNN, Cascade Mask R-CNN and UperNet under bf16 autocast through tools/train.py,
fp16 is refused on a CPU without AMX-FP16 and (where allowed) its loss scale survives a resume,
mmcv's RoIAlign and NMS run in fp32 inside the wrapper's fp32 islands, and the channels-first
LayerNorms stay finite on large fp16 activations.

Host kinds: the wrapper's automatic dtype follows ``torch.cpu.get_capabilities()`` (bf16 on
AVX512-BF16/AMX hosts, fp32 on AVX2 hosts). Tests that state what holds on each kind either
compute the expectation from the capabilities or set them (``monkeypatch``) to exercise both.

The training runs call tools/train.py's ``main`` in this process (one import of mmdet and mmseg
for all of them) on the real configs with ConvNeXt-atto, 64-pixel images and slim heads: this
CPU may emulate bf16/fp16 (no AVX512-BF16 or AMX), tens of times slower than fp32.
"""
import os.path as osp
import runpy
import sys
from typing import Dict, List

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import HOOKS, MODELS, init_default_scope
from timm.layers import LayerNorm2d

import convnext_dense  # noqa: F401
from convnext_dense import ConvNeXt
from convnext_dense.amp import AmpOptimWrapper, fp32_islands, native_bf16
from convnext_dense.checkpoint import load_checkpoint_file
from cpu_demo.synthetic_data import CLASSES, write_ade20k_dataset, write_coco_dataset

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN_MAIN = runpy.run_path(osp.join(REPO, 'tools/train.py'))['main']
WIDTH = 32  # FPN / head channels of the slimmed recipes
RUNS: List[Dict] = []


@HOOKS.register_module(force=True)
class AmpProbeHook(Hook):
    """Records the dtypes of a backbone activation (a block's first pointwise conv), the
    losses and the wrapper's loss scale."""

    def before_train(self, runner) -> None:
        self.run = dict(dtypes=set(), losses=[], wrapper=runner.optim_wrapper,
                        scale_at_start=runner.optim_wrapper.loss_scaler.get_scale())
        runner.model.backbone.stages[1][0].pwconv1.register_forward_hook(
            lambda module, args, out: self.run['dtypes'].add(out.dtype))
        RUNS.append(self.run)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.run['losses'].append(float(outputs['loss']))

    def after_train(self, runner) -> None:
        self.run['scale'] = runner.optim_wrapper.loss_scaler.get_scale()


@pytest.fixture(autouse=True)
def unformatted_configs(monkeypatch) -> None:
    """MMEngine formats the config with yapf for the log, the work dir and every checkpoint:
    three quarters of a tiny run's time on this CPU. Unformatted text is the same Python."""
    monkeypatch.setattr('mmengine.config.config.FormatCode', lambda text, **kwargs: (text, 0))


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> Dict[str, str]:
    coco, ade = tmp_path_factory.mktemp('coco'), tmp_path_factory.mktemp('ade')
    write_coco_dataset(str(coco), num_train=4, num_val=0, image_size=64, seed=1)
    write_ade20k_dataset(str(ade), num_train=4, num_val=0, image_size=64, seed=1)
    return dict(mmdet=str(coco), mmseg=str(ade))


def slim_detector(cfg: Config) -> None:
    """Slim the heads and sampling: with emulated fp16 the recipe's 256-channel heads on 512
    RoIs take minutes per iteration."""
    model = cfg.model
    model.neck.update(in_channels=[40, 80, 160, 320], out_channels=WIDTH)
    model.rpn_head.update(in_channels=WIDTH, feat_channels=WIDTH)
    roi = model.roi_head
    for extractor in (roi.bbox_roi_extractor, roi.mask_roi_extractor):
        extractor.out_channels = WIDTH
    for head in roi.bbox_head if isinstance(roi.bbox_head, list) else [roi.bbox_head]:
        head.update(in_channels=WIDTH, conv_out_channels=WIDTH, fc_out_channels=64,
                    num_classes=len(CLASSES))
    roi.mask_head.update(in_channels=WIDTH, conv_out_channels=WIDTH, num_classes=len(CLASSES))
    model.train_cfg.rpn.sampler.num = 64
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=50)
    rcnn = model.train_cfg.rcnn
    for stage in rcnn if isinstance(rcnn, list) else [rcnn]:
        stage.sampler.num = 16
    cfg.train_dataloader.dataset.update(metainfo=dict(classes=CLASSES), pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_mask=True),
        dict(type='RandomFlip', prob=0.5), dict(type='PackDetInputs')])
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)


def slim_segmentor(cfg: Config) -> None:
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.decode_head.update(in_channels=[40, 80, 160, 320], channels=WIDTH)
    cfg.model.auxiliary_head.update(in_channels=160, channels=16)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
    cfg.default_hooks.checkpoint.update(by_epoch=False, interval=2)


def tiny_model(name: str) -> Config:
    """The recipe ``configs/NAME`` with ConvNeXt-atto from scratch and slim heads."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    cfg.model.backbone.update(arch='atto', init_cfg=None)
    (slim_detector if cfg.default_scope == 'mmdet' else slim_segmentor)(cfg)
    return cfg


def tiny_recipe(name: str, dtype: str, tmp_path, **optim_wrapper) -> str:
    """:func:`tiny_model` trained on 64-pixel synthetic images, 2 iterations of batch 2,
    autocast to ``dtype``; written to a file for tools/train.py."""
    cfg = tiny_model(name)
    cfg.optim_wrapper.update(dtype=dtype, **optim_wrapper)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='AmpProbeHook')]
    path = str(tmp_path / f'{osp.splitext(name)[0]}_{dtype}.py')
    cfg.dump(path)
    return path


def train(config: str, data_root: str, work_dir, *extra: str) -> Dict:
    argv = sys.argv
    sys.argv = ['tools/train.py', config, '--data-root', data_root, '--work-dir', str(work_dir),
                *extra]
    try:
        TRAIN_MAIN()
    finally:
        sys.argv = argv
    return RUNS[-1]


DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}
RECIPES = {'mask_rcnn_convnext_t_fpn_3x_coco.py': 'mmdet',
           'cascade_mask_rcnn_convnext_t_fpn_3x_coco.py': 'mmdet',
           'upernet_convnext_t_ade20k.py': 'mmseg'}


def cpu_with(monkeypatch, **flags) -> None:
    """Make ``torch.cpu.get_capabilities()`` report ``flags`` (another host kind's)."""
    real = torch.cpu.get_capabilities()
    monkeypatch.setattr(torch.cpu, 'get_capabilities', lambda: {**real, **flags})


# fp16 (allowed on AMX-FP16 CPUs only) trains in test_fp16_resume_restores_the_loss_scale
@pytest.mark.parametrize('name,dtype', [(name, 'bfloat16') for name in RECIPES])
def test_recipe_trains_in_half_precision(name, dtype, data, tmp_path):
    run = train(tiny_recipe(name, dtype, tmp_path), data[RECIPES[name]], tmp_path / 'work')
    assert type(run['wrapper']) is AmpOptimWrapper and run['wrapper'].cast_dtype == DTYPES[dtype]
    assert run['dtypes'] == {DTYPES[dtype]}, 'the backbone did not run in half precision'
    assert len(run['losses']) == 2 and all(map(torch.isfinite, torch.tensor(run['losses'])))
    # the recipes' layer-wise lr decay reaches the optimizer through the AMP wrapper
    scales = {group['lr_scale'] for group in run['wrapper'].optimizer.param_groups}
    assert len(scales) > 3 and max(scales) == 1.0
    assert run['wrapper'].loss_scaler.is_enabled() == (dtype == 'float16')


def test_fp16_is_refused_in_one_line_on_a_cpu_without_amx_fp16(data, tmp_path, monkeypatch,
                                                                 capsys):
    """fp16 autocast on such a CPU ran 8-20x slower than fp32 (bf16-host.md): refused before
    any work, naming what to use. Set to such a CPU, so it holds on every host kind."""
    cpu_with(monkeypatch, amx_fp16=False)
    config = tiny_recipe('mask_rcnn_convnext_t_fpn_3x_coco.py', 'float16', tmp_path)
    with pytest.raises(SystemExit) as exit_:
        train(config, data['mmdet'], tmp_path / 'work')
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "fp16 autocast on this CPU (no AMX-FP16) runs 8-20x slower than fp32; use " \
           "optim_wrapper.dtype='bfloat16'" in error and 'Traceback' not in error
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_fp16_resume_restores_the_loss_scale(data, tmp_path, monkeypatch):
    """Interrupted after epoch 1's checkpoint, the run resumes with the loss scale it had
    reached (the scale doubles after every finite step here), not with a fresh scaler's.
    fp16 needs an AMX-FP16 CPU: this host is set to report one (emulated fp16 is slow, not
    wrong)."""
    cpu_with(monkeypatch, amx_fp16=True)
    name = 'mask_rcnn_convnext_t_fpn_3x_coco.py'
    config = tiny_recipe(name, 'float16', tmp_path,
                         loss_scale=dict(init_scale=256., growth_interval=1))
    first = train(config, data['mmdet'], tmp_path / 'work')
    assert first['dtypes'] == {torch.float16}
    assert all(map(torch.isfinite, torch.tensor(first['losses'])))
    assert first['scale_at_start'] == 256. and first['scale'] != 256.
    saved = load_checkpoint_file(str(tmp_path / 'work' / 'epoch_1.pth'))  # weights only
    assert saved['optimizer']['loss_scaler']['scale'] == first['scale']

    resumed = train(config, data['mmdet'], tmp_path / 'work', '--resume',
                    '--cfg-options', 'train_cfg.max_epochs=2')
    assert resumed['scale_at_start'] == first['scale']
    assert len(resumed['losses']) == 2  # epoch 2 only


@pytest.mark.parametrize('host', ['this_cpu', 'bf16_native_cpu', 'avx2_only_cpu'])
def test_recipe_wrapper_is_ours_in_every_scope_and_follows_the_cpu(host, monkeypatch):
    """``type='convnext_dense.AmpOptimWrapper'`` as the recipes write it, with their layer-decay
    constructor; ``dtype=None`` gives bf16 where the CPU has native bf16 and fp32 elsewhere.
    What computes in bf16 is the backbone's convolutions and linears; its output LayerNorms
    return fp32 under CPU autocast on every host."""
    if host == 'bf16_native_cpu':
        cpu_with(monkeypatch, avx512_bf16=True)
    elif host == 'avx2_only_cpu':
        cpu_with(monkeypatch, avx512_bf16=False, amx_bf16=False, bf16=False)
    expected = torch.bfloat16 if native_bf16() else torch.float32
    assert (host != 'bf16_native_cpu' or expected == torch.bfloat16) and \
        (host != 'avx2_only_cpu' or expected == torch.float32)
    model = nn.Module()
    model.backbone = ConvNeXt(arch='atto')
    for scope in ('mmdet', 'mmseg'):
        init_default_scope(scope)
        wrapper = build_optim_wrapper(model, dict(
            type='convnext_dense.AmpOptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
            constructor='convnext_dense.LayerDecayOptimizerConstructor',
            paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6)))
        assert type(wrapper) is AmpOptimWrapper and not wrapper.loss_scaler.is_enabled()
        assert wrapper.cast_dtype == expected
        assert len({g['lr_scale'] for g in wrapper.optimizer.param_groups}) == 6
    seen = set()
    model.backbone.stages[1][0].pwconv1.register_forward_hook(
        lambda module, args, out: seen.add(out.dtype))
    with wrapper.optim_context(model):
        out = model.backbone(torch.randn(1, 3, 64, 64))[0]
    assert seen == {expected}
    assert out.dtype == torch.float32  # the output norm (F.layer_norm autocasts to fp32)


def test_mmengine_amp_wrapper_is_left_as_it_is():
    """``type='AmpOptimWrapper'`` stays MMEngine's class in every scope: the package does not
    take over MMEngine's registry entry."""
    from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
    from mmengine.registry import OPTIM_WRAPPERS
    for scope in ('mmdet', 'mmseg', 'mmengine'):
        init_default_scope(scope)
        assert OPTIM_WRAPPERS.get('AmpOptimWrapper') is MMEngineAmpOptimWrapper


# -------------------------------------------------------------------- ops kept in fp32

def rois_on(height: int, width: int, count: int = 20) -> torch.Tensor:
    torch.manual_seed(0)
    xy = torch.rand(count, 2) * torch.tensor([width * 0.6, height * 0.6])
    wh = 8 + torch.rand(count, 2) * torch.tensor([width * 0.3, height * 0.3])
    return torch.cat([torch.randint(0, 2, (count, 1)).float(), xy, xy + wh], 1)


@pytest.mark.parametrize('dtype', sorted(DTYPES))
def test_mmcv_roi_align_runs_in_fp32_on_contiguous_memory(dtype):
    from mmcv.ops import RoIAlign
    layer = RoIAlign((7, 7), spatial_scale=0.25, sampling_ratio=0, aligned=True)
    feats = torch.randn(2, 16, 24, 32).to(DTYPES[dtype])
    rois = rois_on(96, 128)
    expected = layer(feats.float(), rois)
    # channels-last half-precision maps, as a conv may return them under autocast: mmcv's
    # kernel has no bf16 and would misread this layout (mmcv#2203)
    feats_cl = feats.contiguous(memory_format=torch.channels_last).requires_grad_()
    forward = RoIAlign.forward
    with fp32_islands(), torch.autocast('cpu', dtype=DTYPES[dtype]):
        out = layer(feats_cl, rois)
    assert RoIAlign.forward is forward  # as it was, outside the islands
    assert out.dtype == torch.float32 and torch.equal(out, expected)
    out.sum().backward()
    assert feats_cl.grad.dtype == DTYPES[dtype] and torch.isfinite(feats_cl.grad.float()).all()


@pytest.mark.parametrize('dtype', sorted(DTYPES))
def test_mmcv_nms_runs_in_fp32(dtype):
    from mmcv.ops import nms
    boxes = (rois_on(600, 800, 200)[:, 1:] * 1.5).to(DTYPES[dtype])
    scores = torch.rand(200).to(DTYPES[dtype])
    _, expected = nms(boxes.float(), scores.float(), 0.5)
    with fp32_islands(), torch.autocast('cpu', dtype=DTYPES[dtype]):
        _, keep = nms(boxes, scores, 0.5)  # mmcv's CPU kernel reads fp32 memory only
    assert torch.equal(keep, expected)


@pytest.mark.parametrize('name', [n for n, scope in RECIPES.items() if scope == 'mmdet'])
def test_detector_post_processes_boxes_in_fp32(name):
    """mmdet's anchors, proposals, RoIs and boxes would be bf16 (8-pixel steps at 1216 px) and
    its predictions could not become numpy arrays; the features still run in bf16."""
    from mmdet.structures import DetDataSample
    init_default_scope('mmdet')
    model = revert_sync_batchnorm(MODELS.build(tiny_model(name).model)).eval()
    seen = {}
    model.neck.register_forward_hook(lambda module, args, out: seen.update(dtype=out[0].dtype))
    image = torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8)
    sample = DetDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128),
                                         scale_factor=(1., 1.)))
    data = model.data_preprocessor({'inputs': [image], 'data_samples': [sample]}, False)
    with torch.no_grad(), fp32_islands(), torch.autocast('cpu', dtype=torch.bfloat16):
        predictions = model(**data, mode='predict')[0].pred_instances
    assert seen['dtype'] == torch.bfloat16 and len(predictions) > 0
    assert predictions.bboxes.dtype == predictions.scores.dtype == torch.float32
    assert np.isfinite(predictions.bboxes.numpy()).all()


# ---------------------------------------------------------------- LayerNorms in fp16

def test_channels_first_layernorms_stay_finite_on_large_fp16_activations():
    """Activations of ~1e3: a hand-written fp16 variance (x.pow(2).mean()) overflows at 65504;
    timm's LayerNorm2d (the backbone's downsample and output norms) and the blocks'
    nn.LayerNorm go through F.layer_norm, which accumulates in fp32."""
    torch.manual_seed(0)
    x = (torch.randn(2, 40, 16, 16) * 1e3).half()
    assert not torch.isfinite(x.pow(2).mean(1)).all()  # the overflow this guards against
    norm = LayerNorm2d(40, eps=1e-6)
    with torch.autocast('cpu', dtype=torch.float16):
        out = norm(x)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), norm(x.float()), atol=2e-2, rtol=1e-2)

    # in the backbone: the stem's norm gets the fp16 conv output (the residual stream after
    # it is fp32: layer scale's fp32 gamma promotes it, as in timm)
    backbone, seen = ConvNeXt(arch='atto').eval(), {}
    backbone.downsample_layers[0][1].register_forward_hook(
        lambda module, args, out: seen.update(x=args[0], out=out))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.float16):
        outs = backbone(torch.randn(1, 3, 64, 64) * 3000)
    assert seen['x'].dtype == torch.float16 and seen['x'].abs().max() > 1e3
    assert torch.isfinite(seen['out']).all() and all(torch.isfinite(o).all() for o in outs)
