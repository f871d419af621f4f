"""ConvNeXt-V2: timm equivalence, trunk sizes, every V2 checkpoint layout, the V1/V2 mismatch
error, layer decay of the GRN parameters, and the V2 configs."""
import copy
import functools
import os.path as osp
import runpy
import sys

import pytest
import timm
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from safetensors.torch import save_file

import convnext_dense  # noqa: F401
from convnext_dense import ARCH_SETTINGS, ConvNeXt, convert_to_official, detect_layout
from convnext_dense.checkpoint import CheckpointError
from convert_checkpoint import convert_checkpoint  # tools/
from helpers import mmpretrain_atto_checkpoint

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
V2 = dict(use_grn=True, layer_scale_init_value=0.)
# recipes.md: parameters without classifier head and final norm
TRUNK_PARAMS = {'atto': 3_386_760, 'tiny': 27_864_960, 'base': 87_690_752,
                'large': 196_416_768, 'huge': 657_467_008}
FAIR_V2 = 'https://dl.fbaipublicfiles.com/convnext/convnextv2/'


def random_timm_v2(arch: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = timm.create_model(f'convnextv2_{arch}', num_classes=10).eval()
    for p in model.parameters():  # non-trivial weights everywhere, GRN and norms included
        p.data.normal_(0, 0.05)
    return model


def random_v2_backbone(seed: int = 0) -> ConvNeXt:
    torch.manual_seed(seed)
    model = ConvNeXt(arch='atto', **V2)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    return model


def pretrained(path, **kwargs) -> ConvNeXt:
    model = ConvNeXt(arch='atto', init_cfg=dict(type='Pretrained', checkpoint=str(path)),
                     **{**V2, **kwargs})
    model.init_weights()
    return model


def trunk_state(model: ConvNeXt) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith('norm')}


def assert_same_trunk(model: ConvNeXt, source: ConvNeXt) -> None:
    got = trunk_state(model)
    assert got.keys() == trunk_state(source).keys()
    for key, value in trunk_state(source).items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


# ------------------------------------------------------------------ backbone
@pytest.mark.parametrize('arch', list(TRUNK_PARAMS))
def test_trunk_parameter_counts_match_timm_and_the_reference(arch):
    with torch.device('meta'):
        ours = ConvNeXt(arch=arch, out_indices=(), **V2)  # no output norms
        theirs = timm.create_model(f'convnextv2_{arch}', num_classes=0)
    timm_trunk = sum(p.numel() for n, p in theirs.named_parameters()
                     if not n.startswith('head.'))  # head.norm: the classifier's final norm
    assert sum(p.numel() for p in ours.parameters()) == timm_trunk == TRUNK_PARAMS[arch]


@pytest.mark.parametrize('arch', ['atto', 'tiny'])
def test_stage_outputs_match_timm(arch):
    reference = random_timm_v2(arch)
    model = ConvNeXt(arch=arch, **V2).eval()
    state_dict, layout = convert_to_official(reference.state_dict())
    assert layout == 'timm' and state_dict['stages.2.1.grn.gamma'].ndim == 1
    result = model.load_state_dict(state_dict, strict=False)
    assert not result.unexpected_keys
    assert sorted(result.missing_keys) == [f'norm{i}.{p}' for i in range(4)
                                           for p in ('bias', 'weight')]
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        got = model(x)  # output norms at their identity init: compare with a plain LayerNorm
    for g, e in zip(got, expected):
        e = F.layer_norm(e.permute(0, 2, 3, 1), e.shape[1:2], eps=1e-6).permute(0, 3, 1, 2)
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_grn_params_are_1d_and_no_layer_scale():
    model = ConvNeXt(arch='atto', **V2)
    assert model.stages[1][0].grn.gamma.shape == model.stages[1][0].grn.beta.shape == (320,)
    assert not any(k.endswith('.gamma') and '.grn.' not in k for k in model.state_dict())


# ------------------------------------------------------------------ checkpoint layouts
def fair_v2_state(source: ConvNeXt) -> dict:
    """The official layout: GRN params (1, 1, 1, 4C), no output norms."""
    return {k: v.reshape(1, 1, 1, -1) if '.grn.' in k else v
            for k, v in trunk_state(source).items()}


def test_official_finetuned_checkpoint_loads(tmp_path):
    source = random_v2_backbone()
    sd = fair_v2_state(source)
    sd.update({'norm.weight': torch.ones(320), 'norm.bias': torch.zeros(320),
               'head.weight': torch.zeros(1000, 320), 'head.bias': torch.zeros(1000)})
    torch.save({'model': sd}, tmp_path / 'convnextv2_atto_1k_224_ema.pt')
    assert detect_layout(sd) == 'official'
    assert_same_trunk(pretrained(tmp_path / 'convnextv2_atto_1k_224_ema.pt'), source)


def test_fcmae_dense_checkpoint_loads(tmp_path):
    source = random_v2_backbone()
    torch.save({'model': fair_v2_state(source)}, tmp_path / 'convnextv2_atto_1k_224_fcmae.pt')
    assert_same_trunk(pretrained(tmp_path / 'convnextv2_atto_1k_224_fcmae.pt'), source)


def to_sparse_kernel(weight: torch.Tensor) -> torch.Tensor:
    """Inverse of the official remap: conv weight (out, in, k, k) -> MinkowskiEngine kernel
    (k*k, in, out); depthwise (C, 1, k, k) -> (k*k, C)."""
    out_dim, in_dim, k, _ = weight.shape
    kernel = weight.transpose(3, 2).reshape(out_dim, in_dim, k * k).permute(2, 1, 0)
    return kernel[:, 0, :] if in_dim == 1 else kernel


def fcmae_sparse_state(source: ConvNeXt) -> dict:
    """A pre-training state as FCMAE writes it: ``encoder.`` prefix, sparse kernels and (1, C)
    biases after the stem, ``ln``/``linear`` wrappers, GRN (1, 4C), and the decoder side."""
    sd = {}
    for key, value in trunk_state(source).items():
        parts = key.split('.')
        downsample = parts[0] == 'downsample_layers' and parts[1] != '0'  # the stem is dense
        wrapper = {'norm': 'ln', 'pwconv1': 'linear', 'pwconv2': 'linear'}.get(parts[-2])
        if downsample and parts[2] == '0':
            wrapper = 'ln'
        if (downsample and parts[2] == '1') or parts[-2] == 'dwconv':
            if parts[-1] == 'weight':
                key, value = key[:-len('weight')] + 'kernel', to_sparse_kernel(value)
            else:
                value = value.reshape(1, -1)
        elif wrapper:
            key = '.'.join(parts[:-1] + [wrapper, parts[-1]])
        elif parts[-2] == 'grn':
            value = value.reshape(1, -1)
        sd[f'encoder.{key}'] = value
    sd.update({'mask_token': torch.zeros(1, 512, 1, 1), 'proj.weight': torch.zeros(512, 320, 1, 1),
               'decoder.0.dwconv.weight': torch.zeros(512, 1, 7, 7),
               'pred.weight': torch.zeros(3072, 512, 1, 1)})
    return sd


def test_sparse_kernel_layout_is_the_official_one():
    # official remap: weight[c, 0, h, w] = kernel[w * k + h, c] (the transpose(3, 2))
    kernel = torch.arange(49 * 2.).reshape(49, 2)
    sd = convert_to_official({'encoder.stages.0.0.dwconv.kernel': kernel})[0]
    assert sd['stages.0.0.dwconv.weight'][1, 0, 2, 5] == kernel[5 * 7 + 2, 1]


def test_fcmae_sparse_checkpoint_with_encoder_prefix_and_decoder_loads(tmp_path):
    source = random_v2_backbone()
    sd = fcmae_sparse_state(source)
    assert any(k.endswith('.ln.weight') for k in sd) and any('.linear.' in k for k in sd)
    assert detect_layout(sd) == 'fcmae'
    torch.save({'model': sd}, tmp_path / 'checkpoint-1599.pth')
    assert_same_trunk(pretrained(tmp_path / 'checkpoint-1599.pth'), source)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_timm_checkpoint_loads_and_runs_like_timm(tmp_path, suffix):
    reference = random_timm_v2('atto')
    assert reference.state_dict()['stages.0.blocks.0.mlp.fc1.weight'].ndim == 4  # conv MLP
    path = tmp_path / f'convnextv2_atto{suffix}'
    sd = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(sd, str(path)) if suffix == '.safetensors' else torch.save(sd, path)
    model = pretrained(path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = x
        for i in range(4):
            ours = model.stages[i](model.downsample_layers[i](ours))
        theirs = reference.forward_intermediates(x, intermediates_only=True)[-1]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_mmpretrain_v2_checkpoint_loads(tmp_path):
    classifier = mmpretrain_atto_checkpoint(tmp_path / 'mmp.pth', use_grn=True,
                                            layer_scale_init_value=0.)
    model = pretrained(tmp_path / 'mmp.pth')
    theirs = classifier.backbone
    assert theirs.stages[2][4].grn.gamma.shape == (640,)
    torch.testing.assert_close(model.stages[2][4].grn.gamma, theirs.stages[2][4].grn.gamma)
    torch.testing.assert_close(model.stages[3][1].grn.beta, theirs.stages[3][1].grn.beta)
    torch.testing.assert_close(model.stages[1][0].dwconv.weight,
                               theirs.stages[1][0].depthwise_conv.weight)


def test_detector_v2_checkpoint_loads_output_norms(tmp_path):
    source = random_v2_backbone()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}},
               tmp_path / 'det.pth')
    model = pretrained(tmp_path / 'det.pth')
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)


def test_v2_checkpoint_into_v1_model_is_one_line(tmp_path):
    torch.save({'model': fair_v2_state(random_v2_backbone())}, tmp_path / 'v2.pt')
    with pytest.raises(CheckpointError) as info:
        pretrained(tmp_path / 'v2.pt', use_grn=False, layer_scale_init_value=1e-6)
    message = str(info.value)
    assert '\n' not in message
    assert message == (f'{tmp_path / "v2.pt"} holds ConvNeXt-V2 weights (GRN) but the model is '
                       'ConvNeXt V1: set use_grn=True, layer_scale_init_value=0. in the backbone '
                       'config')


def test_v1_checkpoint_into_v2_model_is_one_line(tmp_path):
    torch.save({'model': ConvNeXt(arch='atto').state_dict()}, tmp_path / 'v1.pth')
    with pytest.raises(CheckpointError, match=r'^\S+v1.pth holds ConvNeXt V1 weights \(no GRN\) '
                       r'but the model is ConvNeXt-V2: set use_grn=False, '
                       r'layer_scale_init_value=1e-6 in the backbone config$'):
        pretrained(tmp_path / 'v1.pth')


def test_v2_of_another_arch_names_both(tmp_path):
    torch.save({'model': ConvNeXt(arch='femto', **V2).state_dict()}, tmp_path / 'femto.pt')
    with pytest.raises(CheckpointError,
                       match='ConvNeXt-V2-femto weights but the model is ConvNeXt-V2-atto'):
        pretrained(tmp_path / 'femto.pt')


def test_convert_tool_names_v2(tmp_path, monkeypatch, capsys):
    source = random_v2_backbone()
    src = tmp_path / 'fcmae.pth'
    torch.save({'model': fcmae_sparse_state(source)}, src)
    assert convert_checkpoint(str(src), str(tmp_path / 'clean.pth'))[:2] == \
        ('fcmae', 'ConvNeXt-V2-atto')
    assert_same_trunk(pretrained(tmp_path / 'clean.pth'), source)
    # the tool in this process: a fresh interpreter would spend half a minute on imports
    monkeypatch.setattr(sys, 'argv', ['convert_checkpoint.py', str(src),
                                      str(tmp_path / 'clean.safetensors')])
    runpy.run_path(osp.join(REPO, 'tools/convert_checkpoint.py'), run_name='__main__')
    assert 'fcmae layout, ConvNeXt-V2-atto; wrote 136 tensors' in capsys.readouterr().out
    assert_same_trunk(pretrained(tmp_path / 'clean.safetensors'), source)


# ------------------------------------------------------------------ layer decay
def test_grn_params_get_no_weight_decay_and_their_layer_lr():
    class Detector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = ConvNeXt(arch='atto', **V2)

    wrapper = build_optim_wrapper(Detector(), dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        constructor='convnext_dense.LayerDecayOptimizerConstructor',
        paramwise_cfg=dict(decay_rate=0.5, decay_type='layer_wise')))  # n = 5, N = 7
    groups = {n: g for g in wrapper.optimizer.param_groups for n in g['param_names']}
    expected = {'stages.0.1.grn.gamma': 2 ** -5, 'stages.1.0.grn.beta': 2 ** -4,
                'stages.2.2.grn.gamma': 2 ** -3, 'stages.2.3.grn.beta': 2 ** -2,
                'stages.3.1.grn.gamma': 2 ** -1}
    for name, scale in expected.items():
        group = groups[f'backbone.{name}']
        assert group['group_name'].endswith('_no_decay') and group['weight_decay'] == 0.
        assert group['lr_scale'] == group['lr'] == scale, name
    grn = [n for n in groups if '.grn.' in n]
    assert len(grn) == 2 * 12 and all(groups[n]['weight_decay'] == 0. for n in grn)


# ------------------------------------------------------------------ configs
@functools.lru_cache(maxsize=None)
def _parse_config(name: str) -> Config:
    return Config.fromfile(osp.join(REPO, 'configs', name))  # seconds each: parse once


def load_config(name: str) -> Config:
    cfg = copy.deepcopy(_parse_config(name))
    assert 'convnext_dense' in cfg.custom_imports.imports
    return cfg


def test_mask_rcnn_v2_config_follows_mmdet_recipe_builds_and_predicts():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    cfg = load_config('mask_rcnn_convnext_v2_b_fpn_lsj_3x_fcmae_coco.py')
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.arch, backbone.drop_path_rate) == \
        ('convnext_dense.ConvNeXt', 'base', 0.4)
    assert backbone.use_grn and backbone.layer_scale_init_value == 0.
    assert backbone.init_cfg.checkpoint == \
        FAIR_V2 + 'pt_only/convnextv2_base_1k_224_fcmae.pt'
    assert cfg.model.neck.in_channels == [128, 256, 512, 1024]
    assert cfg.model.test_cfg.rcnn.nms == dict(type='soft_nms', iou_threshold=0.5)
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert steps == ['LoadImageFromFile', 'LoadAnnotations', 'RandomResize', 'RandomCrop',
                     'FilterAnnotations', 'RandomFlip', 'Pad', 'PackDetInputs']
    resize, crop, pad = (cfg.train_dataloader.dataset.pipeline[i] for i in (2, 3, 6))
    assert resize.scale == crop.crop_size == pad.size == (1024, 1024)
    assert resize.ratio_range == (0.1, 2.0) and crop.allow_negative_crop
    assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.train_cfg.max_epochs == 36
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 0.001, 1000)
    assert steps.milestones == [27, 33]
    ow = cfg.optim_wrapper
    assert ow.type == 'convnext_dense.AmpOptimWrapper'
    assert ow.constructor == 'convnext_dense.LayerDecayOptimizerConstructor'
    assert dict(ow.paramwise_cfg) == dict(decay_rate=0.95, decay_type='layer_wise',
                                          num_layers=12)
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == \
        ('AdamW', 1e-4, 0.05)

    cfg.model.backbone.init_cfg = None
    cfg.model.test_cfg.rpn.update(nms_pre=100, max_per_img=20)
    init_default_scope('mmdet')
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
    assert model.backbone.use_grn and model.backbone.out_channels == [128, 256, 512, 1024]
    img = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                         scale_factor=(1.0, 1.0)))
    data = model.data_preprocessor({'inputs': [img], 'data_samples': [sample]}, False)
    with torch.no_grad():
        inst = model(**data, mode='predict')[0].pred_instances
    assert inst.bboxes.shape[1] == 4 and inst.masks.shape[1:] == (64, 64)

    cfg.optim_wrapper.type = 'OptimWrapper'  # fp32 here; mixed precision: tests/test_amp.py
    groups = {n: g for g in build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
              for n in g['param_names']}
    grn = groups['backbone.stages.2.26.grn.gamma']  # layer id 3 + 26 // 3 = 11 of N = 14
    assert grn['lr_scale'] == 0.95 ** 2 and grn['weight_decay'] == 0.


V2_UPERNET = {  # config: (arch, checkpoint, lr)
    'upernet_convnext_v2_b_ade20k_640.py': ('base', 'convnextv2_base_22k_384_ema.pt', 1e-4),
    'upernet_convnext_v2_l_ade20k_640.py': ('large', 'convnextv2_large_22k_384_ema.pt', 1e-4),
    'upernet_convnext_v2_h_ade20k_640.py': ('huge', 'convnextv2_huge_22k_512_ema.pt', 8e-5),
}


@pytest.mark.parametrize('name', sorted(V2_UPERNET))
def test_upernet_v2_config_is_v1_recipe_with_v2_backbone(name):
    arch, checkpoint, lr = V2_UPERNET[name]
    cfg, v1 = load_config(name), load_config('upernet_convnext_b_in22k_ade20k_640.py')
    backbone = cfg.model.backbone
    assert backbone.arch == arch and backbone.use_grn and backbone.layer_scale_init_value == 0.
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=FAIR_V2 + 'im22k/' + checkpoint)
    dims = list(ARCH_SETTINGS[arch][1])
    assert cfg.model.decode_head.in_channels == dims
    assert cfg.model.auxiliary_head.in_channels == dims[2]
    assert cfg.optim_wrapper.optimizer.lr == lr
    # everything else is V1's UperNet B-22K-640 recipe
    for key in ('train_dataloader', 'param_scheduler', 'train_cfg', 'tta_pipeline'):
        assert cfg[key] == v1[key], key
    assert cfg.optim_wrapper.paramwise_cfg == v1.optim_wrapper.paramwise_cfg
    assert cfg.model.test_cfg == v1.model.test_cfg
    assert backbone.drop_path_rate == v1.model.backbone.drop_path_rate


def test_upernet_v2_b_builds_and_segments():
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    cfg = load_config('upernet_convnext_v2_b_ade20k_640.py')
    cfg.model.backbone.init_cfg = None
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    assert model.backbone.use_grn
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
                  padding_size=[0] * 4)]
    model.test_cfg = Config(dict(mode='whole'))
    with torch.no_grad():
        logits = model.inference(torch.rand(1, 3, 64, 64) * 255, metas)
    assert logits.shape == (1, 150, 64, 64) and torch.isfinite(logits).all()
