"""The CPU demo: pretrain ConvNeXt-atto on synthetic shapes (once), then fine-tune and test a
Mask R-CNN and a UperNet on synthetic scenes (all), or a DINO, a Mask2Former (instance) or a
Mask2Former (semantic: mask2former_ade) by name; metrics, pictures and training curves go to
WORK_ROOT/demo_<name>/. Run again after an interruption, it goes on.

    python tools/demo.py [detection|segmentation|all|dino|mask2former|mask2former_ade]
        [--work-root work_dirs] [--data-root data] [--v2] [--cfg-options K=V ...]
        [--pretrain-cfg-options K=V ...] [--dry-run]
"""
import argparse
import json
import os
import os.path as osp
import shlex
import shutil
import subprocess
import sys
import time
from typing import List

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CONFIG = 'configs/demo/convnext_atto_shapes_pretrain.py'
NUM_TRAIN = 1000
# config; data folder, kind and image size (tools/make_synthetic_data.py), the folder of the
# training images and the file written last; tools/test.py's own arguments
DEMOS = {
    'detection': ('configs/demo/mask_rcnn_convnext_atto_synthetic.py', 'synthetic_coco_demo',
                  'coco', 160, 'train2017', 'annotations/instances_val2017.json',
                  ['--show-dir', 'predictions', '--out', '{work}/predictions.pkl']),
    'segmentation': ('configs/demo/upernet_convnext_atto_synthetic.py', 'synthetic_ade_demo',
                     'ade', 128, 'images/training', 'annotations/validation',
                     ['--show-dir', 'vis']),
    # the query-based heads, on the detection demo's data (benchmarks/query_heads.md)
    'dino': ('configs/demo/dino_convnext_atto_synthetic.py', 'synthetic_coco_demo', 'coco', 160,
             'train2017', 'annotations/instances_val2017.json',
             ['--show-dir', 'predictions', '--out', '{work}/predictions.pkl']),
    'mask2former': ('configs/demo/mask2former_convnext_atto_synthetic.py', 'synthetic_coco_demo',
                    'coco', 160, 'train2017', 'annotations/instances_val2017.json',
                    ['--show-dir', 'predictions', '--out', '{work}/predictions.pkl']),
    'mask2former_ade': ('configs/demo/mask2former_convnext_atto_synthetic_ade.py',
                        'synthetic_ade_demo', 'ade', 128, 'images/training',
                        'annotations/validation', ['--show-dir', 'vis'])}
# what `all` runs (make demo); the slower query-based heads run by name
ALL = ('detection', 'segmentation')


def resume_args(work_dir: str, dry_run: bool = False) -> List[str]:
    """``--resume`` (MMEngine follows work_dir/last_checkpoint, rewritten only after a whole
    checkpoint) when a training there was interrupted: a checkpoint, no test metrics yet.
    Otherwise it starts afresh, removing only the two pointer files, never a checkpoint (the
    folder may be the user's), so that an interruption of the new run resumes the new run."""
    pointer, metrics = [osp.join(work_dir, f) for f in ('last_checkpoint', 'test_metrics.json')]
    if osp.isfile(pointer) and not osp.isfile(metrics):
        return ['--resume']
    for path in (pointer, metrics):
        if osp.isfile(path) and not dry_run:
            os.remove(path)
    return []


def pretrained_checkpoint(work_root: str, options: List[str]) -> str:
    """The pretraining's final checkpoint: its config's work_dir, moved under ``work_root``,
    and MMEngine's name for the checkpoint of the last iteration."""
    cfg = Config.fromfile(osp.join(REPO, PRETRAIN_CONFIG), import_custom_modules=False)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options))
    return osp.join(work_root, osp.basename(cfg.work_dir), f'iter_{cfg.train_cfg.max_iters}.pth')


def step(title: str, *args: str, dry_run: bool) -> None:
    """Print the step and its command line; run it, and stop with its exit code if it fails.
    The pretraining config imports the repository's demo/ package: PYTHONPATH has it."""
    command = [sys.executable, *args]
    print(f'== {title}\n{shlex.join(command)}', flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
    code = 0 if dry_run else subprocess.run(command, env=env).returncode
    if code:
        sys.exit(code)


def train(config: str, work: str, options: List[str], *args: str, dry_run: bool) -> None:
    step(f'training {config}', 'tools/train.py', config, '--work-dir', work, *args,
         *resume_args(work, dry_run), *cfg_options(options), dry_run=dry_run)


def cfg_options(options: List[str]) -> List[str]:
    return ['--cfg-options', *options] if options else []


def precision(config: str, options: List[str]) -> str:
    """The precision the config trains in on this CPU (the recipes' AMP wrapper: bf16 where the
    CPU has native bf16, else fp32; the detection demo sets fp32, faster at its scale)."""
    from convnext_dense.amp import cpu_autocast_dtype
    cfg = Config.fromfile(osp.join(REPO, config), import_custom_modules=False)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options))
    wrapper = cfg.optim_wrapper
    if not str(wrapper.get('type', '')).endswith('AmpOptimWrapper'):
        return 'float32'
    return str(cpu_autocast_dtype(wrapper.get('dtype'))).replace('torch.', '')


def run_demo(name: str, pretrained: str, args: argparse.Namespace) -> None:
    config, data_dir, kind, size, train_images, last_written, test_args = DEMOS[name]
    work = osp.join(args.work_root, f'demo_{name}{"_v2" if args.v2 else ""}')
    data = osp.join(args.data_root, data_dir)
    # (re)written when missing or made by an older demo with another number of scenes; into
    # DATA.partial, renamed when complete, so that a folder present is a whole one
    if not (osp.exists(osp.join(data, last_written))
            and len(os.listdir(osp.join(data, train_images))) == NUM_TRAIN):
        if not args.dry_run:
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(data + '.partial', ignore_errors=True)
        step(f'writing the synthetic dataset {data}', 'tools/make_synthetic_data.py', kind,
             '--out', data + '.partial', '--num-train', str(NUM_TRAIN), '--num-val', '50',
             '--size', str(size), '--seed', '0', '--style', 'demo', dry_run=args.dry_run)
        if not args.dry_run:
            os.rename(data + '.partial', data)
    train(config, work, [f'model.backbone.init_cfg.checkpoint={pretrained}', *args.cfg_options],
          '--data-root', data, dry_run=args.dry_run)
    pointer = osp.join(work, 'last_checkpoint')
    checkpoint = open(pointer).read().strip() if osp.isfile(pointer) else f'$(cat {pointer})'
    step(f'testing {checkpoint}', 'tools/test.py', config, checkpoint, '--work-dir', work,
         '--data-root', data, *[arg.format(work=work) for arg in test_args], '--metrics-out',
         osp.join(work, 'test_metrics.json'), *cfg_options(args.cfg_options),
         dry_run=args.dry_run)
    step('plotting the training curves', 'tools/analysis/plot_training.py', work,
         dry_run=args.dry_run)
    metrics_file = osp.join(work, 'test_metrics.json')
    metrics = json.load(open(metrics_file)) if osp.isfile(metrics_file) else {}
    shown = ', '.join(f'{k.split("/")[-1]} {v:.3f}' for k, v in metrics.items()
                      if k.split('/')[-1] in ('bbox_mAP', 'segm_mAP', 'mIoU'))
    print(f'== {name} done, trained in {precision(config, args.cfg_options)}: {shown or "-"}; '
          f'metrics in {metrics_file}, pictures and curves in {work}/')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('demo', nargs='?', default='all', choices=[*DEMOS, 'all'])
    parser.add_argument('--work-root', default='work_dirs', help='relative to the repository')
    parser.add_argument('--data-root', default='data', help='relative to the repository')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='K=V',
                        help='overrides for the detection/segmentation config (train and test)')
    parser.add_argument('--pretrain-cfg-options', nargs='+', default=[], metavar='K=V',
                        help='overrides for the shape pretraining config')
    parser.add_argument('--v2', action='store_true', help='ConvNeXt-V2 blocks (GRN, no layer '
                        'scale) in the pretraining and the demos; work dirs end in _v2')
    parser.add_argument('--dry-run', action='store_true', help='print the commands only')
    args = parser.parse_args()
    if args.v2:
        v2 = ['model.backbone.use_grn=True', 'model.backbone.layer_scale_init_value=0.']
        args.cfg_options = v2 + args.cfg_options
        args.pretrain_cfg_options = [*v2, 'work_dir=work_dirs/demo_pretrain_v2',
                                     *args.pretrain_cfg_options]
    os.chdir(REPO)
    # one training runs at a time, so it gets every core; on a machine busy with other jobs
    # set OMP_NUM_THREADS=1 (two threads per process then thrash)
    os.environ.setdefault('OMP_NUM_THREADS', str(len(os.sched_getaffinity(0))))
    os.environ.setdefault('MKL_NUM_THREADS', os.environ['OMP_NUM_THREADS'])
    start = time.time()

    pretrained = pretrained_checkpoint(args.work_root, args.pretrain_cfg_options)
    if osp.isfile(pretrained):
        print(f'== pretrained backbone: {pretrained} (cached)')
    else:
        train(PRETRAIN_CONFIG, osp.dirname(pretrained), args.pretrain_cfg_options,
              dry_run=args.dry_run)
    for name in ALL if args.demo == 'all' else [args.demo]:
        run_demo(name, pretrained, args)
    print(f'== demo done in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
