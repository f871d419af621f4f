#!/usr/bin/env python
"""The GPU path in one command: AMP training of Mask R-CNN T and UperNet T, then benchmarks/speed.py.

    python benchmarks/gpu_check.py [--wheels DIR] [--iters 30] [--out FILE.md]
    python benchmarks/gpu_check.py --cpu-dry-run    # the same code on the CPU: atto, small images

Keeps the installed PyTorch; what else is missing comes offline from DIR (default wheels/) via
tools/install.sh: mmcv from DIR/<install.sh's key>/mmcv-*.whl, else built from
DIR/mmcv-2.1.0.tar.gz for this GPU's arch alone. Run it in a venv (`python -m venv
--system-site-packages env` sees the machine's torch). Then 30 iterations each in fp16 and bf16
of both configs at full size (1333x800, 512x512 crops), batch 2, random init, synthetic data,
through MMEngine's Runner, and one short round of benchmarks/speed.py --device cuda. Exit status 1 if a
run failed or a loss was not finite. Meant to take under 9 minutes on an H100/H200 (no GPU has
run it yet).
"""
import argparse
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = ['configs/mask_rcnn_convnext_t_fpn_1x_coco.py', 'configs/upernet_convnext_t_ade20k.py']
# synthetic image (H, W): full size (the configs' own resizing and crops apply), dry-run size
IMAGES = {'mmdet': (800, 1333), 'mmseg': (512, 683)}
DRY_IMAGES = {'mmdet': (96, 128), 'mmseg': (64, 64)}
WARMUP = 5  # first iterations left out of s/iter (cuDNN's autotuning, the allocator growing)
PROBE = ("import sys, torch, mmengine, mmdet, mmseg, timm, pycocotools, ftfy, regex\n"
         "from mmcv.ops import get_compiling_cuda_version as cuda_ops\n"
         "sys.exit(torch.cuda.is_available() and cuda_ops() == 'not available')")


def install_missing(wheels: str) -> None:
    if subprocess.run([sys.executable, '-c', PROBE], capture_output=True).returncode == 0:
        return
    if sys.prefix == sys.base_prefix or not osp.exists(osp.join(sys.prefix, 'bin', 'python')):
        sys.exit('error: packages are missing and this Python is not a virtual environment; '
                 'make one with: python -m venv --system-site-packages env')
    env = dict(os.environ, VENV=sys.prefix, TORCH_VERSION='installed', PIP_NO_INDEX='1',
               PIP_FIND_LINKS=wheels, WHEEL_CACHE=wheels, FORCE_CUDA='1', EXTRAS='bench')
    dry = subprocess.run(['bash', 'tools/install.sh'], cwd=REPO, capture_output=True, text=True,
                         env=dict(env, INSTALL_DRY_RUN='1'))
    if '(cached)' not in dry.stdout:  # no carried mmcv wheel fits: build for this GPU only
        import torch
        env['TORCH_CUDA_ARCH_LIST'] = '{}.{}'.format(*torch.cuda.get_device_capability())
    subprocess.run(['bash', 'tools/install.sh'], cwd=REPO, env=env, check=True)


def shrink(cfg) -> None:
    """--cpu-dry-run: ConvNeXt-atto, images of DRY_IMAGES, fewer sampled RoIs (the mask head's
    256-channel convs run on each positive one), narrower UperNet heads."""
    from convnext_dense.archs import ARCH_SETTINGS
    dims = list(ARCH_SETTINGS['atto'][1])
    cfg.model.backbone.arch = 'atto'
    height, width = DRY_IMAGES[cfg.default_scope]
    if cfg.default_scope == 'mmdet':
        cfg.model.neck.in_channels = dims
        cfg.model.train_cfg.rcnn.sampler.num = 16
    else:
        cfg.model.decode_head.update(in_channels=dims, channels=64)
        cfg.model.auxiliary_head.update(in_channels=dims[2], channels=32)
        cfg.model.data_preprocessor.size = (height, width)
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (width, height)
        elif step.type == 'RandomResize':  # mmseg's (2048, 512): 4 times the crop
            step.scale = (4 * width, height)
        elif step.type == 'RandomCrop':
            step.crop_size = (height, width)


def train(config: str, dtype, data: dict, args) -> dict:
    """``args.iters`` iterations of ``config`` under AMP in ``dtype``: its row of the table."""
    import mmengine.config.config
    import torch
    from mmengine.hooks import Hook
    from mmengine.registry import RUNNERS

    from cli_helpers import read_config, set_data_root
    from cpu_demo.synthetic_data import CLASSES

    class Probe(Hook):
        def __init__(self):
            self.times, self.finite = [], True

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.finite &= all(math.isfinite(float(v)) for k, v in outputs.items() if 'loss' in k)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())

    # the Runner formats its config with yapf twice (log, work_dir): seconds, for nothing here
    mmengine.config.config.FormatCode = lambda text, **kwargs: (text, 0)
    cfg = read_config(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = None  # no pretrained checkpoint can be downloaded
    if args.cpu_dry_run:
        shrink(cfg)
    set_data_root(cfg, data[cfg.default_scope])
    if cfg.default_scope == 'mmdet':  # the synthetic shapes (the Runner checks the heads agree)
        cfg.train_dataloader.dataset.metainfo = dict(classes=CLASSES)
        cfg.model.roi_head.bbox_head.num_classes = len(CLASSES)
        cfg.model.roi_head.mask_head.num_classes = len(CLASSES)
    cfg.train_dataloader.batch_size = 2
    if args.cpu_dry_run:  # worker processes cost more than they save here
        cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters, val_interval=10 ** 9)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None  # Mask R-CNN with its optimizer state: 400 MB
    cfg.optim_wrapper.dtype = dtype
    cfg.update(work_dir=osp.join(data['root'], 'work'), log_level='WARNING',
               randomness=dict(seed=0))
    row = dict(config=osp.basename(config), dtype=str(dtype))
    try:
        runner, probe = RUNNERS.build(cfg), Probe()
        runner.register_hook(probe, priority='LOWEST')
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        runner.train()
        row['dtype'] = str(runner.optim_wrapper.cast_dtype).replace('torch.', '')
    except Exception as error:  # a failing run (an op without a bf16 kernel, say) is a row
        return dict(row, error=f'{type(error).__name__}: {str(error).splitlines()[0][:160]}')
    warmup = min(WARMUP, len(probe.times) - 2)
    s_iter = (probe.times[-1] - probe.times[warmup]) / (len(probe.times) - 1 - warmup)
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if torch.cuda.is_available() else None
    return dict(row, cells=[f'{s_iter:.3f}', f'{2 / s_iter:.1f}', f'{peak:.0f}' if peak else '-',
                            'yes' if probe.finite else 'NO'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--wheels', default=osp.join(REPO, 'wheels'),
                        help='folder of wheels (and mmcv-2.1.0.tar.gz) to install from')
    parser.add_argument('--iters', type=int, help='iterations per run (30; dry run 2)')
    parser.add_argument('--out', help='also write the report (markdown) to this file')
    parser.add_argument('--cpu-dry-run', action='store_true', help='the same code on the CPU')
    args = parser.parse_args()
    start = time.time()
    if args.cpu_dry_run:
        os.environ['CUDA_VISIBLE_DEVICES'] = ''  # the CPU even on a GPU machine
        args.iters = args.iters or 2
    else:
        install_missing(osp.abspath(args.wheels))
    args.iters = args.iters or 30
    # convnext_dense and cpu_demo/ from this checkout, installed or not; tools/cli_helpers.py
    sys.path[:0] = [REPO, osp.join(REPO, 'tools')]
    import torch

    from cpu_demo.synthetic_data import write_ade20k_dataset, write_coco_dataset
    if not args.cpu_dry_run and not torch.cuda.is_available():
        sys.exit('error: torch sees no GPU; use --cpu-dry-run on a machine without one')
    images = DRY_IMAGES if args.cpu_dry_run else IMAGES
    # CPU: the AMP wrapper's choice, bf16 where the CPU has native bf16, else fp32 (fp16 and
    # emulated bf16 are tens of times slower there)
    dtypes = [None] if args.cpu_dry_run else ['float16', 'bfloat16']
    with tempfile.TemporaryDirectory() as tmp:
        data = dict(root=tmp, mmdet=osp.join(tmp, 'coco'), mmseg=osp.join(tmp, 'ade'))
        write_coco_dataset(data['mmdet'], 4 if args.cpu_dry_run else 8, 0, images['mmdet'])
        write_ade20k_dataset(data['mmseg'], 4 if args.cpu_dry_run else 8, 0, images['mmseg'])
        rows = [train(config, dtype, data, args) for config in CONFIGS for dtype in dtypes]
    lines = [f"| {r['config']} | {r['dtype']} | " + (' | '.join(r['cells']) if 'cells' in r else
                                                      f"failed: {r['error']} | | | NO") + ' |'
             for r in rows]
    device = 'CPU dry run' if args.cpu_dry_run else torch.cuda.get_device_name()
    report = '\n'.join([
        f'# GPU check: {device}, torch {torch.__version__}, {args.iters} iterations of batch 2',
        '', '| config | dtype | s/iter | images/s | peak GPU memory (MiB) | losses finite |',
        '|---|---|---|---|---|---|', *lines, ''])
    print(report, flush=True)
    bench = ['--quick', '--min-run-time', '0.05'] if args.cpu_dry_run else [
        '--device', 'cuda', '--min-run-time', '1', '--batch', '2', '--size', '1333', '800',
        '--config', CONFIGS[0]]
    result = subprocess.run([sys.executable, 'benchmarks/speed.py', '--rounds', '1',
                             *bench], cwd=REPO, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO))
    bench_report = result.stdout if result.returncode == 0 else (
        f'benchmarks/speed.py failed:\n{result.stderr[-2000:]}')
    print(bench_report)
    report += '\n' + bench_report
    print(f'gpu_check: {time.time() - start:.0f} s in all')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)
    sys.exit(1 if result.returncode or any(line.endswith('NO |') for line in lines) else 0)


if __name__ == '__main__':
    main()
