#!/usr/bin/env python
"""fp32 against bf16 autocast on the CPU, for ConvNeXt-T (results: benchmarks/amp_cpu.md).

Cases: backbone inference at 1x3x800x1216 (ours and timm's ``convnext_tiny``, same autocast),
a backbone training step at 2x3x512x512 (AdamW through our AmpOptimWrapper), and whole-model
inference of Mask R-CNN T (one 800x1216 image, ``predict``) and UperNet T (one 512x512 image,
one sliding window). Prints a markdown table with the bf16 speed-ups.

    python benchmarks/amp_cpu.py [--quick] [--threads N] [--scale 0.5] [--profile]

``--quick``: one timed run after a warm-up (none for runs over 10 s) instead of >= 10 s of
runs; ``--scale``: image sides times this (multiples of 32); ``--profile``: also the top ops
of one bf16 training step.
"""
import argparse
import os
import os.path as osp
import sys
from contextlib import nullcontext
from typing import Callable, Dict, Tuple

import torch
import torch.utils.benchmark as benchmark

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmengine.optim import OptimWrapper  # noqa: E402

from convnext_dense import ConvNeXt  # noqa: E402
from convnext_dense.amp import AmpOptimWrapper, cpu_autocast_dtype  # noqa: E402

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}


def autocast(dtype: torch.dtype):
    return torch.autocast('cpu', dtype=dtype) if dtype != torch.float32 else nullcontext()


def seconds(fn: Callable[[], object], quick: bool) -> float:
    timer = benchmark.Timer(stmt='fn()', globals={'fn': fn}, num_threads=torch.get_num_threads())
    first = timer.timeit(1).median  # with the one-time set-up: oneDNN primitives, allocator
    if quick and first > 10:  # emulated bf16 takes minutes: the set-up is noise there
        return first
    return (timer.timeit(1) if quick else timer.blocked_autorange(min_run_time=10)).median


def sized(side: int, scale: float) -> int:
    return max(32, int(round(side * scale / 32)) * 32)


def backbone_inference(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype) -> Callable:
    def run():
        with torch.no_grad(), autocast(dtype):
            model(x)
    return run


def training_step(x: torch.Tensor, dtype: torch.dtype) -> Callable:
    torch.manual_seed(0)
    model = ConvNeXt(arch='tiny', drop_path_rate=0.4).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    wrapper = AmpOptimWrapper(optimizer=optimizer, dtype='bfloat16') \
        if dtype == torch.bfloat16 else OptimWrapper(optimizer=optimizer)

    def run():
        with wrapper.optim_context(model):
            loss = sum(out.float().square().mean() for out in model(x))
        wrapper.update_params(loss)
    return run


def whole_model(config: str, height: int, width: int, dtype: torch.dtype) -> Callable:
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(osp.join(REPO, config))
    init_default_scope(cfg.default_scope)
    cfg.model.backbone.init_cfg = None
    if cfg.default_scope == 'mmdet':
        from mmdet.structures import DetDataSample as Sample
    else:  # the recipe's sliding window: one 512x512 window on a 512x512 image
        from mmseg.structures import SegDataSample as Sample
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
    sample = Sample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                  pad_shape=(height, width), scale_factor=(1.0, 1.0)))
    data = model.data_preprocessor({'inputs': [image], 'data_samples': [sample]}, False)

    def run():
        with torch.no_grad(), autocast(dtype):
            model(**data, mode='predict')
    return run


def profile_training_step(x: torch.Tensor) -> None:
    from torch.profiler import ProfilerActivity, profile
    step = training_step(x, torch.bfloat16)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--scale', type=float, default=1.0)
    parser.add_argument('--profile', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu_autocast_dtype()  # mmdet's box post-processing in fp32 under autocast, as in training
    import timm
    h, w, s = sized(800, args.scale), sized(1216, args.scale), sized(512, args.scale)
    image, crops = torch.randn(1, 3, h, w), torch.randn(2, 3, s, s)
    ours = ConvNeXt(arch='tiny').eval()
    theirs = timm.create_model('convnext_tiny', features_only=True, pretrained=False).eval()
    cases: Dict[str, Callable[[torch.dtype], Callable]] = {
        f'backbone, ours, 1x3x{h}x{w}': lambda dt: backbone_inference(ours, image, dt),
        f'backbone, timm convnext_tiny, 1x3x{h}x{w}':
            lambda dt: backbone_inference(theirs, image, dt),
        f'training step, ours, 2x3x{s}x{s}': lambda dt: training_step(crops, dt),
        f'Mask R-CNN T predict, {h}x{w}':
            lambda dt: whole_model('configs/mask_rcnn_convnext_t_fpn_3x_coco.py', h, w, dt),
        f'UperNet T predict, {s}x{s}':
            lambda dt: whole_model('configs/upernet_convnext_t_ade20k.py', s, s, dt),
    }
    times: Dict[str, Tuple[float, float]] = {}
    for name, make in cases.items():
        times[name] = tuple(seconds(make(dt), args.quick) for dt in DTYPES.values())
        print(f'{name}: fp32 {times[name][0]:.3f} s, bf16 {times[name][1]:.3f} s',
              file=sys.stderr, flush=True)

    print(f'\ntorch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability '
          f'{torch.backends.cpu.get_cpu_capability()}, autocast default: {cpu_autocast_dtype()}, '
          f'load average {os.getloadavg()[0]:.2f}, {"--quick" if args.quick else "median"}\n')
    print('| case | fp32 (s) | bf16 (s) | bf16 speed-up |\n|---|---|---|---|')
    for name, (fp32, bf16) in times.items():
        print(f'| {name} | {fp32:.3f} | {bf16:.3f} | {fp32 / bf16:.2f}x |')
    ours_bf16, timm_bf16 = (times[n][1] for n in list(cases)[:2])
    print(f'\nours bf16 / timm bf16 time: {ours_bf16 / timm_bf16:.2f}')
    if args.profile:
        profile_training_step(crops)


if __name__ == '__main__':
    main()
