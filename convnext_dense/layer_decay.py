"""Layer-wise learning-rate decay for ConvNeXt, with the official semantics (docs/configs.md):
the layer of a parameter is ``ConvNeXt.get_layer_id``'s. The name differs from mmdet's and
mmseg's ``LearningRateDecayOptimizerConstructor``, which would shadow it."""
from typing import Dict, List

import torch.nn as nn
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from .errors import ConfigError
from .registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(decay_rate=r, decay_type='layer_wise'|'stage_wise', num_layers=n)``:
    with ``N = n + 2`` a parameter of layer id ``i`` gets ``base_lr * r ** (N - i - 1)``, the
    neck and heads ``i = N - 1``; no weight decay for 1-D parameters and biases; frozen ones are
    left out. MMEngine's ``custom_keys`` (``lr_mult``, ``decay_mult``) multiply on top."""

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        backbone = getattr(module, 'backbone', None)
        if not hasattr(backbone, 'get_layer_id'):
            raise ConfigError(
                'LayerDecayOptimizerConstructor needs a model whose backbone is '
                f"convnext_dense.ConvNeXt, but this {type(module).__name__}'s backbone is "
                f'{type(backbone).__name__}; use the default optimizer constructor instead')
        decay_rate = self.paramwise_cfg.get('decay_rate', 1.0)
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        if decay_type not in ('layer_wise', 'stage_wise'):
            raise ConfigError(f"decay_type must be 'layer_wise' or 'stage_wise', got {decay_type!r}")
        num_layers = self.paramwise_cfg.get('num_layers') or backbone.default_num_layers
        top_id = num_layers + 1  # N - 1
        custom_keys = self.paramwise_cfg.get('custom_keys', {})

        groups: Dict[str, dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = (backbone.get_layer_id(name[len('backbone.'):], num_layers, decay_type)
                        if name.startswith('backbone.') else top_id)
            key = max((k for k in custom_keys if k in name), key=len, default=None)
            mult = custom_keys.get(key, {})
            no_decay = param.ndim == 1 or name.endswith('.bias') or mult.get('decay_mult', 1.) == 0
            group_name = f'layer_{layer_id}_{"no_decay" if no_decay else "decay"}' + (
                '' if key is None else f'_{key}')
            if group_name not in groups:
                scale = decay_rate ** (top_id - layer_id) * mult.get('lr_mult', 1.)
                groups[group_name] = dict(params=[], param_names=[], group_name=group_name,
                                          lr_scale=scale, lr=scale * self.base_lr)
                if no_decay or self.base_wd is not None:  # else the optimizer's default
                    groups[group_name]['weight_decay'] = 0. if no_decay else \
                        self.base_wd * mult.get('decay_mult', 1.)
            groups[group_name]['params'].append(param)
            groups[group_name]['param_names'].append(name)

        ordered = sorted(groups.values(), key=lambda g: g['group_name'])
        rows = [f'layer-wise lr decay: type={decay_type} rate={decay_rate} num_layers={num_layers}',
                f'{"group":<34}{"tensors":>8}{"lr_scale":>12}{"lr":>12}{"wd":>8}  first param']
        for g in ordered:
            wd = g.get('weight_decay', float('nan'))  # nan: the optimizer's default
            rows.append(f'{g["group_name"]:<34}{len(g["params"]):>8}{g["lr_scale"]:>12.4f}'
                        f'{g["lr"]:>12.3e}{wd:>8.3g}  {g["param_names"][0]}')
        if get_dist_info()[0] == 0:
            print_log('\n'.join(rows), logger='current')
        params.extend(ordered)
