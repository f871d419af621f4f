"""Mixed precision without a GPU: MMEngine's ``AmpOptimWrapper`` under ``torch.autocast('cpu')``,
and fp32 for the mmcv ops that have no half-precision CPU kernels.

The recipes' ``type='AmpOptimWrapper'`` reaches this subclass through a ``force=True`` entry in
MMEngine's root registry: mmdet's and mmseg's scopes fall back to the root, never to a sibling
scope such as ours; on a GPU the subclass is MMEngine's class unchanged.
"""
import functools
from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator, Optional, Union

import torch
import torch.nn as nn
from mmcv.ops.nms import NMSop, SoftNMSop
from mmcv.ops.roi_align import RoIAlign
from mmengine import registry as mmengine
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper

from .registry import OPTIM_WRAPPERS


@functools.lru_cache(maxsize=None)
def cpu_amp_dtype() -> torch.dtype:
    """bf16 where oneDNN has bf16 kernels for this CPU (AVX-512, AMX), else fp32, i.e. no
    autocast: elsewhere bf16 and fp16 are emulated, tens of times slower than fp32. Logged once."""
    native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    print_log('mixed precision on this CPU: bfloat16' if native else 'mixed precision: this CPU '
              'has no native bf16 kernels (oneDNN), so it runs in float32', logger='current')
    return torch.bfloat16 if native else torch.float32


def inference_autocast(device: str = 'cpu', enabled: bool = True) -> ContextManager:
    """``--amp`` of tools/infer.py: fp16 on a GPU, :func:`cpu_amp_dtype` on a CPU."""
    device_type = torch.device(device).type
    if device_type != 'cpu' or not enabled:
        return torch.autocast(device_type, enabled=enabled)
    return torch.autocast('cpu', dtype=cpu_amp_dtype(), enabled=cpu_amp_dtype() != torch.float32)


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(MMEngineAmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper``, which on a machine without an accelerator autocasts on
    the CPU: ``dtype=None`` gives :func:`cpu_amp_dtype`; ``'float16'`` adds a CPU GradScaler
    configured by ``loss_scale`` as MMEngine's is (its state goes into checkpoints)."""

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, use_fsdp: bool = False,
                 **kwargs):
        self.on_cpu = get_device() == 'cpu'
        if not self.on_cpu:
            super().__init__(loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)  # MMEngine's asserts an accelerator
        if isinstance(dtype, str):
            assert dtype in self.valid_dtypes, f'dtype must be one of {self.valid_dtypes}'
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype or cpu_amp_dtype()
        if not isinstance(loss_scale, (float, dict)) and loss_scale != 'dynamic':
            raise TypeError(f"loss_scale must be a float, a dict or 'dynamic', got {loss_scale}")
        self._scale_update_param = loss_scale if isinstance(loss_scale, float) else None
        scaler_args = loss_scale if isinstance(loss_scale, dict) else (
            dict(init_scale=loss_scale) if isinstance(loss_scale, float) else {})
        # bf16 has fp32's exponent range: only fp16 gradients need scaling. MMEngine's
        # backward, step and state_dict use a disabled scaler as the identity.
        self.loss_scaler = torch.amp.GradScaler(
            'cpu', enabled=self.cast_dtype == torch.float16, **scaler_args)
        if dtype is not None:
            print_log(f'mixed precision on the CPU: {dtype} (optim_wrapper.dtype)',
                      logger='current')

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


def _fp32_inside_cpu_autocast(forward: Callable) -> Callable:
    """``forward(self, input, rois)`` in fp32 on contiguous memory inside CPU autocast, with
    the output in input's dtype: what torchvision's autocast kernel does for its roi_align."""
    @functools.wraps(forward)
    def fp32_forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        if input.is_cpu and torch.is_autocast_enabled('cpu'):
            with torch.autocast('cpu', enabled=False):
                return forward(self, input.float().contiguous(), rois.float()).to(input.dtype)
        return forward(self, input.contiguous(), rois)
    return fp32_forward


# mmcv's CPU RoIAlign has fp32/fp64/fp16 kernels only and reads raw NCHW memory (mmcv#2203: a
# channels-last or strided input is misread); its NMS reads fp32 memory. NMS returns indices,
# so torch.amp's decorator for custom functions suffices there.
RoIAlign.forward = _fp32_inside_cpu_autocast(RoIAlign.forward)
for _function in (NMSop, SoftNMSop):
    _function.forward = staticmethod(torch.amp.custom_fwd(
        _function.forward, device_type='cpu', cast_inputs=torch.float32))
