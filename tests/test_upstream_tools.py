"""A user's config that imports convnext_dense trains and tests under mmdet's and mmseg's
own tools/train.py and tools/test.py (the copies shipped inside the installed packages),
with nothing from this repository on the command line but the config, and gets what our
tools give: the recipes' hooks and convnext_dense.Runner's checks (from the config)."""
import glob
import os.path as osp

import pytest

from cpu_demo.synthetic_data import write_ade20k_dataset, write_coco_dataset
from helpers import DET_DEMO, NO_PRETRAINED, REPO, SEG_DEMO, run_tool

LOADERS = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
           for key in ('num_workers=0', 'persistent_workers=False')]


def upstream_tool(package: str, name: str) -> str:
    module = __import__(package)
    return osp.join(osp.dirname(module.__file__), '.mim', 'tools', name)


def user_config(tmp_path, base: str, data_root: str) -> str:
    """What a user writes: inherit one of our configs, point it at their data."""
    path = tmp_path / 'user_config.py'
    path.write_text(f"_base_ = ['{osp.join(REPO, base)}']\n"
                    f"data_root = '{data_root}/'\n"
                    'train_dataloader = dict(dataset=dict(data_root=data_root))\n'
                    'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
                    'test_dataloader = val_dataloader\n')
    return str(path)


@pytest.mark.parametrize('package', ['mmdet', 'mmseg'])
def test_upstream_train_and_test_run_a_user_config(package, tmp_path):
    data = str(tmp_path / 'data')
    if package == 'mmdet':
        write_coco_dataset(data, num_train=4, num_val=2, image_size=96, seed=0)
        config = user_config(tmp_path, DET_DEMO, data)
        schedule = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
                    f'val_evaluator.ann_file={data}/annotations/instances_val2017.json',
                    f'test_evaluator.ann_file={data}/annotations/instances_val2017.json']
    else:
        write_ade20k_dataset(data, num_train=4, num_val=2, image_size=64, seed=0)
        config = user_config(tmp_path, SEG_DEMO, data)
        schedule = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=2']
    work = str(tmp_path / 'work')
    options = ['--cfg-options', NO_PRETRAINED, *LOADERS, *schedule]
    trained = run_tool(upstream_tool(package, 'train.py'), config, '--work-dir', work,
                       *options, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    train_log = open(sorted(glob.glob(osp.join(work, '*', '*.log')))[-1]).read()
    assert 'CheckFiniteLossHook' in train_log and 'RngStateHook' in train_log
    checkpoint = open(osp.join(work, 'last_checkpoint')).read().strip()
    tested = run_tool(upstream_tool(package, 'test.py'), config, checkpoint, '--work-dir', work,
                      *options, timeout=600)
    assert tested.returncode == 0, tested.stderr[-3000:]
    log = open(sorted(glob.glob(osp.join(work, '*', '*.log')))[-1]).read()
    assert ('coco/bbox_mAP' if package == 'mmdet' else 'mIoU') in log


@pytest.mark.parametrize('package,base', [('mmdet', DET_DEMO), ('mmseg', SEG_DEMO)])
def test_upstream_train_runs_the_data_checks(package, base, tmp_path):
    """The pre-flight checks come from the config (convnext_dense.Runner), so mmdet's and
    mmseg's own train.py stop on missing data before the model trains, naming it."""
    config = user_config(tmp_path, base, str(tmp_path / 'no_data'))
    result = run_tool(upstream_tool(package, 'train.py'), config, '--work-dir',
                      str(tmp_path / 'work'), '--cfg-options', NO_PRETRAINED, timeout=600)
    assert result.returncode != 0
    assert 'DatasetNotFoundError' in result.stderr and 'for train not found: looked for ' \
        f'{tmp_path / "no_data"}' in result.stderr, result.stderr[-3000:]
