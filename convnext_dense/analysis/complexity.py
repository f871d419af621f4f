"""Parameters and FLOPs of a config's whole model, counted by MMEngine's analyzer.

The counter is ``mmengine.analysis.FlopAnalyzer`` (the analyzer behind
``get_model_complexity_info``, one multiply-add = one FLOP), on the model's tensor-mode
forward ``model._forward(inputs, data_samples)``: backbone, neck and heads without
post-processing, the convention of mmdet's and mmseg's own get_flops tools and of the paper
(for a segmentor: the whole image in one pass, decode head only, no auxiliary head). The
analyzer is used directly rather than through ``get_model_complexity_info`` because the
latter traces the model a second time to count activations, which doubles the time and is
not reported; tests check both give the same FLOPs.

Counting traces a real forward pass, which takes minutes for the large models on a small
CPU. Since every block of a ConvNeXt stage sees the same shapes, the count is exact if the
deep stage is traced with only a few blocks and the remaining blocks' FLOPs are added as
copies of one traced block (``shortcut=True``, the default). Parameters are counted on the
full model built on the ``meta`` device (no memory, no time).
"""
import copy
import time
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config

from ..models.convnext import resolve_arch
from .models import (TensorModeForward, build_model, default_input_size, dummy_data_samples,
                     task_of)

# the deep stage of ConvNeXt (27 blocks in S/B/L/XL) and how many of its blocks to trace
DEEP_STAGE = 2
TRACED_BLOCKS = 3
TOP_LEVEL_PARTS = ('backbone', 'neck', 'rpn_head', 'roi_head', 'decode_head',
                   'auxiliary_head', 'bbox_head')


@dataclass
class Complexity:
    params: int
    flops: int
    width: int
    height: int
    flops_by_part: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    shortcut_blocks: int = 0  # stage blocks whose FLOPs were added as copies, not traced


def _shallow_backbone(cfg: Config) -> Tuple[Config, int]:
    """A copy of ``cfg`` whose backbone's deep stage has ``TRACED_BLOCKS`` blocks, and how
    many blocks were removed (0 when the backbone is not a ConvNeXt or already shallow)."""
    backbone = cfg.model.get('backbone', {})
    if 'ConvNeXt' not in str(backbone.get('type', '')) or 'arch' not in backbone:
        return cfg, 0
    depths, dims = resolve_arch(backbone['arch'] if not isinstance(backbone['arch'], dict)
                                else dict(backbone['arch']))
    removed = depths[DEEP_STAGE] - TRACED_BLOCKS
    if removed <= 0:
        return cfg, 0
    shallow = copy.deepcopy(cfg)
    new_depths = list(depths)
    new_depths[DEEP_STAGE] = TRACED_BLOCKS
    # mmpretrain's ConvNeXt spells dims 'channels'; ours accepts both
    key = 'channels' if 'mmpretrain' in str(backbone['type']) else 'dims'
    shallow.model.backbone.arch = {'depths': new_depths, key: list(dims)}
    return shallow, removed


def count_flops(model: torch.nn.Module, task: str, width: int, height: int,
                paper_convention: bool = True) -> Tuple[int, Dict[str, int], FlopAnalyzer]:
    """Total FLOPs of ``model``'s tensor-mode forward on one ``height x width`` image,
    and per top-level part (backbone, neck, heads). ``paper_convention``: cascade mask
    heads on 100 RoIs, see :class:`TensorModeForward`."""
    torch.manual_seed(0)  # the RPN's proposals (and so the RoI heads' work) depend on it
    inputs = torch.randn(1, 3, height, width)
    wrapped = TensorModeForward(model, dummy_data_samples(task, 1, height, width),
                                paper_convention)
    analyzer = FlopAnalyzer(wrapped, (inputs,))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        total = analyzer.total()
    by_module = analyzer.by_module()
    parts = {name: by_module.get(f'model.{name}', 0) for name in TOP_LEVEL_PARTS
             if hasattr(model, name) and getattr(model, name) is not None}
    return total, parts, analyzer


def model_complexity(cfg: Config, size: Optional[Tuple[int, int]] = None,
                     shortcut: bool = True, paper_convention: bool = True) -> Complexity:
    """Params and FLOPs of ``cfg``'s model at ``size=(width, height)`` (default: the
    paper's input size for the task); ``paper_convention=False`` counts mmdet 3's tensor
    mode as it is (cascade mask heads on all 1000 proposals)."""
    task = task_of(cfg)
    width, height = size or default_input_size(cfg)
    start = time.perf_counter()
    params = parameter_count(build_model(cfg, device='meta'))['']
    traced_cfg, removed = _shallow_backbone(cfg) if shortcut else (cfg, 0)
    torch.manual_seed(0)
    model = build_model(traced_cfg)
    total, parts, analyzer = count_flops(model, task, width, height, paper_convention)
    if removed:
        block = analyzer.by_module().get(f'model.backbone.stages.{DEEP_STAGE}.0', 0)
        total += removed * block
        parts['backbone'] += removed * block
    return Complexity(params=params, flops=total, width=width, height=height,
                      flops_by_part=parts, seconds=time.perf_counter() - start,
                      shortcut_blocks=removed)
