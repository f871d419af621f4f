#!/usr/bin/env python
"""Train a ConvNeXt detector (mmdet config) or segmentor (mmseg config).

    python tools/train.py configs/upernet_convnext_t_ade20k.py [--work-dir DIR]
        [--resume [PATH] [--new-schedule]] [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm}]
"""
import argparse
import os.path as osp

from cli_helpers import add_common_args, build_runner, load_config, user_errors
from convnext_dense.errors import UserError


def parse_args():
    parser = argparse.ArgumentParser(description='Train a ConvNeXt detector or segmentor')
    parser.add_argument('config', help='config file (mmdet or mmseg scope)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='PATH',
                        help='resume from PATH, or from the checkpoint the work dir\'s '
                             'last_checkpoint names when no PATH is given')
    parser.add_argument('--new-schedule', action='store_true', help="with --resume: this "
                        "config's parameter schedule from the step reached, not the checkpoint's")
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 on a GPU; on a CPU bf16 where it has native '
                             'bf16, else fp32 (convnext_dense.AmpOptimWrapper)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the lr by (GPUs x batch per GPU) / the recipe's batch size")
    add_common_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    with user_errors(args.debug, interrupt_hint='; the last checkpoint is kept: run the same '
                     'command with --resume to go on'):
        cfg = load_config(args.config, args)
        cfg.resume_new_schedule = args.new_schedule or cfg.get('resume_new_schedule', False)
        if args.amp:
            cfg.optim_wrapper.type = 'convnext_dense.AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if args.auto_scale_lr:
            if not cfg.get('auto_scale_lr', {}).get('base_batch_size'):
                raise UserError(f'{args.config} has no auto_scale_lr.base_batch_size; add '
                                "auto_scale_lr = dict(enable=False, base_batch_size=16) to it")
            cfg.auto_scale_lr.enable = True

        # MMEngine's resume: with no path (and no load_from, which it would resume from
        # instead) it follows WORK_DIR/last_checkpoint, rewritten only after a whole checkpoint
        if args.resume == 'auto':
            cfg.resume, cfg.load_from = True, None
        elif args.resume:
            if not osp.isfile(args.resume):
                raise UserError(f'--resume {args.resume}: no such checkpoint')
            cfg.resume, cfg.load_from = True, args.resume

        runner = build_runner(cfg, ('train', 'val'))
        runner.train()


if __name__ == '__main__':
    main()
