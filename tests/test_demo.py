"""tools/demo.py (cpu_demo/run.py): the resume rule, each step's command line (--dry-run), a failing step's exit
code, and demo configs whose schedule follows the real keys a user overrides."""
import ast
import os
import os.path as osp
import shlex
import sys

import pytest
from mmengine.config import Config

from helpers import DET_DEMO, REPO, SEG_DEMO, one_line_error, run_tool

PRETRAIN = 'configs/demo/convnext_atto_shapes_pretrain.py'
from cpu_demo import run as demo


def write(path, text='x'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def test_first_run_starts_afresh(tmp_path):
    assert demo.resume_args(str(tmp_path / 'never_trained')) == []


def test_interrupted_run_resumes_and_keeps_its_files(tmp_path):
    write(tmp_path / 'iter_1000.pth')
    write(tmp_path / 'last_checkpoint', str(tmp_path / 'iter_1000.pth'))
    assert demo.resume_args(str(tmp_path)) == ['--resume']
    assert sorted(os.listdir(tmp_path)) == ['iter_1000.pth', 'last_checkpoint']


def test_finished_run_starts_afresh_removing_only_the_pointer_files(tmp_path):
    for name in ('epoch_5.pth', 'last_checkpoint', 'test_metrics.json', 'run.log'):
        write(tmp_path / name)
    assert demo.resume_args(str(tmp_path), dry_run=True) == []
    assert len(os.listdir(tmp_path)) == 4  # a dry run changes nothing
    assert demo.resume_args(str(tmp_path)) == []
    assert sorted(os.listdir(tmp_path)) == ['epoch_5.pth', 'run.log']


def test_a_failing_step_stops_the_demo_with_its_exit_code(capsys):
    with pytest.raises(SystemExit) as stop:
        demo.step('failing', '-c', 'import sys; sys.exit(3)', dry_run=False)
    assert stop.value.code == 3
    assert capsys.readouterr().out.startswith('== failing\n')


def dry_run(tmp_path, *args):
    """The command lines the demo prints under its ``==`` lines, without the interpreter."""
    result = run_tool('tools/demo.py', *args, '--work-root', tmp_path / 'work', '--data-root',
                      tmp_path / 'data', '--dry-run')
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    steps = [shlex.split(command)[1:] for title, command in zip(lines, lines[1:])
             if title.startswith('== ') and command.startswith(shlex.quote(sys.executable))]
    return steps, result.stdout


def test_dry_run_of_a_first_segmentation_demo(tmp_path):
    steps, out = dry_run(tmp_path, 'segmentation')
    work, data = tmp_path / 'work', tmp_path / 'data/synthetic_ade_demo'
    checkpoint = f'{work}/demo_pretrain/iter_3000.pth'
    assert steps == [
        ['tools/train.py', PRETRAIN, '--work-dir', f'{work}/demo_pretrain'],
        ['tools/make_synthetic_data.py', 'ade', '--out', f'{data}.partial', '--num-train', '1000',
         '--num-val', '50', '--size', '128', '--seed', '0', '--style', 'demo'],
        ['tools/train.py', SEG_DEMO, '--work-dir', f'{work}/demo_segmentation', '--data-root',
         str(data), '--cfg-options', f'model.backbone.init_cfg.checkpoint={checkpoint}'],
        ['tools/test.py', SEG_DEMO, f'$(cat {work}/demo_segmentation/last_checkpoint)',
         '--work-dir', f'{work}/demo_segmentation', '--data-root', str(data), '--show-dir',
         'vis', '--metrics-out', f'{work}/demo_segmentation/test_metrics.json'],
        ['tools/analysis/plot_training.py', f'{work}/demo_segmentation']]
    assert not osp.exists(work) and not osp.exists(tmp_path / 'data')  # nothing written
    assert 'detection' not in out


def test_dry_run_of_the_v2_demo_uses_grn_blocks_and_its_own_work_dirs(tmp_path):
    steps, _ = dry_run(tmp_path, 'segmentation', '--v2')
    work = tmp_path / 'work'
    v2 = ['model.backbone.use_grn=True', 'model.backbone.layer_scale_init_value=0.']
    assert steps[0][:3] == ['tools/train.py', PRETRAIN, '--work-dir']
    assert steps[0][3] == f'{work}/demo_pretrain_v2' and v2[0] in steps[0] and v2[1] in steps[0]
    train, test = steps[2], steps[3]
    assert train[3] == f'{work}/demo_segmentation_v2'
    assert f'model.backbone.init_cfg.checkpoint={work}/demo_pretrain_v2/iter_3000.pth' in train
    assert all(option in train and option in test for option in v2)


def test_dry_run_of_an_interrupted_detection_demo_with_overrides(tmp_path):
    """Pretraining cached, data present, training interrupted: resume it; overrides reach the
    trainings and the test."""
    work, data = tmp_path / 'work', tmp_path / 'data/synthetic_coco_demo'
    write(work / 'demo_pretrain/iter_4.pth')
    write(data / 'annotations/instances_val2017.json')
    for index in range(1000):
        write(data / f'train2017/{index:06d}.jpg')
    write(work / 'demo_detection/last_checkpoint', f'{work}/demo_detection/epoch_2.pth')
    steps, out = dry_run(tmp_path, 'detection', '--cfg-options', 'train_cfg.max_epochs=1',
                         '--pretrain-cfg-options', 'train_cfg.max_iters=4')
    assert f'== pretrained backbone: {work}/demo_pretrain/iter_4.pth (cached)' in out
    assert steps == [
        ['tools/train.py', DET_DEMO, '--work-dir', f'{work}/demo_detection', '--data-root',
         str(data), '--resume', '--cfg-options',
         f'model.backbone.init_cfg.checkpoint={work}/demo_pretrain/iter_4.pth',
         'train_cfg.max_epochs=1'],
        ['tools/test.py', DET_DEMO, f'{work}/demo_detection/epoch_2.pth', '--work-dir',
         f'{work}/demo_detection', '--data-root', str(data), '--show-dir', 'predictions',
         '--out', f'{work}/demo_detection/predictions.pkl', '--metrics-out',
         f'{work}/demo_detection/test_metrics.json', '--cfg-options', 'train_cfg.max_epochs=1'],
        ['tools/analysis/plot_training.py', f'{work}/demo_detection']]


def test_the_pretraining_config_names_the_checkpoint_the_demo_configs_load():
    """One place: the pretraining config's work_dir and schedule name its final checkpoint;
    run directly, the demo configs load that file."""
    checkpoint = demo.pretrained_checkpoint('work_dirs', [])
    assert checkpoint == f'{Config.fromfile(osp.join(REPO, PRETRAIN)).work_dir}/iter_3000.pth'
    for config in (DET_DEMO, SEG_DEMO):
        assert Config.fromfile(osp.join(REPO, config)).model.backbone.init_cfg == dict(
            type='Pretrained', checkpoint=checkpoint)


REAL_KEYS = {  # MMEngine's, OpenMMLab's conventional ones, and the tools' two hints
    '_base_', 'custom_imports', 'default_scope', 'work_dir', 'model', 'data_root', 'metainfo',
    'dataset_hint', 'checkpoint_hint', 'train_pipeline', 'test_pipeline', 'tta_pipeline', 'train_dataloader',
    'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator', 'train_cfg',
    'val_cfg', 'param_scheduler', 'optim_wrapper', 'auto_scale_lr', 'default_hooks', 'env_cfg',
    'log_processor', 'randomness'}


@pytest.mark.parametrize('config', [PRETRAIN, DET_DEMO, SEG_DEMO])
def test_demo_configs_define_no_settings_that_cfg_options_cannot_reach(config):
    """``max_iters = 3000`` at the top of a config looks like a setting, but
    ``--cfg-options max_iters=4`` would change nothing: the numbers are inlined."""
    tree = ast.parse(open(osp.join(REPO, config)).read())
    names = {target.id for node in tree.body if isinstance(node, ast.Assign)
             for target in node.targets}
    assert names <= REAL_KEYS, names - REAL_KEYS


@pytest.mark.parametrize('config,key,length,decay_ends', [
    (PRETRAIN, 'max_iters', 3000, []), (SEG_DEMO, 'max_iters', 3000, [3000]),
    (DET_DEMO, 'max_epochs', 5, [5 * 250])])  # 1000 images / batch 4 per epoch
def test_cfg_options_change_the_schedule(config, key, length, decay_ends):
    """The real keys the config headers name: train_cfg's length and the end of the lr decay
    after the warm-up, in iterations, which ends with the training."""
    cfg = Config.fromfile(osp.join(REPO, config))
    warm_up, *decay = cfg.param_scheduler
    assert cfg.train_cfg[key] == length and warm_up.end == 50
    assert [scheduler.end for scheduler in decay] == decay_ends
    cfg.merge_from_dict({f'train_cfg.{key}': 2, **{f'param_scheduler.{i + 1}.end': 8
                                                   for i in range(len(decay))}})
    assert cfg.train_cfg[key] == 2
    assert [scheduler.end for scheduler in cfg.param_scheduler[1:]] == [8] * len(decay)


@pytest.mark.parametrize('config,demo_name', [(DET_DEMO, 'detection'),
                                              (SEG_DEMO, 'segmentation')])
def test_missing_demo_data_says_how_to_make_it(config, demo_name, tmp_path):
    result = run_tool('tools/train.py', config, '--data-root', tmp_path / 'missing',
                      '--work-dir', tmp_path / 'work')
    one_line_error(result, f'python tools/demo.py {demo_name} writes it')
