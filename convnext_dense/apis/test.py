"""Evaluation entry point: COCO box/mask AP for mmdet configs, mIoU for mmseg configs."""
import argparse
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from ..datasets import check_dataset_paths
from ..errors import UserError
from .common import add_common_args, load_config, setup_cpu_distributed, user_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Evaluate a ConvNeXt detector or segmentor')
    parser.add_argument('config', help='config file (mmdet or mmseg scope)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='save raw predictions: a .pkl file (detection) or a '
                                      'folder of label PNGs (segmentation)')
    parser.add_argument('--show-dir', help='write pictures of the predictions into this folder '
                                           '(under the work dir)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model / tta_pipeline "
                             '(multi-scale + flip)')
    parser.add_argument('--metrics-out', help='JSON file for the metrics '
                                              '(default: WORK_DIR/test_metrics.json)')
    add_common_args(parser)
    return parser


def _enable_visualization(cfg: Config, show_dir: str) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise UserError('--show-dir: the config has no visualization hook in default_hooks')
    hook['draw'] = True
    hook['interval'] = 1
    if cfg.default_scope == 'mmdet':
        hook['test_out_dir'] = show_dir
    else:
        # mmseg's hook has no output folder of its own: it saves through the visualizer's
        # backends, into WORK_DIR/SHOW_DIR/vis_data/vis_image
        cfg.visualizer['save_dir'] = osp.join(cfg.work_dir, show_dir)


def _save_raw_predictions(cfg: Config, out: str) -> None:
    if cfg.default_scope == 'mmdet':
        if not out.endswith(('.pkl', '.pickle')):
            raise UserError(f'--out {out}: detection results are saved as a .pkl file')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpDetResults', out_file_path=out)]
    else:
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True


def _use_tta(cfg: Config) -> None:
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise UserError('--tta: this config defines no tta_model / tta_pipeline')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def prepare_test_config(args) -> Config:
    cfg = load_config(args.config, args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if not osp.isfile(args.checkpoint):
        raise UserError(f'checkpoint {args.checkpoint} does not exist; train one with '
                        f'tools/train.py {args.config} or check the path')
    if args.show_dir:
        _enable_visualization(cfg, args.show_dir)
    if args.out:
        _save_raw_predictions(cfg, args.out)
    if args.tta:
        _use_tta(cfg)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='convnext_dense.ProgressBarHook')]
    check_dataset_paths(cfg, ('test',))
    setup_cpu_distributed(cfg)
    # pretrained ImageNet weights are irrelevant (and may be absent) when the whole model
    # is loaded from the checkpoint under test
    backbone = cfg.model.get('backbone') or cfg.model.get('module', {}).get('backbone', {})
    if isinstance(backbone, dict):
        backbone['init_cfg'] = None
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    with user_errors(args.debug):
        cfg = prepare_test_config(args)
        runner = Runner.from_cfg(cfg)
        metrics = runner.test()
        if runner.rank == 0:
            path = args.metrics_out or osp.join(cfg.work_dir, 'test_metrics.json')
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            with open(path, 'w') as f:
                json.dump({k: _jsonable(v) for k, v in metrics.items()}, f, indent=2)
            print(f'metrics saved to {path}')
        return metrics


def _jsonable(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
