"""Checkpoint layouts (FAIR, timm, mmpretrain, detector), conversion, and safe loading."""
import argparse
import os
import subprocess
import sys

import pytest
import timm
import torch
from safetensors.torch import save_file

import convnext_dense  # noqa: F401
from convnext_dense.checkpoint import CheckpointError, load_checkpoint_file, set_trust_checkpoints
from convnext_dense import ConvNeXt, convert_to_official, detect_layout
from convnext_dense.checkpoint_layouts import load_model_checkpoint
from convert_checkpoint import convert_checkpoint  # tools/
from helpers import mmpretrain_atto_checkpoint


def random_backbone(arch='atto', seed=0) -> ConvNeXt:
    torch.manual_seed(seed)
    model = ConvNeXt(arch=arch)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    return model


def pretrained(path, arch='atto', **kwargs) -> ConvNeXt:
    model = ConvNeXt(arch=arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)), **kwargs)
    model.init_weights()
    return model


def assert_same_backbone(a: ConvNeXt, b: ConvNeXt, skip_norms=True):
    sa, sb = a.state_dict(), b.state_dict()
    for key in sa:
        if skip_norms and key.startswith('norm'):
            continue
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


# ------------------------------------------------------------------ layouts
@pytest.fixture(scope='module')
def timm_atto():
    torch.manual_seed(1)
    model = timm.create_model('convnext_atto', num_classes=10)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    return model


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_timm_checkpoint_loads(tmp_path, timm_atto, suffix):
    path = tmp_path / f'convnext_atto{suffix}'
    sd = {k: v.contiguous() for k, v in timm_atto.state_dict().items()}
    save_file(sd, str(path)) if suffix == '.safetensors' else torch.save(sd, path)
    model = pretrained(path)
    expected, layout = convert_to_official(timm_atto.state_dict())
    assert layout == 'timm'
    for key, value in expected.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model.stages[3](model.downsample_layers[3](model.stages[2](
            model.downsample_layers[2](model.stages[1](model.downsample_layers[1](
                model.stages[0](model.downsample_layers[0](x))))))))
        theirs = timm_atto.eval().forward_intermediates(x, intermediates_only=True)[-1]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_fair_checkpoint_loads_and_drops_classifier(tmp_path):
    source = random_backbone()
    sd = {k: v for k, v in source.state_dict().items() if not k.startswith('norm')}
    sd.update({'norm.weight': torch.ones(320), 'norm.bias': torch.zeros(320),
               'head.weight': torch.zeros(1000, 320), 'head.bias': torch.zeros(1000)})
    torch.save({'model': sd}, tmp_path / 'convnext_atto_1k_224.pth')
    assert detect_layout(sd) == 'official'
    model = pretrained(tmp_path / 'convnext_atto_1k_224.pth')
    assert_same_backbone(model, source)


def test_mmpretrain_checkpoint_loads(tmp_path):
    classifier = mmpretrain_atto_checkpoint(tmp_path / 'mmp.pth')
    model = pretrained(tmp_path / 'mmp.pth')
    theirs = classifier.backbone
    torch.testing.assert_close(model.stages[2][4].dwconv.weight, theirs.stages[2][4].depthwise_conv.weight)
    torch.testing.assert_close(model.stages[3][1].pwconv2.bias, theirs.stages[3][1].pointwise_conv2.bias)
    torch.testing.assert_close(model.downsample_layers[2][1].weight, theirs.downsample_layers[2][1].weight)
    # the classifier's final norm (mmpretrain's backbone.norm3) is not an output norm
    assert not torch.equal(model.norm3.weight, theirs.norm3.weight)


def test_detector_checkpoint_loads_output_norms(tmp_path):
    source = random_backbone()
    sd = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(8, 40, 1, 1)
    torch.save({'state_dict': sd, 'meta': {'epoch': 3}}, tmp_path / 'det.pth')
    model = pretrained(tmp_path / 'det.pth')
    assert_same_backbone(model, source, skip_norms=False)


def test_other_arch_names_both(tmp_path):
    torch.save({'model': ConvNeXt(arch='femto').state_dict()}, tmp_path / 'femto.pth')
    with pytest.raises(CheckpointError, match='ConvNeXt-femto weights but the model is ConvNeXt-atto'):
        pretrained(tmp_path / 'femto.pth')


def test_not_a_convnext_checkpoint(tmp_path):
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, tmp_path / 'resnet.pth')
    with pytest.raises(CheckpointError, match='not a ConvNeXt checkpoint'):
        pretrained(tmp_path / 'resnet.pth')


def test_convert_tool_round_trip(tmp_path, timm_atto, repo_root):
    src = tmp_path / 'timm.safetensors'
    save_file({k: v.contiguous() for k, v in timm_atto.state_dict().items()}, str(src))
    layout, name, count = convert_checkpoint(str(src), str(tmp_path / 'clean.pth'))
    assert (layout, name) == ('timm', 'ConvNeXt-atto') and count == len(convert_to_official(
        timm_atto.state_dict())[0])
    assert_same_backbone(pretrained(tmp_path / 'clean.pth'), pretrained(src))
    out = subprocess.run([sys.executable, 'tools/convert_checkpoint.py', str(src),
                          str(tmp_path / 'clean.safetensors')], cwd=repo_root,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'timm layout, ConvNeXt-atto' in out.stdout
    assert_same_backbone(pretrained(tmp_path / 'clean.safetensors'), pretrained(src))


# ------------------------------------------------------------------ bad files
def test_missing_truncated_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint_file(tmp_path / 'nope.pth')
    torch.save({'model': ConvNeXt(arch='atto').state_dict()}, tmp_path / 'full.pth')
    data = (tmp_path / 'full.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='is truncated'):
        load_checkpoint_file(tmp_path / 'cut.pth')
    (tmp_path / 'text.pth').write_text('hello, I am not a checkpoint\n')
    with pytest.raises(CheckpointError, match='not a PyTorch checkpoint|truncated or corrupt'):
        load_checkpoint_file(tmp_path / 'text.pth')
    (tmp_path / 'bad.safetensors').write_bytes(b'\x00' * 10)
    with pytest.raises(CheckpointError, match='not a readable .safetensors'):
        load_checkpoint_file(tmp_path / 'bad.safetensors')


def test_unreachable_url_says_where_to_put_file(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(CheckpointError, match='could not download .*put it at .*init_cfg=None'):
        load_checkpoint_file('http://127.0.0.1:9/convnext_tiny_1k_224.pth')


# ------------------------------------------------------------------ malicious pickles
class RunsCommand:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def evil_checkpoint(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': ConvNeXt(arch='atto').state_dict(), 'x': RunsCommand(marker)}, path)
    return path, marker


def test_code_carrying_pickle_refused_everywhere(evil_checkpoint):
    path, marker = evil_checkpoint
    with pytest.raises(CheckpointError, match='refused to load .*system.*--trust-checkpoint'):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match='refused'):
        pretrained(path)
    with pytest.raises(CheckpointError, match='refused'):  # load_from / resume / test path
        load_model_checkpoint(ConvNeXt(arch='atto'), str(path))
    with pytest.raises(CheckpointError, match='refused'):
        convert_checkpoint(str(path), str(path) + '.out.pth')
    assert not marker.exists()


def test_trust_is_an_explicit_opt_in(tmp_path):
    path = tmp_path / 'namespace.pth'
    torch.save({'state_dict': {}, 'args': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointError, match='argparse.Namespace'):
        load_checkpoint_file(path)
    set_trust_checkpoints(True)
    try:
        assert load_checkpoint_file(path)['args'].lr == 0.1
    finally:
        set_trust_checkpoints(False)
    with pytest.raises(CheckpointError):
        load_checkpoint_file(path)


class LooksUpAttribute:
    """Unpickles as getattr(HistoryBuffer, '__init__'): the first step of a gadget chain."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


def test_getattr_only_resolves_history_buffer_statistics(tmp_path):
    path = tmp_path / 'gadget.pth'
    torch.save({'x': LooksUpAttribute()}, path)
    with pytest.raises(CheckpointError, match='refused'):
        load_checkpoint_file(path)
