"""Layer-wise learning-rate decay for ConvNeXt, with the official semantics.

The backbone says which layer a parameter belongs to (``ConvNeXt.get_layer_id``), so this
constructor never parses architecture-specific names. Its registered name differs from the
``LearningRateDecayOptimizerConstructor`` that mmdet and mmseg register, which would
otherwise shadow it.
"""
from typing import Dict, List

import torch.nn as nn
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from .errors import ConfigError
from .registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(decay_rate=r, decay_type='layer_wise'|'stage_wise', num_layers=n)``.

    With ``N = n + 2`` every parameter's learning rate is ``base_lr * r ** (N - id - 1)``,
    where ``id`` is its layer id; parameters outside the backbone (neck, heads) get
    ``id = N - 1``, i.e. the full learning rate. 1-D parameters and biases (norms, ``gamma``)
    get no weight decay. ``num_layers`` defaults to what the backbone's depth implies
    (6 for tiny, 12 for small..xlarge). Frozen parameters are left out.
    ``custom_keys`` (MMEngine's: the longest key found in a name, ``lr_mult`` and
    ``decay_mult``) multiply on top, e.g. ``{'backbone': dict(lr_mult=0.1), 'query_embed':
    dict(decay_mult=0.)}`` for the query-based heads' published recipes.
    """

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
            if name.startswith('backbone.'):
                layer_id = backbone.get_layer_id(name[len('backbone.'):], num_layers, decay_type)
            else:
                layer_id = top_id
            key = max((k for k in custom_keys if k in name), key=len, default=None)
            mult = custom_keys.get(key, {})
            no_decay = (param.ndim == 1 or name.endswith('.bias')
                        or mult.get('decay_mult', 1.) == 0)
            group_name = f'layer_{layer_id}_{"no_decay" if no_decay else "decay"}'
            if key is not None:
                group_name += f'_{key}'
            if group_name not in groups:
                scale = decay_rate ** (top_id - layer_id) * mult.get('lr_mult', 1.)
                groups[group_name] = dict(
                    params=[], param_names=[], group_name=group_name, lr_scale=scale,
                    lr=scale * self.base_lr)
                if no_decay or self.base_wd is not None:  # else the optimizer's default
                    groups[group_name]['weight_decay'] = 0. if no_decay else \
                        self.base_wd * mult.get('decay_mult', 1.)
            groups[group_name]['params'].append(param)
            groups[group_name]['param_names'].append(name)

        ordered = sorted(groups.values(), key=lambda g: g['group_name'])
        if get_dist_info()[0] == 0:
            print_log(self._table(ordered, decay_type, decay_rate, num_layers), logger='current')
        params.extend(ordered)

    @staticmethod
    def _table(groups: List[dict], decay_type: str, decay_rate: float, num_layers: int) -> str:
        lines = [f'layer-wise lr decay: type={decay_type} rate={decay_rate} '
                 f'num_layers={num_layers}',
                 f'{"group":<34}{"tensors":>8}{"lr_scale":>12}{"lr":>12}{"wd":>8}  first param']
        for g in groups:
            wd = g.get('weight_decay', float('nan'))  # nan: the optimizer's default
            lines.append(f'{g["group_name"]:<34}{len(g["params"]):>8}{g["lr_scale"]:>12.4f}'
                         f'{g["lr"]:>12.3e}{wd:>8.3g}  {g["param_names"][0]}')
        return '\n'.join(lines)
