"""ConvNeXt (Liu et al., CVPR 2022) as a multi-scale backbone for mmdet and mmseg.

The module tree and parameter names follow the official detection/segmentation backbone
(``downsample_layers.{i}.{j}``, ``stages.{s}.{b}.{dwconv,norm,pwconv1,pwconv2,gamma}``,
``norm{i}``), so FAIR ImageNet checkpoints load unchanged and the official layer-decay
rules apply to the names as they are. timm and mmpretrain checkpoints are mapped onto this
layout by :mod:`convnext_dense.models.checkpoint_layouts`.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from timm.layers import DropPath, LayerNorm2d, trunc_normal_

from ..registry import MODELS

# name: (depths, dims). atto..nano come from timm / ConvNeXt-V2; tiny..xlarge are the paper's.
ARCH_SETTINGS: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {
    'atto': ((2, 2, 6, 2), (40, 80, 160, 320)),
    'femto': ((2, 2, 6, 2), (48, 96, 192, 384)),
    'pico': ((2, 2, 6, 2), (64, 128, 256, 512)),
    'nano': ((2, 2, 8, 2), (80, 160, 320, 640)),
    'tiny': ((3, 3, 9, 3), (96, 192, 384, 768)),
    'small': ((3, 3, 27, 3), (96, 192, 384, 768)),
    'base': ((3, 3, 27, 3), (128, 256, 512, 1024)),
    'large': ((3, 3, 27, 3), (192, 384, 768, 1536)),
    'xlarge': ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
ARCH_ALIASES = {'a': 'atto', 'f': 'femto', 'p': 'pico', 'n': 'nano', 't': 'tiny',
                's': 'small', 'b': 'base', 'l': 'large', 'xl': 'xlarge'}
LN_EPS = 1e-6


def resolve_arch(arch: Union[str, dict]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Return ``(depths, dims)`` for an arch name or an explicit ``dict(depths, dims)``."""
    if isinstance(arch, str):
        name = ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_SETTINGS:
            raise ValueError(f'unknown ConvNeXt arch {arch!r}; choose one of '
                             f'{", ".join(ARCH_SETTINGS)} or pass dict(depths=[...], dims=[...])')
        return ARCH_SETTINGS[name]
    if isinstance(arch, dict):
        dims = arch.get('dims', arch.get('channels'))
        depths = arch.get('depths')
        if depths is None or dims is None or len(depths) != 4 or len(dims) != 4:
            raise ValueError(f'a custom ConvNeXt arch needs 4 depths and 4 dims, got {arch!r}')
        return tuple(int(d) for d in depths), tuple(int(c) for c in dims)
    raise TypeError(f'arch must be a name or dict(depths=..., dims=...), got {type(arch).__name__}')


def arch_name(depths: Sequence[int], dims: Sequence[int]) -> str:
    """The table name of ``(depths, dims)``, or a readable description of a custom one."""
    for name, (d, c) in ARCH_SETTINGS.items():
        if tuple(d) == tuple(depths) and tuple(c) == tuple(dims):
            return name
    return f'custom(depths={list(depths)}, dims={list(dims)})'


class StridedConv2d(nn.Conv2d):
    """A kernel==stride conv that zero-pads the bottom/right edge up to a multiple of the
    stride, so every pixel is seen and inputs of any size (even smaller than the total
    stride of 32) give feature maps of size ``ceil(H / stride)``. On sizes that are already
    multiples, it is exactly ``nn.Conv2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sh, sw = self.stride
        pad_h, pad_w = -x.shape[-2] % sh, -x.shape[-1] % sw
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return super().forward(x)


class GELU(nn.GELU):
    """``nn.GELU`` that overwrites its input when autograd is not recording through it
    (inference, ``no_grad``, frozen stages).

    The block's hidden map is four times as wide as its input and the largest tensor of the
    network (93 MB per stage-0 block of ConvNeXt-T at 1216x800). On CPU a fresh tensor that
    large is mapped from the OS and page-faulted in on every call; writing GELU's result
    over the linear layer's output skips one of the two: half the page faults of an
    inference pass, 0-10% faster at that size depending on how costly faults are at the
    time (benchmarks/). Only use it where the input is a temporary.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad:
            return super().forward(x)
        return torch.ops.aten.gelu_(x, approximate=self.approximate)


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LayerNorm -> Linear C->4C -> GELU -> Linear 4C->C -> gamma -> drop path.

    The norm and MLP run channels-last (NHWC) with ``F.layer_norm`` and ``nn.Linear``, as
    in the official code and timm: that is both the fastest path on CPU and GPU and safe
    under autocast (no hand-written variance that overflows in fp16).
    """

    def __init__(self, dim: int, drop_path: float = 0., layer_scale_init_value: float = 1e-6,
                 with_cp: bool = False):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (nn.Parameter(layer_scale_init_value * torch.ones(dim))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.with_cp = with_cp

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        """dwconv -> norm -> MLP, before layer scale and drop path (NCHW in and out)."""
        x = self.dwconv(x).permute(0, 2, 3, 1)
        return self.pwconv2(self.act(self.pwconv1(self.norm(x)))).permute(0, 3, 1, 2)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        y = self._branch(x)
        if self.gamma is not None:
            y = y * self.gamma.view(1, -1, 1, 1)
        return self.drop_path(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return x + cp.checkpoint(self._residual, x, use_reentrant=False)
        if self.gamma is not None and (not self.training
                                       or isinstance(self.drop_path, nn.Identity)):
            # x + y * gamma in one pass instead of two (one read and write of a feature map
            # less per block); the same sum up to float rounding
            return torch.addcmul(x, self._branch(x), self.gamma.view(1, -1, 1, 1))
        return x + self._residual(x)


@MODELS.register_module()
class ConvNeXt(BaseModule):
    """ConvNeXt backbone returning one feature map per stage in ``out_indices``.

    Args:
        arch: ``atto, femto, pico, nano, tiny, small, base, large, xlarge`` (or ``t/s/b/l/xl``),
            or ``dict(depths=[4 ints], dims=[4 ints])``.
        in_channels: channels of the input image.
        out_indices: stages to return (0..3, negative counts from the end). Each returned
            map goes through its own channels-first LayerNorm ``norm{i}``; the tensor passed
            on to the next stage is not normalised (official detection backbone).
        drop_path_rate: stochastic depth, rising linearly from 0 over all blocks.
        layer_scale_init_value: initial ``gamma``; ``0`` disables layer scale.
        frozen_stages: ``-1`` freezes nothing; ``0`` freezes the stem
            (``downsample_layers.0``); ``k >= 1`` freezes the stem and stages ``0..k-1``
            with their downsample layers and output norms. Frozen parts get
            ``requires_grad=False`` and stay in eval mode after ``train()``.
        with_cp: gradient checkpointing per block (less memory, about 30% more time).
        torch_compile: ``True`` (or a dict of ``torch.compile`` options) compiles the
            backbone in place (``nn.Module.compile``: the state dict keeps its names). On the
            project's 2-core CPU it made inference of ConvNeXt-T at 1216x800 0.99-1.08x as fast
            as eager (1.07-1.20x before the in-place GELU), the first call compiles for
            seconds to minutes and every new input size may compile again, so it is off by
            default (benchmarks/).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH_OR_URL)`` loads FAIR, timm
            (``.pth``/``.safetensors``), mmpretrain or this project's own checkpoints; the
            layout is detected automatically.

    Attributes:
        out_channels: channels of each returned map (use it for the neck's ``in_channels``).
        out_strides: stride of each returned map (4, 8, 16, 32).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 torch_compile: Union[bool, dict] = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.depths, self.dims = resolve_arch(arch)
        self.arch = arch_name(self.depths, self.dims)
        self.out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'frozen_stages must be in -1..4 (-1: nothing, 0: stem, k: stem and '
                             f'stages 0..k-1), got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.out_channels = [self.dims[i] for i in self.out_indices]
        self.out_strides = [4 * 2 ** i for i in self.out_indices]

        stem = nn.Sequential(StridedConv2d(in_channels, self.dims[0], kernel_size=4, stride=4),
                             LayerNorm2d(self.dims[0], eps=LN_EPS))
        self.downsample_layers = nn.ModuleList([stem] + [
            nn.Sequential(LayerNorm2d(self.dims[i - 1], eps=LN_EPS),
                          StridedConv2d(self.dims[i - 1], self.dims[i], kernel_size=2, stride=2))
            for i in range(1, 4)])

        num_blocks = sum(self.depths)
        rates = [drop_path_rate * i / max(num_blocks - 1, 1) for i in range(num_blocks)]
        starts = [sum(self.depths[:i]) for i in range(4)]
        self.stages = nn.ModuleList(
            nn.Sequential(*[ConvNeXtBlock(self.dims[i], rates[starts[i] + j],
                                          layer_scale_init_value, with_cp)
                            for j in range(self.depths[i])])
            for i in range(4))
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(self.dims[i], eps=LN_EPS))
        self._freeze_stages()
        if torch_compile:
            self.compile(**(torch_compile if isinstance(torch_compile, dict) else {}))

    @staticmethod
    def _check_out_indices(out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        resolved = []
        for index in out_indices:
            if not -4 <= index <= 3:
                raise ValueError(f'out_indices entry {index} is out of range: ConvNeXt has 4 '
                                 f'stages, use 0..3 (or -4..-1)')
            resolved.append(index % 4)
        if len(set(resolved)) != len(resolved):
            raise ValueError(f'out_indices {list(out_indices)} name a stage twice')
        return tuple(sorted(resolved))

    # ---------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # Every map after the stem is channels-last already (LayerNorm2d permutes to NHWC
        # and back, the blocks too), so every later conv runs NHWC. Feeding the stem conv
        # NHWC as well spares it a layout change: 6 ms instead of 36 ms for ConvNeXt-T at
        # 1216x800 on the project's CPU, 2% of the backbone. The copy of a 3-channel image
        # is negligible.
        x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            if i in self.out_indices:
                # contiguous NCHW: the network runs channels-last, and mmcv's RoIAlign reads
                # raw NCHW memory (garbage RoI features otherwise)
                outs.append(getattr(self, f'norm{i}')(x).contiguous())
        return tuple(outs)

    # ---------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Official init (truncated normal 0.02, zero bias), an MMEngine ``init_cfg`` such
        as ``Kaiming`` (what the short from-scratch CPU demos use), or pretrained weights in
        any supported layout. Pretrained loading is done here rather than by MMEngine's
        ``PretrainedInit`` because the checkpoint's key layout has to be converted."""
        init_cfg = self.init_cfg[0] if isinstance(self.init_cfg, list) else self.init_cfg
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            from .pretrained import load_pretrained  # local import: avoids a cycle
            self.apply(self._init_module)
            load_pretrained(self, init_cfg['checkpoint'], prefix=init_cfg.get('prefix'))
            self._is_init = True
            return
        if self.init_cfg is not None:
            super().init_weights()  # e.g. MMEngine's Kaiming init for short runs from scratch
        else:
            self.apply(self._init_module)
        self._init_stem_bias()

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def _init_stem_bias(self) -> None:
        """Draw the stem's bias like the official weights instead of zeroing it (every
        from-scratch init, MMEngine's included).

        mmdet and mmseg pad batches with zeros *after* normalisation. With a zero stem bias
        every padded pixel enters the stem LayerNorm as an all-zero vector, whose gradient
        LayerNorm scales by ``1/sqrt(eps)`` = 1000, again in every later norm of that
        region: a from-scratch Mask R-CNN measured a gradient norm of 1e9 at step 10 (9
        without padding), and gradient clipping then shrinks every real gradient by as much.
        A bias that differs across channels keeps those vectors non-constant. Pretrained
        weights overwrite it, so fine-tuning is unchanged."""
        trunc_normal_(self.downsample_layers[0][0].bias, std=.02)

    # ---------------------------------------------------------------- freezing
    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [self.downsample_layers[0]]
        for i in range(self.frozen_stages):
            modules += [self.downsample_layers[i], self.stages[i]]
            if hasattr(self, f'norm{i}'):
                modules.append(getattr(self, f'norm{i}'))
        return modules

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ConvNeXt':
        super().train(mode)
        self._freeze_stages()
        return self

    # ---------------------------------------------------------------- layer decay
    @property
    def default_num_layers(self) -> int:
        """``num_layers`` of the official layer-decay rules implied by this depth: stage 2
        is split into groups of 3 blocks, so tiny (9 blocks) gives 6 and small..xlarge
        (27 blocks) give 12, the values of the official configs."""
        return 3 + math.ceil(self.depths[2] / 3)

    def get_layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        """Layer id of a parameter (name relative to this backbone) under the official
        ConvNeXt layer-decay rules; the optimizer constructor turns it into a lr scale."""
        parts = param_name.split('.')
        if decay_type == 'layer_wise':
            if parts[0] == 'downsample_layers':
                return {0: 0, 1: 2, 2: 3, 3: num_layers}[int(parts[1])]
            if parts[0] == 'stages':
                stage, block = int(parts[1]), int(parts[2])
                return {0: 1, 1: 2, 2: 3 + block // 3, 3: num_layers}[stage]
            return num_layers + 1
        if decay_type == 'stage_wise':
            if parts[0] == 'downsample_layers':
                return 0
            if parts[0] == 'stages':
                return int(parts[1]) + 1
            return num_layers + 1  # N - 1 with N = num_layers + 2
        raise ValueError(f"decay_type must be 'layer_wise' or 'stage_wise', got {decay_type!r}")
