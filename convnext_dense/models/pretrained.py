"""Load ImageNet (or trained-model) weights into a ConvNeXt backbone from any layout."""
import re
from collections import defaultdict
from typing import Iterable, Optional

import torch.nn as nn
from mmengine.logging import print_log

from ..checkpoint import CheckpointError, load_checkpoint_file
from .checkpoint_layouts import convert_to_official, infer_arch, unwrap_state_dict
from .convnext import arch_name


def summarize_keys(keys: Iterable[str]) -> str:
    """Compress ``stages.0.1.dwconv.weight``-style keys into ``stages.0.*`` groups."""
    groups = defaultdict(int)
    for key in keys:
        groups[re.sub(r'^((?:[a-z_]+\d*)(?:\.\d+)?)\..*$', r'\1.*', key)] += 1
    return ', '.join(f'{g} ({n})' if n > 1 else g for g, n in sorted(groups.items())) or 'none'


def load_pretrained(model: nn.Module, checkpoint: str, prefix: Optional[str] = None) -> None:
    """Load ``checkpoint`` (path or URL; FAIR, timm, mmpretrain or detector layout) into
    ``model`` non-strictly and log what was loaded, missing and unexpected.

    A checkpoint of another arch is an error naming both archs, not a silent partial load.
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

    own = model.state_dict()
    mismatched = [k for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    if mismatched:
        ckpt_arch = arch_name(*infer_arch(state_dict))
        key = mismatched[0]
        raise CheckpointError(
            f'{checkpoint} holds ConvNeXt-{ckpt_arch} weights but the model is ConvNeXt-'
            f'{getattr(model, "arch", "?")} (e.g. {key}: {tuple(state_dict[key].shape)} vs '
            f'{tuple(own[key].shape)}); set arch to match the checkpoint or use a matching one')
    result = model.load_state_dict(state_dict, strict=False)
    loaded = len(state_dict) - len(result.unexpected_keys)
    if loaded == 0:
        raise CheckpointError(f'{checkpoint} ({layout} layout) shares no weights with the '
                              'ConvNeXt backbone; check the file or the prefix')
    print_log(f'loaded {loaded}/{len(own)} backbone tensors from {checkpoint} ({layout} layout); '
              f'missing: {summarize_keys(result.missing_keys)}; '
              f'unexpected: {summarize_keys(result.unexpected_keys)}', logger='current')
