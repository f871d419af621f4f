"""ConvNeXt backbone: shapes, arguments, freezing, checkpointing, timm equivalence."""
import pytest
import timm
import torch

from convnext_dense import ARCH_SETTINGS, ConvNeXt, convert_to_official


def stage_outputs_before_norm(model: ConvNeXt, x: torch.Tensor):
    outs = []
    for i in range(4):
        x = model.stages[i](model.downsample_layers[i](x))
        outs.append(x)
    return outs


@pytest.mark.parametrize('arch', [a for a in ARCH_SETTINGS if a != 'huge'])  # huge: V2 only
def test_every_arch_has_timm_param_count(arch):
    with torch.device('meta'):
        ours = ConvNeXt(arch=arch, out_indices=())
        theirs = timm.create_model(f'convnext_{arch}', num_classes=0)
    head = sum(p.numel() for n, p in theirs.named_parameters() if n.startswith('head.'))
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters()) - head


def test_output_shapes_strides_and_channels():
    model = ConvNeXt(arch='atto').eval()
    outs = model(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 40, 16, 24), (2, 80, 8, 12),
                                              (2, 160, 4, 6), (2, 320, 2, 3)]
    assert model.out_channels == [40, 80, 160, 320]
    assert model.out_strides == [4, 8, 16, 32]


@pytest.mark.parametrize('size,expected', [
    ((33, 47), [(9, 12), (5, 6), (3, 3), (2, 2)]),
    ((20, 20), [(5, 5), (3, 3), (2, 2), (1, 1)]),
    ((1, 1), [(1, 1)] * 4),
])
def test_odd_and_tiny_inputs_batch_one(size, expected):
    model = ConvNeXt(arch='atto').eval()
    outs = model(torch.randn(1, 3, *size))
    assert [tuple(o.shape[-2:]) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
def test_outputs_are_contiguous_nchw_for_mmcv_ops(training):
    """The network runs channels-last, and mmcv's RoIAlign reads raw NCHW memory: with
    channels-last maps a Mask R-CNN's RoI features were scrambled (its RPN learnt, its RoI
    head did not). RoIAlign on the outputs must equal RoIAlign on a contiguous copy."""
    from mmcv.ops import roi_align
    model = ConvNeXt(arch='atto', layer_scale_init_value=1.0).train(training)
    outs = model(torch.randn(2, 3, 67, 93))
    assert all(o.is_contiguous() for o in outs)
    rois = torch.tensor([[0., 3., 5., 60., 40.], [1., 10., 2., 90., 66.]])
    pooled = roi_align(outs[0], rois, (7, 7), 0.25, 0, 'avg', True)
    expected = roi_align(outs[0].clone(memory_format=torch.contiguous_format), rois, (7, 7),
                         0.25, 0, 'avg', True)
    torch.testing.assert_close(pooled, expected)


def test_runs_channels_last_from_the_stem_on_and_results_do_not_depend_on_input_layout():
    """The stem conv gets NHWC memory like every conv after it (a layout change less)."""
    torch.manual_seed(0)
    model = ConvNeXt(arch='atto', layer_scale_init_value=0.5)
    layouts = []
    model.downsample_layers[0][0].register_forward_hook(lambda m, args, out: layouts.append(
        out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()))
    x = torch.randn(2, 3, 45, 70)
    for a, b in zip(model(x), model(x.contiguous(memory_format=torch.channels_last))):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert layouts == [True, True]


def test_out_indices_negative_and_subset():
    model = ConvNeXt(arch='atto', out_indices=(-1, 1))
    assert model.out_indices == (1, 3)
    assert model.out_channels == [80, 320]
    assert model.out_strides == [8, 32]
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')
    outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [80, 320]


@pytest.mark.parametrize('bad', [(4,), (0, -5)])
def test_out_indices_out_of_range(bad):
    with pytest.raises(ValueError, match='out of range.*use 0..3'):
        ConvNeXt(arch='atto', out_indices=bad)


def test_unknown_arch_lists_valid_ones():
    with pytest.raises(ValueError, match='unknown ConvNeXt arch .tinyy.*atto.*xlarge'):
        ConvNeXt(arch='tinyy')


def test_custom_arch_and_aliases():
    model = ConvNeXt(arch=dict(depths=[1, 1, 2, 1], dims=[8, 16, 32, 64]))
    assert model.out_channels == [8, 16, 32, 64]
    assert ConvNeXt(arch='T').arch == 'tiny'
    with pytest.raises(ValueError, match='4 depths and 4 dims'):
        ConvNeXt(arch=dict(depths=[1, 1], dims=[8, 16]))


def test_official_state_dict_layout():
    keys = ConvNeXt(arch='atto').state_dict().keys()
    for key in ['downsample_layers.0.0.weight', 'downsample_layers.0.1.weight',
                'downsample_layers.3.0.bias', 'downsample_layers.3.1.weight',
                'stages.2.5.dwconv.weight', 'stages.2.5.norm.weight', 'stages.2.5.pwconv1.weight',
                'stages.2.5.pwconv2.bias', 'stages.2.5.gamma', 'norm0.weight', 'norm3.bias']:
        assert key in keys


def test_layer_scale_disabled_and_drop_path_linear():
    model = ConvNeXt(arch='atto', layer_scale_init_value=0., drop_path_rate=0.3)
    assert model.stages[0][0].gamma is None
    rates = [b.drop_path.drop_prob if hasattr(b.drop_path, 'drop_prob') else 0.
             for stage in model.stages for b in stage]
    assert rates[0] == 0. and rates[-1] == pytest.approx(0.3)
    assert rates == sorted(rates) and len(rates) == 12


@pytest.mark.parametrize('frozen,frozen_prefixes', [
    (-1, []),
    (0, ['downsample_layers.0.']),
    (2, ['downsample_layers.0.', 'downsample_layers.1.', 'stages.0.', 'stages.1.', 'norm0.',
         'norm1.']),
])
def test_frozen_stages(frozen, frozen_prefixes):
    model = ConvNeXt(arch='atto', frozen_stages=frozen)
    assert model.train() is model
    for name, param in model.named_parameters():
        assert param.requires_grad == (not name.startswith(tuple(frozen_prefixes))), name
    for name, module in model.named_modules():
        if name and (name + '.').startswith(tuple(frozen_prefixes)):
            assert not module.training, name
    assert model.stages[3].training


def test_frozen_stages_range():
    with pytest.raises(ValueError, match='frozen_stages must be in -1..4'):
        ConvNeXt(arch='atto', frozen_stages=5)


def test_with_cp_same_output_and_grads():
    torch.manual_seed(0)
    plain = ConvNeXt(arch='atto')
    plain.init_weights()
    ckpt = ConvNeXt(arch='atto', with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    out_a = sum(o.square().sum() for o in plain(x))
    out_b = sum(o.square().sum() for o in ckpt(x))
    out_a.backward()
    out_b.backward()
    torch.testing.assert_close(out_a, out_b)
    for (name, pa), pb in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)


def test_no_grad_forward_equals_autograd_forward():
    torch.manual_seed(0)
    model = ConvNeXt(arch='atto', drop_path_rate=0.1).eval()
    model.init_weights()
    x = torch.randn(1, 3, 64, 96)
    with_grad = model(x)
    with torch.inference_mode():
        without_grad = model(x)
    for a, b in zip(with_grad, without_grad):
        torch.testing.assert_close(a.detach(), b, atol=0, rtol=0)


@pytest.mark.parametrize('arch', ['tiny', 'atto'])
def test_matches_timm_stage_outputs(arch):
    torch.manual_seed(0)
    reference = timm.create_model(f'convnext_{arch}', ls_init_value=0.5).eval()
    for p in reference.parameters():  # non-trivial weights everywhere, incl. norms
        p.data.normal_(0, 0.05)
    model = ConvNeXt(arch=arch).eval()
    state_dict, layout = convert_to_official(reference.state_dict())
    assert layout == 'timm'
    result = model.load_state_dict(state_dict, strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith('norm') for k in result.missing_keys)
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        got = stage_outputs_before_norm(model, x)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_output_norm_is_channels_first_layernorm():
    model = ConvNeXt(arch='atto', out_indices=(0,)).eval()
    torch.nn.init.normal_(model.norm0.weight)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        feat = stage_outputs_before_norm(model, x)[0]
        expected = torch.nn.functional.layer_norm(
            feat.permute(0, 2, 3, 1), (40,), model.norm0.weight, model.norm0.bias, 1e-6)
        torch.testing.assert_close(model(x)[0], expected.permute(0, 3, 1, 2))


FAN_IN_INIT = dict(type='Kaiming', layer=['Conv2d', 'Linear'], mode='fan_in',
                   nonlinearity='relu', distribution='normal')


@pytest.mark.parametrize('init_cfg', [None, FAN_IN_INIT], ids=['official', 'mmengine-kaiming'])
def test_from_scratch_gradients_stay_finite_on_zero_padded_batches(init_cfg):
    """mmdet/mmseg pad batches with zeros after normalisation. With the official zero stem
    bias the padded pixels reach every LayerNorm as constant vectors and the gradient blows
    up by 1/sqrt(eps) per norm (1e9 measured in a Mask R-CNN); the drawn stem bias keeps it
    at the size of an unpadded batch, also under an MMEngine init_cfg that zeroes biases."""
    def grad_norm(model, x):
        model.zero_grad()
        sum(out.square().mean() for out in model(x)).backward()
        return torch.sqrt(sum(p.grad.square().sum() for p in model.parameters())).item()

    torch.manual_seed(0)
    model = ConvNeXt('atto', layer_scale_init_value=1e-6, init_cfg=init_cfg)
    model.init_weights()
    assert model.downsample_layers[0][0].bias.abs().max() > 0
    image = torch.randn(2, 3, 96, 96)
    padded = torch.nn.functional.pad(image, (0, 64, 0, 64))  # zeros, like a padded batch
    unpadded_norm = grad_norm(model, image)
    assert grad_norm(model, padded) < 10 * unpadded_norm

    torch.nn.init.zeros_(model.downsample_layers[0][0].bias)  # the official init: the failure
    assert grad_norm(model, padded) > 100 * unpadded_norm
