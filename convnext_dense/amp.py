"""Mixed precision without a GPU (docs/mixed_precision.md): ``AmpOptimWrapper`` is MMEngine's
under ``torch.autocast('cpu')``; what in mmcv and mmdet needs fp32 runs in fp32 only inside
:func:`fp32_islands` (the wrapper's training forward, ``convnext_dense.Runner``'s testing)."""
import functools
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper

from .errors import UserError
from .registry import OPTIM_WRAPPERS


def _fp32(value: Any) -> Any:
    if torch.is_tensor(value) and value.is_floating_point():
        return value.float().contiguous()
    return type(value)(map(_fp32, value)) if isinstance(value, (list, tuple)) else value


def _fp32_inside_cpu_autocast(function: Callable) -> Callable:
    """Inside CPU autocast, ``function`` runs without it, its floating tensors (also in lists)
    contiguous fp32: torch.amp.custom_fwd's cast, which breaks ConfigDicts."""
    @functools.wraps(function)
    def fp32_function(*args, **kwargs) -> Any:
        if not torch.is_autocast_enabled('cpu'):
            return function(*args, **kwargs)
        with torch.autocast('cpu', enabled=False):
            return function(*_fp32(args), **{k: _fp32(v) for k, v in kwargs.items()})
    return fp32_function


def _fp32_methods() -> List[Tuple[type, str]]:
    """What runs in fp32 under CPU autocast, of the libraries this process has imported:
    mmcv's CPU RoIAlign (no bf16 kernel; reads raw NCHW memory, mmcv#2203) and NMS (reads fp32),
    mmdet 3's boxes (bf16 would put them on 8-pixel steps at 1216 px), as mmdet 2's force_fp32."""
    methods = []
    if 'mmcv.ops' in sys.modules:
        from mmcv.ops import RoIAlign
        from mmcv.ops.nms import NMSop, SoftNMSop
        methods += [(RoIAlign, 'forward'), (NMSop, 'forward'), (SoftNMSop, 'forward')]
    if 'mmdet.models' in sys.modules:
        from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
        from mmdet.models.roi_heads import BBoxHead, SingleRoIExtractor
        methods += [(BaseDenseHead, 'predict_by_feat'), (BBoxHead, 'predict_by_feat'),
                    (SingleRoIExtractor, 'forward')]
    return methods


@contextmanager
def fp32_islands() -> Iterator[None]:
    """Inside, :func:`_fp32_methods` run in fp32 under CPU autocast (restored on exit)."""
    originals = [(owner, name, owner.__dict__[name]) for owner, name in _fp32_methods()]
    for owner, name, original in originals:
        wrapped = _fp32_inside_cpu_autocast(getattr(owner, name))  # a staticmethod's function
        static = isinstance(original, staticmethod)
        setattr(owner, name, staticmethod(wrapped) if static else wrapped)
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16, AMX, Arm); elsewhere 10-50x slower."""
    return torch.backends.mkldnn.is_available() and any(
        torch.cpu.get_capabilities().get(flag) for flag in ('avx512_bf16', 'amx_bf16', 'bf16'))


def cpu_autocast_dtype(dtype: Optional[Union[str, torch.dtype]] = None) -> torch.dtype:
    """``dtype``, else bf16 where the CPU has native bf16 and fp32 elsewhere; fp16 refused on a
    CPU without AMX-FP16 (8-20x slower than fp32 there, benchmarks/amp_cpu.md)."""
    if dtype is None:
        return torch.bfloat16 if native_bf16() else torch.float32
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if dtype == torch.float16 and not torch.cpu.get_capabilities().get('amx_fp16'):
        raise UserError("fp16 autocast on this CPU (no AMX-FP16) runs 8-20x slower than fp32; "
                        "use optim_wrapper.dtype='bfloat16' (native on AVX512-BF16/AMX CPUs) "
                        'or leave dtype unset for the fastest precision of this CPU')
    return dtype


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(MMEngineAmpOptimWrapper):
    """MMEngine's; without an accelerator, CPU autocast to :func:`cpu_autocast_dtype` (fp32: none)
    and for fp16 a CPU GradScaler set by ``loss_scale`` as MMEngine's (saved in checkpoints)."""

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, **kwargs):
        self.on_cpu = get_device() == 'cpu'
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)  # MMEngine's asserts an accelerator
        self.cast_dtype = cpu_autocast_dtype(dtype)
        print_log(f'mixed precision on this CPU: {str(self.cast_dtype)[6:]}' + (
            ' (no native bf16 here)' if dtype is None and self.cast_dtype == torch.float32
            else ''), logger='current')
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
        # MMEngine's autocast() refuses fp16 on a CPU
        with OptimWrapper.optim_context(self, model), fp32_islands(), torch.autocast(
                'cpu', dtype=self.cast_dtype, enabled=self.cast_dtype != torch.float32):
            yield
