"""Map ConvNeXt checkpoints of every common layout (table in docs/checkpoints.md) onto the official
backbone layout: pure functions on state dicts, and their users :func:`load_pretrained` (the
backbone's ``init_cfg``) and :func:`load_model_checkpoint` (whole models, never half loaded)."""
import math
import os.path as osp
import re
from collections import Counter
from typing import Dict, Iterable, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel

from .archs import arch_name
from .checkpoint import CheckpointError, load_checkpoint_file

StateDict = Dict[str, torch.Tensor]

# Renames from every known layout to ours, in order, on keys relative to the backbone (ours are
# left as they are): transformers' ConvNext/ConvNextV2 (Model, Backbone) and DINOv3ConvNext, timm
# and open_clip's trunk, mmpretrain (the backbone of mmdet's and mmseg's released models)
_RENAMES = tuple((re.compile(p), r) for p, r in (
    (r'^embeddings\.patch_embeddings\.', 'downsample_layers.0.0.'),
    (r'^embeddings\.layernorm\.', 'downsample_layers.0.1.'),
    (r'^stem\.', 'downsample_layers.0.'),
    (r'^(?:encoder\.)?stages\.(\d)\.(?:downsampling_layer|downsample_layers|downsample)\.',
     r'downsample_layers.\1.'),
    (r'^(?:encoder\.)?stages\.(\d)\.(?:layers|blocks)\.', r'stages.\1.'),
    (r'^hidden_states_norms\.stage(\d)\.', lambda m: f'norm{int(m[1]) - 1}.'),
    (r'\.(?:conv_dw|depthwise_conv)\.', '.dwconv.'),
    (r'\.(?:mlp\.fc|pointwise_conv)([12])\.', r'.pwconv\1.'),
    (r'\.(?:layernorm|layer_norm)\.', '.norm.'),
    (r'\.layer_scale_parameter$', '.gamma'),
    (r'\.(?:mlp\.)?grn\.(?:weight|gamma)$', '.grn.gamma'),
    (r'\.(?:mlp\.)?grn\.(?:bias|beta)$', '.grn.beta'),
))
# where a whole model keeps its ConvNeXt: mmdet/mmseg/mmpretrain models and transformers'
# UperNet, open_clip, transformers' classifiers, DINOv3ConvNextModel in transformers >= 5
_WRAPPERS = ('backbone.', 'visual.trunk.', 'convnext.', 'convnextv2.', 'model.')
# the classifier's parts (final norm, head) in the timm, transformers and DINOv3 layouts
_CLASSIFIER_KEY = re.compile(r'(head|layernorm|layer_norm|classifier|pooler)\.')
# (layout, a pattern that keys relative to the backbone match only in it), the first found wins
_LAYOUTS = tuple((name, re.compile(pattern)) for name, pattern in (
    ('transformers', r'embeddings\.patch_embeddings\.|(encoder\.)?stages\.\d+\.layers\.'),
    ('timm', r'stem\.|stages\.\d+\.blocks\.'),
    # FCMAE pre-training only: the ``encoder.`` prefix, MinkowskiEngine kernels
    ('fcmae', r'encoder\.(downsample_layers|stages)\.|(downsample_layers|stages)\..*\.kernel$'),
    ('official', r'downsample_layers\.')))
# what the official FCMAE fine-tuning drops: the decoder side of the pre-training model
_FCMAE_DECODER = ('decoder', 'mask_token', 'proj', 'pred')


def unwrap_state_dict(checkpoint: Mapping) -> StateDict:
    """The tensor dict inside a checkpoint file's top-level object."""
    outer = checkpoint if isinstance(checkpoint, Mapping) else {}
    for inner in [outer.get(key) for key in ('state_dict', 'model', 'module')] + [outer]:
        if isinstance(inner, Mapping) and any(torch.is_tensor(v) for v in inner.values()):
            return dict(inner)
    raise ValueError('no state dict found: expected a dict of tensors, or one under '
                     "'state_dict' or 'model'")


def _backbone_part(sd: Mapping[str, torch.Tensor]) -> Tuple[StateDict, str]:
    """The keys under the first wrapper prefix of ``_WRAPPERS`` found (all if none), relative."""
    wrapper = next((w for w in _WRAPPERS if any(k.startswith(w) for k in sd)), '')
    return {k[len(wrapper):]: v for k, v in sd.items() if k.startswith(wrapper)}, wrapper


def detect_layout(state_dict: Mapping[str, torch.Tensor]) -> str:
    """``official``, ``fcmae``, ``timm``, ``transformers``, ``open_clip``, ``mmpretrain`` (a
    classifier) or ``detector`` (a whole mmdet/mmseg model); ValueError otherwise."""
    sd = {k.removeprefix('module.'): v for k, v in state_dict.items()}
    keys, wrapper = _backbone_part(sd)
    layout = next((name for name, pattern in _LAYOUTS if any(pattern.match(k) for k in keys)), None)
    if layout is None:
        sample = ', '.join(sorted(sd)[:3]) or 'no keys'
        raise ValueError(f'not a ConvNeXt checkpoint: found none of the FAIR, timm, transformers, '
                         f'open_clip, mmpretrain or detector key layouts (first keys: {sample})')
    if wrapper == 'visual.trunk.':
        return 'open_clip'
    if wrapper == 'backbone.' and layout != 'transformers':
        is_classifier = any(k.startswith('head.') for k in sd) and 'norm0.weight' not in keys
        mmpretrain = is_classifier and any('depthwise_conv' in k for k in keys)
        return 'mmpretrain' if mmpretrain else 'detector'
    return layout


def official_name(key: str, value: torch.Tensor) -> Tuple[str, torch.Tensor]:
    """A key relative to a ConvNeXt, in any layout of ``_RENAMES``, and its value, as ours."""
    for pattern, replacement in _RENAMES:
        key = pattern.sub(replacement, key)
    if re.search(r'pwconv[12]\.weight$', key) and value.ndim == 4:
        value = value.flatten(1)  # timm's conv_mlp variants (atto..nano): 1x1 conv -> Linear
    # GRN: (1, 1, 1, 4C) in FAIR and transformers files, (1, 4C) in sparse ones, (4C,) here
    return key, value.reshape(-1) if '.grn.' in key else value


def rename_backbone_keys(state_dict: dict, prefix: str) -> None:
    """Rename, in place, the keys of a ConvNeXt at ``prefix`` from any layout to ours."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        new_key, value = official_name(key[len(prefix):], state_dict.pop(key))
        state_dict[prefix + new_key] = value


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


def convert_to_official(state_dict: Mapping[str, torch.Tensor]) -> Tuple[StateDict, str]:
    """Backbone weights in the official layout, and the layout they came from; the classifier
    (``head.*``, its final norm) is dropped, as the official detection backbone never loads it."""
    sd = {k.removeprefix('module.'): v for k, v in state_dict.items()}
    layout = detect_layout(sd)
    relative = _backbone_part(sd)[0]
    if layout in ('official', 'fcmae'):
        relative = _from_fair(relative)
    backbone = dict(official_name(k, v) for k, v in relative.items()
                    if not _CLASSIFIER_KEY.match(k))
    if layout == 'mmpretrain':  # its classifier's final norm
        backbone = {k: v for k, v in backbone.items() if not k.startswith('norm3.')}
    return backbone, layout


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(depths, dims)`` of an official-layout state dict, for error messages."""
    dims = tuple(int(state_dict[f'stages.{s}.0.dwconv.weight'].shape[0])
                 if f'stages.{s}.0.dwconv.weight' in state_dict else 0 for s in range(4))
    blocks = [[int(m[1]) for m in (re.match(rf'stages\.{s}\.(\d+)\.', k) for k in state_dict) if m]
              for s in range(4)]
    return tuple(max(b, default=-1) + 1 for b in blocks), dims


def is_v2(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether an official-layout state dict holds ConvNeXt-V2 weights (it has GRN)."""
    return any('.grn.' in k for k in state_dict)


def model_name(arch: str, v2: bool) -> str:
    return f'ConvNeXt-{"V2-" if v2 else ""}{arch}'


def summarize_keys(keys: Iterable[str]) -> str:
    """Compress ``stages.0.1.dwconv.weight``-style keys into ``stages.0.*`` groups."""
    groups = Counter(re.sub(r'^((?:[a-z_]+\d*)(?:\.\d+)?)\..*$', r'\1.*', key) for key in keys)
    return ', '.join(f'{g} ({n})' if n > 1 else g for g, n in sorted(groups.items())) or 'none'


def weights_file(path: str) -> str:
    """``path``, or the weights file of a transformers, timm or open_clip model directory."""
    if not osp.isdir(path):
        return path
    for name in ('model.safetensors', 'pytorch_model.bin', 'open_clip_model.safetensors',
                 'open_clip_pytorch_model.bin'):
        if osp.isfile(osp.join(path, name)):
            return osp.join(path, name)
    raise CheckpointError(f'{path} is a directory without model.safetensors or pytorch_model.bin '
                          '(a sharded one is not read here); pass a checkpoint file')


def load_pretrained(model: nn.Module, checkpoint: str, prefix: Optional[str] = None) -> None:
    """Load ``checkpoint`` (path, URL or model directory; any layout) into ``model`` non-strictly
    and log what was loaded, missing and unexpected; another arch or version is an error."""
    try:  # the loader's own errors are CheckpointErrors already
        state_dict = unwrap_state_dict(load_checkpoint_file(weights_file(checkpoint)))
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
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


def check_model_coverage(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str,
                         fine_tuning: bool = False) -> None:
    """Stop before ``model`` is half loaded: every tensor of it must be in ``state_dict`` with its
    shape; fine-tuning may skip (and logs) those of another shape, e.g. another classifier."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    mismatched = [k for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or (mismatched and not fine_tuning):
        bad = missing + mismatched
        parts = Counter(key.split('.')[0] for key in bad)
        counts = ', '.join(f'{n} of {part}' for part, n in parts.items())
        held = ', '.join(sorted({k.split('.')[0] for k in state_dict})[:8]) or 'nothing'
        try:  # the backbone layout its names were read in
            seen = f'{detect_layout(state_dict)} layout'
        except ValueError:
            seen = 'no known ConvNeXt layout'
        what = ', '.join(filter(None, [missing and f'{len(missing)} missing',
                                       mismatched and f'{len(mismatched)} of another shape']))
        raise CheckpointError(
            f'checkpoint {source} does not fit this {type(model).__name__}: {len(bad)} of its '
            f'{len(own)} tensors ({counts}) would stay unloaded ({what}; first: '
            f'{", ".join(bad[:3])}); the checkpoint holds {held} ({seen}). Pass a checkpoint of '
            'this model (same config), or --allow-partial-checkpoint (config: '
            'allow_partial_checkpoint = True) to load what fits')
    if mismatched:
        print_log(f'fine-tuning from {source}: {len(mismatched)} tensors of another shape are '
                  f'not loaded ({", ".join(mismatched)}); they start from their init',
                  logger='current')


def load_model_checkpoint(model: nn.Module, checkpoint: Union[str, dict],
                          allow_partial: bool = False, fine_tuning: bool = False,
                          source: str = '') -> dict:
    """Load a whole-model checkpoint (path, URL or the loaded dict, read once and returned) into
    ``model`` through MMEngine's loading, after :func:`check_model_coverage` (``allow_partial``)."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    source = source or str(checkpoint)
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint_file(checkpoint)
    try:
        state_dict = unwrap_state_dict(checkpoint)
    except ValueError as exc:
        raise CheckpointError(f'{source}: {exc}') from None
    state_dict = {k.removeprefix('module.'): v for k, v in state_dict.items()}
    model = model.module if isinstance(model, BaseTTAModel) else model  # as MMEngine loads it
    for name, module in model.named_modules():  # what ConvNeXt._load_from_state_dict will do
        if getattr(module, 'renames_foreign_layouts', False):
            rename_backbone_keys(state_dict, f'{name}.' if name else '')
    if not allow_partial:
        check_model_coverage(model, state_dict, source, fine_tuning)
    _load_checkpoint_to_model(model, {'state_dict': state_dict}, strict=False, logger='current')
    return checkpoint
