"""Write a clean backbone checkpoint (official layout) from any supported layout."""
import os
import os.path as osp
from typing import Tuple

import torch

from ..checkpoint import CheckpointError, load_checkpoint_file
from .checkpoint_layouts import convert_to_official, infer_arch, unwrap_state_dict
from .convnext import arch_name


def convert_checkpoint(src: str, dst: str) -> Tuple[str, str, int]:
    """Convert ``src`` (FAIR, timm .pth/.safetensors, mmpretrain or detector checkpoint) to
    ``{'state_dict': backbone weights}`` at ``dst``; returns (layout, arch, tensor count).

    ``dst`` ending in ``.safetensors`` is written without pickle.
    """
    try:
        state_dict, layout = convert_to_official(unwrap_state_dict(load_checkpoint_file(src)))
    except ValueError as exc:
        raise CheckpointError(f'{src}: {exc}') from None
    state_dict = {k: v.contiguous() for k, v in state_dict.items() if torch.is_tensor(v)}
    arch = arch_name(*infer_arch(state_dict))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    if dst.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(state_dict, dst, metadata={'layout': 'official', 'arch': arch})
    else:
        torch.save({'state_dict': state_dict, 'meta': {'layout': 'official', 'arch': arch,
                                                       'source_layout': layout}}, dst)
    return layout, arch, len(state_dict)
