"""Benchmark cases: what is timed, described by plain dicts (``specs``) so that the same
case can be rebuilt in a fresh process to measure its peak memory.

A spec has ``name``, ``group`` and ``kind``:
- ``matmul``: ``size`` x ``size`` fp32 matrix product (the machine's reference rate);
- ``backbone``: ``impl`` (ours/timm/mmpretrain), ``arch``, ``channels_last``, ``compile``,
  ``train`` (forward + backward of the sum of the outputs' means), ``with_cp``;
- ``model``: a whole detector/segmentor from ``config``, optionally with ``swap_backbone=
  'mmpretrain'`` (the same network with mmpretrain's ConvNeXt, as in mmdet's own configs),
  run in tensor mode (``model._forward``: every layer, no post-processing; see
  :class:`convnext_dense.analysis.models.TensorModeForward`).
and ``batch``, ``height``, ``width``, ``device``.
"""
import copy
import time
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn

from .backbones import build_same_weights, official_to_mmpretrain
from .models import TensorModeForward, build_model, dummy_data_samples, load_config, task_of


def _inputs(spec: dict) -> torch.Tensor:
    torch.manual_seed(1)
    x = torch.randn(spec['batch'], 3, spec['height'], spec['width'], device=spec['device'])
    return x.contiguous(memory_format=torch.channels_last) if spec.get('channels_last') else x


def _prepare(model: nn.Module, spec: dict) -> nn.Module:
    model = model.to(spec['device'])
    if spec.get('channels_last'):
        model = model.to(memory_format=torch.channels_last)
    model.train(bool(spec.get('train')))
    if spec.get('compile'):
        model.compile()  # in place, what ConvNeXt(torch_compile=True) does
    return model


def _forward_call(model: nn.Module, x: torch.Tensor, train: bool) -> Callable[[], object]:
    if train:
        def step():
            outs = model(x)
            loss = sum(o.float().mean() for o in outs)
            loss.backward()
            model.zero_grad(set_to_none=True)
        return step

    def infer():
        with torch.inference_mode():
            return model(x)
    return infer


def model_config(spec: dict):
    """The spec's config, with the backbone swapped to mmpretrain's ConvNeXt if asked."""
    cfg = load_config(spec['config'])
    if spec.get('swap_backbone') == 'mmpretrain':
        backbone = cfg.model.backbone
        from ..models.convnext import resolve_arch
        depths, dims = resolve_arch(backbone['arch'])
        cfg.model.backbone = dict(
            type='mmpretrain.ConvNeXt', arch=dict(depths=list(depths), channels=list(dims)),
            out_indices=list(backbone.get('out_indices', (0, 1, 2, 3))),
            drop_path_rate=backbone.get('drop_path_rate', 0.),
            layer_scale_init_value=backbone.get('layer_scale_init_value', 1e-6),
            gap_before_final_norm=False)
        cfg.custom_imports = dict(imports=['mmpretrain.models'], allow_failed_imports=False)
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(['mmpretrain.models'])
    return cfg


def build_whole_model(spec: dict, weights_from: Optional[nn.Module] = None) -> nn.Module:
    """The spec's detector/segmentor; with ``weights_from`` (a model of this project's
    layout) its weights are copied in, the backbone keys mapped to mmpretrain's names when
    the backbone is mmpretrain's, strictly (every key must match)."""
    torch.manual_seed(0)
    model = build_model(model_config(spec))
    if weights_from is not None:
        state = weights_from.state_dict()
        if 'mmpretrain' in type(model.backbone).__module__:
            state = {('backbone.' + official_to_mmpretrain({k[9:]: v})
                      .popitem()[0] if k.startswith('backbone.') else k): v
                     for k, v in state.items()}
        model.load_state_dict(state, strict=True)
    return model


def build_call(spec: dict, shared: Optional[Dict[str, nn.Module]] = None
               ) -> Callable[[], object]:
    """A no-argument callable running the case once. ``shared`` holds models already built
    in this process (same weights across implementations); missing ones are built."""
    kind = spec['kind']
    if kind == 'matmul':
        torch.manual_seed(0)
        a = torch.randn(spec['size'], spec['size'], device=spec['device'])
        b = torch.randn(spec['size'], spec['size'], device=spec['device'])
        return lambda: torch.mm(a, b)
    x = _inputs(spec)
    if kind == 'backbone':
        impl, with_cp = spec['impl'], bool(spec.get('with_cp'))
        if shared is not None and impl in shared and not with_cp:
            model = copy.deepcopy(shared[impl])
        else:
            wanted = ('ours', 'timm', 'mmpretrain') if impl == 'mmpretrain' else ('ours', 'timm')
            model = build_same_weights(spec['arch'], wanted, with_cp=with_cp)[impl]
        return _forward_call(_prepare(model, spec), x, bool(spec.get('train')))
    if kind == 'model':
        key = f"model:{spec['config']}"
        reference = shared.get(key) if shared is not None else None
        model = _prepare(build_whole_model(spec, reference), spec)
        if shared is not None and reference is None:
            shared[key] = model
        cfg = load_config(spec['config'])
        samples = dummy_data_samples(task_of(cfg), spec['batch'], spec['height'], spec['width'])
        return _forward_call(TensorModeForward(model, samples), x, False)
    raise ValueError(f'unknown benchmark case kind {kind!r}')


def first_call_seconds(fn: Callable[[], object]) -> float:
    """Time of the first call (for compiled cases: the compilation)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
