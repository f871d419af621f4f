"""Mixed precision without a GPU: MMEngine's ``AmpOptimWrapper`` under ``torch.autocast('cpu')``,
with what in mmcv and mmdet needs fp32 kept in fp32. The recipes' ``type='AmpOptimWrapper'``
reaches this subclass through a ``force=True`` entry in MMEngine's root registry: mmdet's and
mmseg's scopes fall back to the root, never to a sibling scope such as ours; on a GPU the
subclass is MMEngine's class unchanged."""
import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Union

import torch
import torch.nn as nn
from mmcv.ops import RoIAlign
from mmcv.ops.nms import NMSop, SoftNMSop
from mmengine import registry as mmengine
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper

from .registry import OPTIM_WRAPPERS


def _fp32(value: Any) -> Any:
    if torch.is_tensor(value) and value.is_floating_point():
        return value.float().contiguous()
    return type(value)(map(_fp32, value)) if isinstance(value, (list, tuple)) else value


def _fp32_inside_cpu_autocast(function: Callable) -> Callable:
    """Inside CPU autocast, ``function(first, *args)`` runs without it, its floating tensors
    (also in lists) contiguous fp32: torch.amp.custom_fwd's cast, which breaks ConfigDicts."""
    @functools.wraps(function)
    def fp32_function(first: Any, *args, **kwargs) -> Any:
        if not torch.is_autocast_enabled('cpu'):
            return function(first, *args, **kwargs)
        with torch.autocast('cpu', enabled=False):
            return function(first, *_fp32(args), **{k: _fp32(v) for k, v in kwargs.items()})
    return fp32_function


# mmcv's CPU RoIAlign has fp32/fp64/fp16 kernels only and reads raw NCHW memory (mmcv#2203:
# channels-last input is misread); its NMS reads fp32 memory
RoIAlign.forward = _fp32_inside_cpu_autocast(RoIAlign.forward)
for _op in (NMSop, SoftNMSop):
    _op.forward = staticmethod(_fp32_inside_cpu_autocast(_op.forward))


@functools.lru_cache(maxsize=None)
def _fp32_box_postprocessing() -> None:
    """mmdet 3 makes anchors and boxes in its heads' output dtype (bf16: 8-pixel steps at 1216
    px) and RoIs in the features': under CPU autocast in fp32, as mmdet 2's force_fp32 did."""
    from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
    from mmdet.models.roi_heads import BBoxHead, SingleRoIExtractor
    for cls, name in ((BaseDenseHead, 'predict_by_feat'), (BBoxHead, 'predict_by_feat'),
                      (SingleRoIExtractor, 'forward')):
        setattr(cls, name, _fp32_inside_cpu_autocast(getattr(cls, name)))


@functools.lru_cache(maxsize=None)
def cpu_autocast_dtype(dtype: Optional[Union[str, torch.dtype]] = None) -> torch.dtype:
    """``dtype``, else bf16 where the CPU has bf16 instructions (AVX512-BF16, AMX, Arm BF16)
    and fp32 elsewhere (bf16 is emulated there, up to 50x slower); keeps mmdet's boxes fp32."""
    _fp32_box_postprocessing()
    if dtype is not None:
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    native = torch.backends.mkldnn.is_available() and any(
        torch.cpu.get_capabilities().get(flag) for flag in ('avx512_bf16', 'amx_bf16', 'bf16'))
    print_log('mixed precision on this CPU: bfloat16' if native else 'mixed precision: this CPU '
              'has no bf16 instructions, so it runs in float32', logger='current')
    return torch.bfloat16 if native else torch.float32


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(MMEngineAmpOptimWrapper):
    """MMEngine's; without an accelerator, CPU autocast to :func:`cpu_autocast_dtype` and for
    fp16 a CPU GradScaler set by ``loss_scale`` as MMEngine's (saved in checkpoints)."""

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, **kwargs):
        self.on_cpu = get_device() == 'cpu'
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)  # MMEngine's asserts an accelerator
        self.cast_dtype = cpu_autocast_dtype(dtype)
        self._scale_update_param = loss_scale if isinstance(loss_scale, float) else None
        scaler_args = loss_scale if isinstance(loss_scale, dict) else (
            {} if loss_scale == 'dynamic' else dict(init_scale=loss_scale))
        # only fp16 needs scaling (bf16 has fp32's range); MMEngine ignores a disabled scaler
        self.loss_scaler = torch.amp.GradScaler(
            'cpu', enabled=self.cast_dtype == torch.float16, **scaler_args)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        if not self.on_cpu:
            with super().optim_context(model):
                yield
            return
        # MMEngine's autocast() refuses fp16 on a CPU; fp32 means no autocast
        with OptimWrapper.optim_context(self, model), torch.autocast(
                'cpu', dtype=self.cast_dtype, enabled=self.cast_dtype != torch.float32):
            yield


mmengine.OPTIM_WRAPPERS.register_module('AmpOptimWrapper', force=True, module=AmpOptimWrapper)
