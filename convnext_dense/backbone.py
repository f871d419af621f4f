"""ConvNeXt (Liu et al., CVPR 2022) and ConvNeXt-V2 (Woo et al., CVPR 2023) as a multi-scale
backbone for mmdet and mmseg, with the official detection backbone's parameter names (FAIR
checkpoints and the official layer-decay rules apply as they are)."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from timm.layers import DropPath, LayerNorm2d, trunc_normal_

from .archs import arch_name, resolve_arch
from .errors import ConfigError
from .checkpoint_layouts import load_pretrained, rename_backbone_keys
from .registry import MODELS

LN_EPS = 1e-6


class StridedConv2d(nn.Conv2d):
    """A kernel == stride conv that zero-pads the bottom/right edge up to a multiple of the
    stride, so inputs of any size (even below the total stride of 32) give maps of
    ``ceil(H / stride)`` rows; on multiples it is exactly ``nn.Conv2d``. An exported graph
    always pads (by zero rows on multiples): it must serve every size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (h, w), (sh, sw) = x.shape[-2:], self.stride
        # = -h % sh, written so that traced sizes stay multiples (stride * ceil) for torch.export
        pad_h, pad_w = (h + sh - 1) // sh * sh - h, (w + sw - 1) // sw * sw - w
        if torch.compiler.is_exporting() or pad_h or pad_w:  # no guard on the sizes when traced
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return super().forward(x)


class GRN(nn.Module):
    """ConvNeXt-V2's global response normalisation on channels-last maps; the spatial L2 norm is
    taken in fp32: a sum of squares over a whole feature map overflows fp16 under autocast."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True, dtype=torch.float32)
        nx = (gx / (gx.mean(dim=-1, keepdim=True) + self.eps)).to(x.dtype)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LayerNorm -> Linear C->4C -> GELU [-> GRN] -> Linear 4C->C [-> gamma]
    -> drop path, with the norm and MLP channels-last as in the official code and timm
    (``F.layer_norm``: no hand-written variance to overflow under fp16)."""

    def __init__(self, dim: int, drop_path: float = 0., layer_scale_init_value: float = 1e-6,
                 use_grn: bool = False, with_cp: bool = False):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GRN(4 * dim) if use_grn else nn.Identity()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (nn.Parameter(layer_scale_init_value * torch.ones(dim))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.with_cp = with_cp

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        if self.gamma is not None:
            y = y * self.gamma
        return self.drop_path(y.permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return x + cp.checkpoint(self.residual, x, use_reentrant=False)
        return x + self.residual(x)


@MODELS.register_module()
class ConvNeXt(BaseModule):
    """ConvNeXt (V1, or V2 with ``use_grn=True, layer_scale_init_value=0.``) returning one
    feature map per stage in ``out_indices`` (0..3, negative from the end), each through its
    own channels-first LayerNorm ``norm{i}`` (the next stage gets it unnormalised, as in the
    official detection backbone). ``arch``: ``atto`` .. ``huge`` (or ``a f p n t s b l xl h``)
    or ``dict(depths=..., dims=...)``; ``frozen_stages``: -1 nothing, 0 the stem, k the stem
    and stages 0..k-1 (kept in eval mode by ``train()``); ``init_cfg=dict(type='Pretrained',
    checkpoint=...)`` loads any supported layout. Options: docs/configs.md.

    Attributes:
        out_channels: channels of each returned map (the neck's ``in_channels``).
        out_strides: stride of each returned map (4, 8, 16, 32).
    """

    def __init__(self, arch: Union[str, dict] = 'tiny', in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3), drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6, use_grn: bool = False,
                 frozen_stages: int = -1, with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 pretrained: Optional[str] = None):  # what mmseg's model.pretrained passes
        if pretrained is not None:
            raise ConfigError(f'model.pretrained={pretrained!r} reaches ConvNeXt, which loads '
                              'weights through init_cfg: set model.pretrained=None and model.'
                              "backbone.init_cfg=dict(type='Pretrained', checkpoint=...)")
        super().__init__(init_cfg=init_cfg)
        self.depths, self.dims = resolve_arch(arch)
        self.arch = arch_name(self.depths, self.dims)
        self.use_grn = use_grn
        self.out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages <= 4:
            raise ConfigError(f'frozen_stages must be in -1..4 (-1: nothing, 0: stem, k: stem and '
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
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(
            self.dims[i], rates[starts[i] + j], layer_scale_init_value, use_grn, with_cp)
            for j in range(self.depths[i])]) for i in range(4))
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(self.dims[i], eps=LN_EPS))
        self._freeze_stages()

    @staticmethod
    def _check_out_indices(out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        resolved = []
        for index in out_indices:
            if not -4 <= index <= 3:
                raise ConfigError(f'out_indices entry {index} is out of range: ConvNeXt has 4 '
                                 f'stages, use 0..3 (or -4..-1)')
            resolved.append(index % 4)
        if len(set(resolved)) != len(resolved):
            raise ConfigError(f'out_indices {list(out_indices)} name a stage twice')
        return tuple(sorted(resolved))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # every map after the stem runs channels-last (the norms and blocks permute), so the
        # stem conv gets that layout too rather than a layout change of its own
        x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
            if i in self.out_indices:
                # contiguous NCHW: mmcv's RoIAlign reads raw NCHW memory (mmcv#2203)
                outs.append(getattr(self, f'norm{i}')(x).contiguous())
        return tuple(outs)

    def init_weights(self) -> None:
        """Official init (truncated normal 0.02, zero bias), an MMEngine ``init_cfg`` such as
        ``Kaiming``, or pretrained weights in any supported layout (converted here, which
        MMEngine's ``PretrainedInit`` cannot do)."""
        init_cfg = self.init_cfg[0] if isinstance(self.init_cfg, list) else self.init_cfg
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            self.apply(self._init_module)
            load_pretrained(self, init_cfg['checkpoint'], prefix=init_cfg.get('prefix'))
            self._is_init = True
            return
        if self.init_cfg is not None:
            super().init_weights()
        else:
            self.apply(self._init_module)
        # mmdet/mmseg pad batches with zeros after normalisation: with a zero stem bias those
        # pixels reach the LayerNorms as all-zero vectors and blow their gradients up by
        # 1/sqrt(eps). A bias drawn like the official weights' keeps them non-constant.
        trunc_normal_(self.downsample_layers[0][0].bias, std=.02)

    renames_foreign_layouts = True  # whole-model loading renames before checking coverage

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # a whole model holding this backbone in another layout (mmdet's and mmseg's released
        # ConvNeXt models: mmpretrain's names) loads through any loader: MMEngine's, torch's
        rename_backbone_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        modules = [self.downsample_layers[0]] if self.frozen_stages >= 0 else []
        for i in range(self.frozen_stages):
            modules += [self.downsample_layers[i], self.stages[i]]
            if hasattr(self, f'norm{i}'):
                modules.append(getattr(self, f'norm{i}'))
        for module in modules:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ConvNeXt':
        super().train(mode)
        self._freeze_stages()
        return self

    @property
    def default_num_layers(self) -> int:
        """``num_layers`` of the official layer-decay rules for this depth: stage 2 counts
        one layer per 3 blocks, so tiny gives 6 and small..huge give 12."""
        return 3 + math.ceil(self.depths[2] / 3)

    def get_layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        """Layer id of a parameter (name relative to this backbone) under the official
        layer-decay rules; the optimizer constructor turns it into a lr scale."""
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
        raise ConfigError(f"decay_type must be 'layer_wise' or 'stage_wise', got {decay_type!r}")
