"""Interrupted training resumes and loses nothing; a non-finite loss stops training cleanly.

Real processes on real (synthetic) data: tools/train.py is started, killed with SIGKILL
after it wrote a checkpoint, and resumed with --resume (MMEngine's resume, which follows
WORK_DIR/last_checkpoint).
"""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from convnext_dense.checkpoint import load_checkpoint_file
from cpu_demo.synthetic_data import write_ade20k_dataset

CONFIG = 'configs/demo/upernet_convnext_atto_synthetic.py'
# 4 iterations of batch 2, a checkpoint every 2, no validation: small and quick
OPTIONS = ['model.backbone.init_cfg=None',  # no demo_pretrain checkpoint needed
           'train_cfg.max_iters=4', 'default_hooks.checkpoint.interval=2',
           'default_hooks.checkpoint.max_keep_ckpts=10', 'train_dataloader.batch_size=2',
           'default_hooks.logger.interval=1', 'val_cfg=None', 'val_dataloader=None',
           'val_evaluator=None']


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade')
    write_ade20k_dataset(str(root), num_train=8, num_val=2, image_size=64, seed=0)
    return str(root)


def train_cmd(work_dir, data_root, *extra, options=()):
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
            '--data-root', data_root, *extra, '--cfg-options', *OPTIONS, *options]


def run(cmd, cwd):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return out.returncode, out.stdout + out.stderr


def weights(path):
    return load_checkpoint_file(str(path))['state_dict']  # weights only


@pytest.fixture(scope='module')
def uninterrupted(data_root, tmp_path_factory, repo_root=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    code, log = run(train_cmd(work_dir, data_root), repo_root)
    assert code == 0, log[-3000:]
    return work_dir


def test_sigkill_then_resume_matches_uninterrupted_run(uninterrupted, data_root, tmp_path,
                                                       repo_root):
    work_dir = tmp_path / 'killed'
    proc = subprocess.Popen(train_cmd(work_dir, data_root), cwd=repo_root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = work_dir / 'iter_2.pth'
    pointer = work_dir / 'last_checkpoint'  # MMEngine writes it once a checkpoint is complete
    deadline = time.time() + 500
    while not pointer.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert pointer.read_text().strip() == str(first)
    assert not (work_dir / 'iter_4.pth').exists()
    # a later checkpoint whose write was cut off is not what last_checkpoint names
    cut = first.read_bytes()
    (work_dir / 'iter_3.pth').write_bytes(cut[:len(cut) // 3])

    code, log = run(train_cmd(work_dir, data_root, '--resume'), repo_root)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log

    expected, got = weights(uninterrupted / 'iter_4.pth'), weights(work_dir / 'iter_4.pth')
    assert expected.keys() == got.keys()
    for key in expected:  # bit-exact on CPU: same data order, augmentation and dropout
        assert torch.equal(expected[key], got[key]), key


def test_resume_from_given_path(uninterrupted, data_root, tmp_path, repo_root):
    code, log = run(train_cmd(tmp_path, data_root, '--resume',
                              str(uninterrupted / 'iter_2.pth')), repo_root)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    expected, got = weights(uninterrupted / 'iter_4.pth'), weights(tmp_path / 'iter_4.pth')
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(uninterrupted, data_root,
                                                               tmp_path, repo_root):
    """Resume from iteration 2 with a zero normalisation std: the inputs become infinite
    and the loss NaN at iteration 3; training must stop there, naming it, and write nothing."""
    work_dir = tmp_path / 'nan'
    work_dir.mkdir()
    good = work_dir / 'iter_2.pth'
    good.write_bytes((uninterrupted / 'iter_2.pth').read_bytes())
    (work_dir / 'last_checkpoint').write_text(str(good))  # as MMEngine leaves it
    code, log = run(train_cmd(work_dir, data_root, '--resume',
                              options=['model.data_preprocessor.std=[0.0,0.0,0.0]']), repo_root)
    assert code == 2
    last = [line for line in log.splitlines() if line.startswith('error:')]
    assert last and 'loss became non-finite at iteration 3' in last[-1], log[-2000:]
    assert 'Traceback' not in log
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_2.pth']


def test_resume_with_missing_path_is_one_line(data_root, tmp_path, repo_root):
    code, log = run(train_cmd(tmp_path, data_root, '--resume', str(tmp_path / 'nope.pth')),
                    repo_root)
    assert code == 2 and 'nope.pth: no such checkpoint' in log and 'Traceback' not in log


def test_resume_without_path_follows_the_work_dir_even_with_load_from(uninterrupted, data_root,
                                                                      tmp_path, repo_root):
    """A fine-tuning config sets load_from; --resume must go on from the work dir's last
    checkpoint (iteration 2 here), not restart from load_from (iteration 4)."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    own = work_dir / 'iter_2.pth'
    own.write_bytes((uninterrupted / 'iter_2.pth').read_bytes())
    (work_dir / 'last_checkpoint').write_text(str(own))
    code, log = run(train_cmd(work_dir, data_root, '--resume', options=[
        f'load_from={uninterrupted / "iter_4.pth"}']), repo_root)
    assert code == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    expected, got = weights(uninterrupted / 'iter_4.pth'), weights(work_dir / 'iter_4.pth')
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_a_bug_in_a_hook_keeps_its_traceback(data_root, tmp_path, repo_root):
    """Only the user's mistakes become one line: a KeyError raised by a hook (a bug) shows its
    traceback and exits 1, not 2."""
    (tmp_path / 'buggy_hook.py').write_text(
        'from mmengine.hooks import Hook\n'
        'from mmengine.registry import HOOKS\n\n\n'
        '@HOOKS.register_module()\n'
        'class BuggyHook(Hook):\n'
        '    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):\n'
        "        return {}['no_such_key']\n")
    config = tmp_path / 'config.py'
    config.write_text(f"_base_ = ['{os.path.join(repo_root, CONFIG)}']\n"
                      "custom_imports = dict(imports=['convnext_dense', "
                      "'convnext_dense.segmentation', 'buggy_hook'])\n"
                      "custom_hooks = [dict(type='BuggyHook')]\n")
    out = subprocess.run([sys.executable, 'tools/train.py', str(config), '--work-dir',
                          str(tmp_path / 'work'), '--data-root', data_root, '--cfg-options',
                          *OPTIONS], cwd=repo_root, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    log = out.stdout + out.stderr
    assert out.returncode == 1, log[-3000:]
    assert 'Traceback' in log and "KeyError: 'no_such_key'" in log
    assert 'in after_train_iter' in log
