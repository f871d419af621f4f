#!/usr/bin/env python
"""Evaluate a trained ConvNeXt detector (COCO box/mask AP) or segmentor (mIoU).

    python tools/test.py CONFIG CHECKPOINT [--out FILE] [--show-dir DIR] [--tta] [--amp] [...]

CHECKPOINT may be an .onnx file from tools/export.py: onnxruntime runs it through the same
dataset, pipeline, post-processing and metric.
"""
import argparse
import numbers
import os.path as osp

import torch
from mmengine.device import get_device
from mmengine.fileio import dump

from cli_helpers import add_common_args, build_runner, load_config, onnx_model_config, user_errors
from convnext_dense.amp import cpu_autocast_dtype
from convnext_dense.errors import UserError


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a ConvNeXt detector or segmentor')
    parser.add_argument('config', help='config file (mmdet or mmseg scope)')
    parser.add_argument('checkpoint', help='checkpoint file, or an .onnx file from tools/export.py')
    parser.add_argument('--out', help='save raw predictions: a .pkl file (detection) or a '
                                      'folder of label PNGs (segmentation)')
    parser.add_argument('--show-dir', help='write pictures of the predictions into this folder '
                                           '(under the work dir)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model / tta_pipeline")
    parser.add_argument('--amp', action='store_true', help='autocast the model: fp16 on a GPU, '
                        'bf16 on a CPU with native bf16 (else fp32)')
    parser.add_argument('--allow-partial-checkpoint', action='store_true',
                        help='test even if the checkpoint lacks weights for parts of the model')
    parser.add_argument('--metrics-out', help='JSON file for the metrics '
                                              '(default: WORK_DIR/test_metrics.json)')
    add_common_args(parser)
    return parser.parse_args()


def enable_visualization(cfg, show_dir: str) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise UserError('--show-dir: the config has no visualization hook in default_hooks')
    hook.update(draw=True, interval=1)
    if cfg.default_scope == 'mmdet':
        hook['test_out_dir'] = show_dir
    else:  # mmseg's hook saves through the visualizer, into WORK_DIR/SHOW_DIR/vis_data/
        cfg.visualizer['save_dir'] = osp.join(cfg.work_dir, show_dir)


def save_raw_predictions(cfg, out: str) -> None:
    if cfg.default_scope == 'mmdet':
        if not out.endswith(('.pkl', '.pickle')):
            raise UserError(f'--out {out}: detection results are saved as a .pkl file')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpDetResults', out_file_path=out)]
    else:
        if out.endswith(('.pkl', '.pickle', '.json')):
            raise UserError(f'--out {out}: segmentation predictions are saved as a folder of '
                            'label PNGs; pass a folder')
        cfg.test_evaluator.update(output_dir=out, keep_results=True)


def use_tta(cfg) -> None:
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise UserError('--tta: this config defines no tta_model / tta_pipeline')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main():
    args = parse_args()
    with user_errors(args.debug):
        cfg = load_config(args.config, args)
        if args.show_dir:
            enable_visualization(cfg, args.show_dir)
        if args.out:
            save_raw_predictions(cfg, args.out)
        if not osp.isfile(args.checkpoint):
            raise UserError(f'checkpoint {args.checkpoint} does not exist; train one with '
                            f'tools/train.py {args.config} or check the path')
        if args.checkpoint.endswith('.onnx'):
            if args.tta or args.amp:
                raise UserError('--tta and --amp apply to checkpoints; an .onnx file runs as '
                                'exported')
            cfg.model = onnx_model_config(cfg, args.checkpoint)
        else:
            # convnext_dense.Runner refuses a checkpoint that leaves parts of the model unloaded
            cfg.allow_partial_checkpoint = args.allow_partial_checkpoint
            cfg.load_from, cfg.resume = args.checkpoint, False
            # the whole model comes from the checkpoint: ImageNet weights are not needed
            if 'backbone' in cfg.model:
                cfg.model.backbone.init_cfg = None
        if args.tta:
            use_tta(cfg)
        if args.amp:  # MMEngine's TestLoop autocasts test_step, on a CPU to bf16
            cfg.test_cfg.fp16 = get_device() != 'cpu' or cpu_autocast_dtype() == torch.bfloat16
        runner = build_runner(cfg, ('test',))
        metrics = runner.test()
        if runner.rank == 0:
            path = args.metrics_out or osp.join(cfg.work_dir, 'test_metrics.json')
            dump({k: float(v) if isinstance(v, numbers.Real) else str(v)  # creates the folder
                  for k, v in metrics.items()}, path, file_format='json', indent=2)
            print(f'metrics saved to {path}')
            if args.show_dir:  # mmdet's hook and mmseg's visualizer save in different places
                pictures = (osp.join(cfg.work_dir, runner.timestamp, args.show_dir)
                            if cfg.default_scope == 'mmdet' else
                            osp.join(cfg.work_dir, args.show_dir, 'vis_data', 'vis_image'))
                print(f'pictures of the predictions saved to {pictures}')


if __name__ == '__main__':
    main()
