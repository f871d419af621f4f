"""Training entry point shared by detection (mmdet) and segmentation (mmseg) configs."""
import argparse
import os.path as osp
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.runner import Runner

from ..datasets import check_dataset_paths
from ..engine.resume import find_resumable_checkpoint
from ..errors import UserError
from .common import (add_common_args, load_config, setup_cpu_distributed, use_fp32_without_gpu,
                     user_errors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Train a ConvNeXt detector or segmentor')
    parser.add_argument('config', help='config file (mmdet or mmseg scope)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='PATH',
                        help='resume from PATH, or from the latest intact checkpoint in the '
                             'work dir when no PATH is given')
    parser.add_argument('--amp', action='store_true', help='mixed precision (GPU only)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the lr by (GPUs x batch per GPU) / the recipe's batch size")
    add_common_args(parser)
    return parser


def prepare_train_config(args):
    cfg = load_config(args.config, args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    use_fp32_without_gpu(cfg)
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
            raise UserError(f'{args.config} has no auto_scale_lr.base_batch_size; add '
                            "auto_scale_lr = dict(enable=False, base_batch_size=16) to it")
        cfg.auto_scale_lr.enable = True
    if args.resume:
        path = args.resume
        if path == 'auto':
            path = find_resumable_checkpoint(cfg.work_dir)
            if path is None:
                print_log(f'--resume: no checkpoint in {cfg.work_dir}, starting afresh',
                          logger='current')
        elif not osp.isfile(path):
            raise UserError(f'--resume {path}: no such checkpoint')
        if path:
            cfg.resume, cfg.load_from = True, path
    add_reliability_hooks(cfg)
    check_dataset_paths(cfg, ('train', 'val'))
    setup_cpu_distributed(cfg)
    return cfg


def add_reliability_hooks(cfg) -> None:
    """Every training run stops on a non-finite loss (keeping the last good checkpoint)
    and saves RNG states so that ``--resume`` continues exactly."""
    hooks = list(cfg.get('custom_hooks', []))
    present = {str(h.get('type', '')).split('.')[-1] for h in hooks}
    for name in ('CheckFiniteLossHook', 'RngStateHook'):
        if name not in present:
            hooks.append(dict(type=f'convnext_dense.{name}'))
    cfg.custom_hooks = hooks


def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    with user_errors(args.debug):
        cfg = prepare_train_config(args)
        runner = Runner.from_cfg(cfg)
        runner.train()
