"""Map ConvNeXt checkpoints of every common layout onto the official backbone layout.

Pure functions on state dicts, plus the places they are used: the backbone's ``init_cfg``
loading (:func:`load_pretrained`), whole-model loading that never loads half a model
(:func:`load_model_checkpoint`) and ``tools/convert_checkpoint.py`` (:func:`convert_checkpoint`).

Layouts (see ``shared/reference/recipes.md``):
- ``official``: FAIR release, ``{'model': sd}``, keys ``downsample_layers.*``, ``stages.s.b.*``,
  classifier ``norm.*`` and ``head.*`` (none in V2's dense FCMAE release).
- ``fcmae``: a ConvNeXt-V2 FCMAE pre-training state: ``encoder.`` prefix, sparse-conv
  ``*.kernel`` tensors, ``ln``/``linear`` name parts, decoder keys (dropped).
- ``timm``: ``stem.*``, ``stages.s.downsample.*``, ``stages.s.blocks.b.{conv_dw,mlp.fc1,...}``,
  ``head.norm``/``head.fc``; atto..nano store the MLP as 1x1 convs.
- ``mmpretrain``: ``{'state_dict': sd}``, prefix ``backbone.``, ``depthwise_conv``,
  ``pointwise_conv1/2``, the classifier's final norm at ``backbone.norm3``, head ``head.fc``.
- ``detector``: an mmdet/mmseg model checkpoint (this project's or mmdet's own ConvNeXt
  configs): backbone under ``backbone.``, trained output norms ``norm0..3``.
V2's GRN ``grn.gamma/beta`` (timm: ``mlp.grn.weight/bias``) come out of every layout as (4C,).
"""
import math
import os
import os.path as osp
import re
from collections import defaultdict
from typing import Dict, Iterable, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .archs import arch_name
from .checkpoint import CheckpointError, load_checkpoint_file

StateDict = Dict[str, torch.Tensor]

_TIMM_BLOCK_RENAMES = (('conv_dw', 'dwconv'), ('mlp.fc1', 'pwconv1'), ('mlp.fc2', 'pwconv2'),
                       ('mlp.grn.weight', 'grn.gamma'), ('mlp.grn.bias', 'grn.beta'))
_MMPRETRAIN_RENAMES = (('depthwise_conv', 'dwconv'), ('pointwise_conv1', 'pwconv1'),
                       ('pointwise_conv2', 'pwconv2'))
# keys only an FCMAE pre-training state has: the ``encoder.`` prefix, MinkowskiEngine kernels
_FCMAE_KEY = re.compile(r'encoder\.(downsample_layers|stages)\.'
                        r'|(downsample_layers|stages)\..*\.kernel$')
# what the official FCMAE fine-tuning drops: the decoder side of the pre-training model
_FCMAE_DECODER = ('decoder', 'mask_token', 'proj', 'pred')


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
    """``official``, ``fcmae``, ``timm``, ``mmpretrain`` or ``detector``; ValueError otherwise."""
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
    if any(_FCMAE_KEY.match(k) for k in keys):
        return 'fcmae'
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


def _sparse_kernel_to_conv(kernel: torch.Tensor) -> torch.Tensor:
    """A MinkowskiEngine 2-D kernel as a conv weight, as the official ``remap_checkpoint_keys``
    does: depthwise ``(k*k, C)`` -> ``(C, 1, k, k)``; ``(k*k, in, out)`` -> ``(out, in, k, k)``."""
    k = math.isqrt(kernel.shape[0])
    if kernel.ndim == 2:
        return kernel.permute(1, 0).reshape(kernel.shape[1], 1, k, k).transpose(3, 2)
    return kernel.permute(2, 1, 0).reshape(kernel.shape[2], kernel.shape[1], k, k).transpose(3, 2)


def _from_fair(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """FAIR classifiers and FCMAE encoders (dense or sparse) -> backbone weights."""
    out = {}
    for key, value in sd.items():
        if key.startswith(('head.', 'norm.')) or any(d in key for d in _FCMAE_DECODER):
            continue
        key = key[len('encoder.'):] if key.startswith('encoder.') else key
        if key.endswith('.kernel'):
            key, value = key[:-len('kernel')] + 'weight', _sparse_kernel_to_conv(value)
        key = '.'.join(part for part in key.split('.') if part not in ('ln', 'linear'))
        out[key] = value.reshape(-1) if key.endswith('.bias') else value  # sparse: (1, C)
    return out


def _from_backbone_prefix(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """mmpretrain classifiers and mmdet/mmseg models: the ``backbone.*`` keys, renamed."""
    out = {}
    for key, value in sd.items():
        if key.startswith('backbone.'):
            key = key[len('backbone.'):]
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
        backbone = _from_timm(sd)
    elif layout in ('official', 'fcmae'):
        backbone = _from_fair(sd)
    else:
        backbone = _from_backbone_prefix(sd)
    if layout == 'mmpretrain':
        backbone = {k: v for k, v in backbone.items() if not k.startswith('norm3.')}
    # GRN: (1, 1, 1, 4C) in FAIR files, (1, 4C) in sparse ones, (4C,) here
    return {k: v.reshape(-1) if k.endswith(('grn.gamma', 'grn.beta')) else v
            for k, v in backbone.items()}, layout


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


def is_v2(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether an official-layout state dict holds ConvNeXt-V2 weights (it has GRN)."""
    return any('.grn.' in k for k in state_dict)


def model_name(arch: str, v2: bool) -> str:
    return f'ConvNeXt-{"V2-" if v2 else ""}{arch}'


def summarize_keys(keys: Iterable[str]) -> str:
    """Compress ``stages.0.1.dwconv.weight``-style keys into ``stages.0.*`` groups."""
    groups = defaultdict(int)
    for key in keys:
        groups[re.sub(r'^((?:[a-z_]+\d*)(?:\.\d+)?)\..*$', r'\1.*', key)] += 1
    return ', '.join(f'{g} ({n})' if n > 1 else g for g, n in sorted(groups.items())) or 'none'


def load_pretrained(model: nn.Module, checkpoint: str, prefix: Optional[str] = None) -> None:
    """Load ``checkpoint`` (path or URL; FAIR, FCMAE, timm, mmpretrain or detector layout) into
    ``model`` non-strictly and log what was loaded, missing and unexpected.

    A checkpoint of another arch or version (V1/V2) is an error naming both, not a partial load.
    """
    raw = load_checkpoint_file(checkpoint)
    try:
        state_dict = unwrap_state_dict(raw)
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                          if k.startswith(prefix)}
        state_dict, layout = convert_to_official(state_dict)
    except ValueError as exc:
        raise CheckpointError(f'{checkpoint}: {exc}') from None

    model_v2 = bool(getattr(model, 'use_grn', False))
    if any(k.startswith('stages.') for k in state_dict) and is_v2(state_dict) != model_v2:
        raise CheckpointError(f'{checkpoint} holds ' + (
            'ConvNeXt V1 weights (no GRN) but the model is ConvNeXt-V2: set use_grn=False, '
            'layer_scale_init_value=1e-6' if model_v2 else
            'ConvNeXt-V2 weights (GRN) but the model is ConvNeXt V1: set use_grn=True, '
            'layer_scale_init_value=0.') + ' in the backbone config')
    own = model.state_dict()
    mismatched = [k for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        ckpt_name = model_name(arch_name(*infer_arch(state_dict)), model_v2)
        own_name = model_name(getattr(model, 'arch', '?'), model_v2)
        key = mismatched[0]
        raise CheckpointError(
            f'{checkpoint} holds {ckpt_name} weights but the model is {own_name} (e.g. {key}: '
            f'{tuple(state_dict[key].shape)} vs {tuple(own[key].shape)}); set arch to match the '
            'checkpoint or use a matching one')
    result = model.load_state_dict(state_dict, strict=False)
    loaded = len(state_dict) - len(result.unexpected_keys)
    if loaded == 0:
        raise CheckpointError(f'{checkpoint} ({layout} layout) shares no weights with the '
                              'ConvNeXt backbone; check the file or the prefix')
    print_log(f'loaded {loaded}/{len(own)} backbone tensors from {checkpoint} ({layout} layout); '
              f'missing: {summarize_keys(result.missing_keys)}; '
              f'unexpected: {summarize_keys(result.unexpected_keys)}', logger='current')


def convert_checkpoint(src: str, dst: str) -> Tuple[str, str, int]:
    """Convert ``src`` (FAIR, FCMAE, timm .pth/.safetensors, mmpretrain or detector) to
    ``{'state_dict': backbone weights}`` at ``dst``; returns (layout, model name such as
    ``ConvNeXt-V2-base``, tensor count).

    ``dst`` ending in ``.safetensors`` is written without pickle.
    """
    try:
        state_dict, layout = convert_to_official(unwrap_state_dict(load_checkpoint_file(src)))
    except ValueError as exc:
        raise CheckpointError(f'{src}: {exc}') from None
    state_dict = {k: v.contiguous() for k, v in state_dict.items() if torch.is_tensor(v)}
    arch, v2 = arch_name(*infer_arch(state_dict)), is_v2(state_dict)
    meta = {'layout': 'official', 'arch': arch, 'version': 'V2' if v2 else 'V1'}
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    if dst.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(state_dict, dst, metadata=meta)
        umask = os.umask(0)  # safetensors writes 0600; give it the mode torch.save would
        os.umask(umask)
        os.chmod(dst, 0o666 & ~umask)
    else:
        torch.save({'state_dict': state_dict, 'meta': dict(meta, source_layout=layout)}, dst)
    return layout, model_name(arch, v2), len(state_dict)


def check_model_coverage(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str,
                         fine_tuning: bool = False) -> None:
    """Stop before ``model`` is half loaded from ``state_dict``: every tensor of the model
    must be in it with its shape. Fine-tuning (``load_from`` in training) may skip tensors of
    another shape, such as another dataset's classifier; they are named in the log."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    mismatched = [k for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or (mismatched and not fine_tuning):
        bad = missing + mismatched
        parts = defaultdict(int)
        for key in bad:
            parts[key.split('.')[0]] += 1
        counts = ', '.join(f'{n} of {part}' for part, n in parts.items())
        held = sorted({k.split('.')[0] for k in state_dict})
        what = (f'{len(missing)} missing' if missing else '') + (', ' if missing and mismatched
                                                                 else '') + (
            f'{len(mismatched)} of another shape' if mismatched else '')
        raise CheckpointError(
            f'checkpoint {source} does not fit this {type(model).__name__}: {len(bad)} of its '
            f'{len(own)} tensors ({counts}) would stay unloaded ({what}; first: '
            f'{", ".join(bad[:3])}); the checkpoint holds {", ".join(held[:8]) or "nothing"}. '
            'Pass a checkpoint of this model (same config), or --allow-partial-checkpoint '
            '(config: allow_partial_checkpoint = True) to load what fits')
    if mismatched:
        print_log(f'fine-tuning from {source}: {len(mismatched)} tensors of another shape are '
                  f'not loaded ({", ".join(mismatched[:4])}); they start from their init',
                  logger='current')


def load_model_checkpoint(model: nn.Module, checkpoint: Union[str, dict],
                          allow_partial: bool = False, fine_tuning: bool = False,
                          source: str = '') -> dict:
    """Load a whole-model checkpoint (a path, URL or the loaded dict) into ``model`` through
    MMEngine's loading, after :func:`check_model_coverage` unless ``allow_partial``. The file
    is read once; returns the checkpoint dict."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    source = source or str(checkpoint)
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint_file(checkpoint)
    try:
        state_dict = unwrap_state_dict(checkpoint)
    except ValueError as exc:
        raise CheckpointError(f'{source}: {exc}') from None
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items()}
    if not allow_partial:
        check_model_coverage(model, state_dict, source, fine_tuning)
    _load_checkpoint_to_model(model, {'state_dict': state_dict}, strict=False,
                              logger='current')
    return checkpoint
