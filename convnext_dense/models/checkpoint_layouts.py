"""Map ConvNeXt checkpoints of every common layout onto the official backbone layout.

Pure functions on state dicts (no I/O, no model): easy to test, reused by the backbone's
``init_cfg`` loading and by ``tools/convert_checkpoint.py``.

Layouts (see ``shared/reference/recipes.md``):
- ``official``: FAIR release, ``{'model': sd}``, keys ``downsample_layers.*``, ``stages.s.b.*``,
  classifier ``norm.*`` and ``head.*``.
- ``timm``: ``stem.*``, ``stages.s.downsample.*``, ``stages.s.blocks.b.{conv_dw,mlp.fc1,...}``,
  ``head.norm``/``head.fc``; atto..nano store the MLP as 1x1 convs.
- ``mmpretrain``: ``{'state_dict': sd}``, prefix ``backbone.``, ``depthwise_conv``,
  ``pointwise_conv1/2``, the classifier's final norm at ``backbone.norm3``, head ``head.fc``.
- ``detector``: an mmdet/mmseg model checkpoint (this project's or mmdet's own ConvNeXt
  configs): backbone under ``backbone.``, trained output norms ``norm0..3``.
"""
import re
from typing import Dict, Mapping, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

_TIMM_BLOCK_RENAMES = (('conv_dw', 'dwconv'), ('mlp.fc1', 'pwconv1'), ('mlp.fc2', 'pwconv2'))
_MMPRETRAIN_RENAMES = (('depthwise_conv', 'dwconv'), ('pointwise_conv1', 'pwconv1'),
                       ('pointwise_conv2', 'pwconv2'))


def unwrap_state_dict(checkpoint: Mapping) -> StateDict:
    """The tensor dict inside a checkpoint file's top-level object."""
    for key in ('state_dict', 'model', 'module'):
        inner = checkpoint.get(key) if isinstance(checkpoint, Mapping) else None
        if isinstance(inner, Mapping) and any(torch.is_tensor(v) for v in inner.values()):
            return dict(inner)
    if isinstance(checkpoint, Mapping) and any(torch.is_tensor(v) for v in checkpoint.values()):
        return dict(checkpoint)
    raise ValueError('no state dict found: expected a dict of tensors, or one under '
                     "'state_dict' or 'model'")


def detect_layout(state_dict: Mapping[str, torch.Tensor]) -> str:
    """One of ``official``, ``timm``, ``mmpretrain``, ``detector``; ValueError otherwise."""
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in state_dict]
    if any(k.startswith('backbone.') for k in keys):
        backbone = [k for k in keys if k.startswith('backbone.')]
        is_classifier = (any(k.startswith('head.') for k in keys)
                         and 'backbone.norm0.weight' not in backbone)
        if is_classifier and any('depthwise_conv' in k for k in backbone):
            return 'mmpretrain'
        if any(k.startswith('backbone.downsample_layers.') for k in backbone):
            return 'detector'
    if any(k.startswith('stem.') or re.match(r'stages\.\d+\.blocks\.', k) for k in keys):
        return 'timm'
    if any(k.startswith('downsample_layers.') for k in keys):
        return 'official'
    sample = ', '.join(sorted(keys)[:3]) or 'no keys'
    raise ValueError(f'not a ConvNeXt checkpoint: found none of the FAIR, timm, mmpretrain or '
                     f'detector key layouts (first keys: {sample})')


def _from_timm(sd: Mapping[str, torch.Tensor]) -> StateDict:
    out = {}
    for key, value in sd.items():
        if key.startswith('head.'):
            continue
        m = re.match(r'stem\.(\d+)\.(.+)', key)
        if m:
            out[f'downsample_layers.0.{m[1]}.{m[2]}'] = value
            continue
        m = re.match(r'stages\.(\d+)\.downsample\.(\d+)\.(.+)', key)
        if m:
            out[f'downsample_layers.{m[1]}.{m[2]}.{m[3]}'] = value
            continue
        m = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.+)', key)
        if m:
            name = m[3]
            for old, new in _TIMM_BLOCK_RENAMES:
                name = name.replace(old, new)
            if name.startswith(('pwconv1.weight', 'pwconv2.weight')) and value.ndim == 4:
                value = value.flatten(1)  # conv_mlp variants (atto..nano): 1x1 conv -> Linear
            out[f'stages.{m[1]}.{m[2]}.{name}'] = value
            continue
        out[key] = value  # unknown keys surface as "unexpected" in the load report
    return out


def _strip_backbone(sd: Mapping[str, torch.Tensor]) -> StateDict:
    return {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}


def _rename_mmpretrain(sd: Mapping[str, torch.Tensor]) -> StateDict:
    out = {}
    for key, value in sd.items():
        for old, new in _MMPRETRAIN_RENAMES:
            key = key.replace(old, new)
        out[key] = value
    return out


def convert_to_official(state_dict: Mapping[str, torch.Tensor]) -> Tuple[StateDict, str]:
    """Backbone weights in the official layout, and the layout they came from.

    Classifier parts (``head.*``, the final classifier norm) are dropped: the official
    detection backbone never loads them into its output norms ``norm0..3``.
    """
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    layout = detect_layout(sd)
    if layout == 'timm':
        return _from_timm(sd), layout
    if layout == 'official':
        return {k: v for k, v in sd.items()
                if not k.startswith(('head.', 'norm.'))}, layout
    backbone = _rename_mmpretrain(_strip_backbone(sd))
    if layout == 'mmpretrain':
        backbone = {k: v for k, v in backbone.items() if not k.startswith('norm3.')}
    return backbone, layout


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(depths, dims)`` of an official-layout state dict, for error messages."""
    dims = tuple(int(state_dict[f'stages.{s}.0.dwconv.weight'].shape[0])
                 if f'stages.{s}.0.dwconv.weight' in state_dict else 0 for s in range(4))
    depths = []
    for s in range(4):
        blocks = {int(m[1]) for k in state_dict
                  for m in [re.match(rf'stages\.{s}\.(\d+)\.', k)] if m}
        depths.append(max(blocks) + 1 if blocks else 0)
    return tuple(depths), dims
