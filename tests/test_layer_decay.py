"""Layer-wise lr decay: exact official scales (decay 0.5 keeps them exact powers of two)."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, build_optim_wrapper

import convnext_dense  # noqa: F401
from convnext_dense import ConvNeXt
from convnext_dense.errors import ConfigError


class TinyDetector(nn.Module):
    """Just enough of an mmdet/mmseg model: a ``backbone`` and something after it."""

    def __init__(self, **backbone_kwargs):
        super().__init__()
        self.backbone = ConvNeXt(**backbone_kwargs)
        self.neck = nn.Conv2d(320, 8, 1)


def build(model, decay_type, num_layers=None, rate=0.5):
    paramwise_cfg = dict(decay_rate=rate, decay_type=decay_type)
    if num_layers is not None:
        paramwise_cfg['num_layers'] = num_layers
    return build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        constructor='convnext_dense.LayerDecayOptimizerConstructor',
        paramwise_cfg=paramwise_cfg))


def scale_of(wrapper, name):
    for group in wrapper.optimizer.param_groups:
        if name in group['param_names']:
            return group['lr_scale'], group['lr'], group['weight_decay']
    raise KeyError(name)


def test_layer_wise_exact_scales_atto():
    # atto: stage 2 has 6 blocks -> default num_layers = 3 + 2 = 5, N = 7
    wrapper = build(TinyDetector(arch='atto'), 'layer_wise')
    assert isinstance(wrapper, OptimWrapper)
    expected = {
        'backbone.downsample_layers.0.0.weight': 2 ** -6,  # id 0
        'backbone.stages.0.1.pwconv1.weight': 2 ** -5,     # id 1
        'backbone.downsample_layers.1.1.weight': 2 ** -4,  # id 2
        'backbone.stages.1.0.dwconv.weight': 2 ** -4,      # id 2
        'backbone.downsample_layers.2.1.weight': 2 ** -3,  # id 3
        'backbone.stages.2.2.pwconv2.weight': 2 ** -3,     # id 3 + 2 // 3
        'backbone.stages.2.3.pwconv2.weight': 2 ** -2,     # id 3 + 3 // 3
        'backbone.downsample_layers.3.1.weight': 2 ** -1,  # id n
        'backbone.stages.3.1.pwconv1.weight': 2 ** -1,     # id n
        'backbone.norm2.weight': 1.0,                      # id n + 1
        'neck.weight': 1.0,
    }
    for name, scale in expected.items():
        lr_scale, lr, _ = scale_of(wrapper, name)
        assert lr_scale == scale and lr == scale, name


def test_stage_wise_exact_scales_with_explicit_num_layers():
    wrapper = build(TinyDetector(arch='atto'), 'stage_wise', num_layers=4)  # N = 6
    expected = {
        'backbone.downsample_layers.0.0.weight': 2 ** -5,
        'backbone.downsample_layers.3.0.weight': 2 ** -5,
        'backbone.stages.0.0.gamma': 2 ** -4,
        'backbone.stages.1.0.gamma': 2 ** -3,
        'backbone.stages.2.5.gamma': 2 ** -2,
        'backbone.stages.3.0.gamma': 2 ** -1,
        'backbone.norm3.bias': 1.0,
        'neck.bias': 1.0,
    }
    for name, scale in expected.items():
        assert scale_of(wrapper, name)[0] == scale, name


def test_official_worked_values_tiny():
    """The values in the reference: layer_wise r=0.95 n=6 on ConvNeXt-T."""
    wrapper = build(TinyDetector(arch='tiny'), 'layer_wise', rate=0.95)
    for name, scale in [('backbone.downsample_layers.0.0.weight', 0.6983),
                        ('backbone.stages.0.0.dwconv.weight', 0.7351),
                        ('backbone.stages.1.0.dwconv.weight', 0.7738),
                        ('backbone.stages.2.2.dwconv.weight', 0.8145),
                        ('backbone.stages.2.5.dwconv.weight', 0.8574),
                        ('backbone.stages.2.8.dwconv.weight', 0.9025),
                        ('backbone.stages.3.0.dwconv.weight', 0.95)]:
        assert scale_of(wrapper, name)[0] == pytest.approx(scale, abs=1e-4), name
    assert TinyDetector(arch='small').backbone.default_num_layers == 12


def test_no_weight_decay_for_1d_and_bias_and_groups_named():
    wrapper = build(TinyDetector(arch='atto'), 'layer_wise')
    for group in wrapper.optimizer.param_groups:
        assert group['group_name'].startswith('layer_')
        for name, param in zip(group['param_names'], group['params']):
            no_decay = param.ndim == 1 or name.endswith('.bias')
            assert group['weight_decay'] == (0. if no_decay else 0.05), name
            assert group['group_name'].endswith('no_decay' if no_decay else '_decay')
    names = [n for g in wrapper.optimizer.param_groups for n in g['param_names']]
    assert len(names) == len(set(names)) == len(list(TinyDetector(arch='atto').parameters()))


def test_frozen_parameters_left_out():
    wrapper = build(TinyDetector(arch='atto', frozen_stages=1), 'layer_wise')
    names = {n for g in wrapper.optimizer.param_groups for n in g['param_names']}
    assert not any(n.startswith(('backbone.stages.0.', 'backbone.downsample_layers.0.'))
                   for n in names)
    assert 'backbone.stages.1.0.gamma' in names


def test_model_without_convnext_says_so():
    model = nn.Module()
    model.backbone = nn.Conv2d(3, 8, 3)
    with pytest.raises(ConfigError, match='needs a model whose backbone is convnext_dense.ConvNeXt'):
        build(model, 'layer_wise')


def test_bad_decay_type():
    with pytest.raises(ValueError, match="decay_type must be"):
        build(TinyDetector(arch='atto'), 'block_wise')


def test_optimizer_step_runs_with_scaled_lrs():
    model = TinyDetector(arch='atto')
    wrapper = build(model, 'layer_wise')
    before = model.backbone.downsample_layers[0][0].weight.detach().clone()
    loss = model.neck(model.backbone(torch.randn(1, 3, 64, 64))[-1]).mean()
    wrapper.update_params(loss)
    assert not torch.equal(before, model.backbone.downsample_layers[0][0].weight)


def test_optimizer_without_weight_decay_keeps_its_default():
    model = TinyDetector()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1.0),
        constructor='convnext_dense.LayerDecayOptimizerConstructor',
        paramwise_cfg=dict(decay_rate=0.5, decay_type='stage_wise')))
    decays = {g['group_name']: g['weight_decay'] for g in wrapper.optimizer.param_groups}
    assert all(wd == 0. for name, wd in decays.items() if name.endswith('no_decay'))
    assert all(wd == 0.01 for name, wd in decays.items() if name.endswith('_decay')
               and not name.endswith('no_decay'))  # torch AdamW's default
