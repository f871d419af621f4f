"""The same ConvNeXt weights in three implementations: this project's backbone, timm's
``convnext_*`` and mmpretrain's ``ConvNeXt``, so that their speed can be compared on equal
terms (same arithmetic, same inputs).

timm's model is the source: its random weights are mapped onto ours with
:func:`convnext_dense.models.convert_to_official` and from ours onto mmpretrain's names with
:func:`official_to_mmpretrain`. ``max_abs_difference`` checks that the three agree.
"""
from typing import Dict, Mapping, Tuple

import torch
import torch.nn as nn

from ..models.checkpoint_layouts import convert_to_official
from ..models.convnext import ConvNeXt, resolve_arch

IMPLEMENTATIONS = ('ours', 'timm', 'mmpretrain')
_TO_MMPRETRAIN = (('dwconv', 'depthwise_conv'), ('pwconv1', 'pointwise_conv1'),
                  ('pwconv2', 'pointwise_conv2'))


def official_to_mmpretrain(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official-layout backbone keys -> mmpretrain's ``ConvNeXt`` module names (no prefix)."""
    out = {}
    for key, value in state_dict.items():
        for old, new in _TO_MMPRETRAIN:
            key = key.replace(old, new)
        out[key] = value
    return out


class TimmStages(nn.Module):
    """timm's ConvNeXt returning its four stage outputs (``forward_intermediates``, what
    ``features_only`` does), without the classifier."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_intermediates(x, intermediates_only=True)


def build_timm(arch: str, with_cp: bool = False) -> nn.Module:
    import timm
    model = timm.create_model(f'convnext_{arch}', num_classes=0, ls_init_value=0.5)
    if with_cp:
        model.set_grad_checkpointing(True)
    return TimmStages(model)


def build_mmpretrain(arch: str, with_cp: bool = False) -> nn.Module:
    from mmpretrain.models.backbones import ConvNeXt as MMPretrainConvNeXt
    depths, dims = resolve_arch(arch)
    return MMPretrainConvNeXt(arch=dict(depths=list(depths), channels=list(dims)),
                              out_indices=(0, 1, 2, 3), gap_before_final_norm=False,
                              layer_scale_init_value=0.5, with_cp=with_cp)


def build_same_weights(arch: str, implementations=IMPLEMENTATIONS, with_cp: bool = False,
                       seed: int = 0) -> Dict[str, nn.Module]:
    """``{name: backbone}`` for the requested implementations, all holding the same random
    (non-trivial: every parameter drawn from N(0, 0.05)) weights, in eval mode."""
    torch.manual_seed(seed)
    timm_model = build_timm(arch, with_cp)
    for param in timm_model.parameters():
        param.data.normal_(0, 0.05)
    official, _ = convert_to_official(timm_model.model.state_dict())
    ours = ConvNeXt(arch=arch, with_cp=with_cp)
    # the output norms norm0..3 are not in timm's model: give them random weights too
    for name, param in ours.named_parameters():
        if name.startswith('norm'):
            official[name] = torch.randn_like(param) * 0.05 + (1 if 'weight' in name else 0)
    ours.load_state_dict(official, strict=True)
    models = {'ours': ours, 'timm': timm_model}
    if 'mmpretrain' in implementations:
        mmp = build_mmpretrain(arch, with_cp)
        mmp.load_state_dict(official_to_mmpretrain(official), strict=True)
        models['mmpretrain'] = mmp
    for model in models.values():
        model.eval()
    return {name: models[name] for name in implementations}


def stage_outputs(name: str, model: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """The four stage outputs *before* the output norms (timm has none), for comparison."""
    if name == 'timm':
        return tuple(model(x))
    outs = []
    for i in range(4):
        x = model.stages[i](model.downsample_layers[i](x))
        outs.append(x)
    return tuple(outs)


def max_abs_difference(models: Dict[str, nn.Module], x: torch.Tensor) -> Dict[str, float]:
    """Largest elementwise difference of each implementation's stage outputs from ours."""
    with torch.inference_mode():
        reference = stage_outputs('ours', models['ours'], x)
        return {name: max(float((a - b).abs().max()) for a, b in
                          zip(stage_outputs(name, model, x), reference))
                for name, model in models.items()}
