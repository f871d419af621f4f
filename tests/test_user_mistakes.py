"""The mistakes new users make most with mmdet/mmseg, each caught before the work starts
with one line that says what is wrong and what to set (issue 19)."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config

from cli_helpers import set_data_root
from cpu_demo.synthetic_data import write_ade20k_dataset, write_coco_dataset
from convnext_dense.errors import UserError
from helpers import DET_DEMO, NO_PRETRAINED, REPO, SEG_DEMO, one_line_error, run_tool

STOCK_DET = 'configs/mask_rcnn_convnext_t_fpn_1x_coco.py'
NO_WORKERS = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
              for key in ('num_workers=0', 'persistent_workers=False')]


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_coco_dataset(str(root), num_train=4, num_val=2, image_size=96, seed=0)
    return str(root)


@pytest.fixture(scope='module')
def ade(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade')
    write_ade20k_dataset(str(root), num_train=4, num_val=2, image_size=64, seed=0)
    return str(root)


def train(config, data, tmp_path, *options):
    return run_tool('tools/train.py', config, '--data-root', data, '--work-dir',
                    tmp_path / 'work', '--cfg-options', NO_PRETRAINED, *NO_WORKERS, *options,
                    timeout=300)


# ------------------------------------------------------------------ classes and heads
def test_stock_config_on_own_data_says_to_set_the_classes(coco, tmp_path):
    line = one_line_error(train(STOCK_DET, coco, tmp_path),
                          r'has 5 categories \(circle, triangle')
    assert 'none of them' in line and 'metainfo=dict(classes=' in line


@pytest.mark.parametrize('num_classes', [2, 7])
def test_heads_with_another_number_of_classes(coco, tmp_path, num_classes):
    one_line_error(train(DET_DEMO, coco, tmp_path,
                         f'model.roi_head.bbox_head.num_classes={num_classes}'),
                   rf'declares 5 classes \(circle, .*model.roi_head.bbox_head.num_classes '
                   rf'is {num_classes}: set it to 5')


def test_misspelled_class_is_named(coco, tmp_path):
    classes = "('cirle','triangle','square','star','cross')"
    one_line_error(train(DET_DEMO, coco, tmp_path,
                         f'train_dataloader.dataset.metainfo.classes={classes}'),
                   r"class 'cirle' of metainfo is not a category of .*instances_train2017")


@pytest.mark.parametrize('num_classes', [3, 9])
def test_segmentation_heads_with_another_number_of_classes(ade, tmp_path, num_classes):
    one_line_error(train(SEG_DEMO, ade, tmp_path, f'model.decode_head.num_classes={num_classes}'),
                   rf'declares 6 classes \(background, circle.*model.decode_head.num_classes '
                   rf'is {num_classes}: set it to 6')


def test_segmentation_labels_beyond_the_declared_classes(ade, tmp_path):
    classes = "('background','circle','triangle')"
    one_line_error(train(SEG_DEMO, ade, tmp_path,
                         f'train_dataloader.dataset.metainfo.classes={classes}',
                         'model.decode_head.num_classes=3',
                         'model.auxiliary_head.num_classes=3'),
                   r'label map .*annotations/training/.*\.png holds class values up to [345] '
                   r'but the config declares 3 classes')


# ------------------------------------------------------------------ --data-root
def test_data_root_moves_every_path_of_the_dataset_or_refuses(tmp_path):
    cfg = Config(dict(
        data_root='/old/',
        train_dataloader=dict(dataset=dict(data_root='/old/', ann_file='/old/ann/train.json',
                                           data_prefix=dict(img='images/'))),
        val_dataloader=dict(dataset=dict(data_root='/old/', ann_file='ann/val.json',
                                         data_prefix=dict(img='/old/val_images/'))),
        val_evaluator=dict(ann_file='/old/ann/val.json'),
        test_evaluator=[dict(ann_file='/old/ann/val.json'), dict(type='Dump')]))
    set_data_root(cfg, '/new')
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert (train.data_root, train.ann_file) == ('/new', 'ann/train.json')
    assert (val.ann_file, val.data_prefix.img) == ('ann/val.json', 'val_images')
    assert cfg.val_evaluator.ann_file == '/new/ann/val.json'
    assert cfg.test_evaluator[0].ann_file == '/new/ann/val.json'

    cfg.train_dataloader.dataset.ann_file = '/elsewhere/train.json'
    with pytest.raises(UserError, match=r'--data-root cannot move train ann_file '
                                        r'/elsewhere/train.json: it is an absolute path'):
        set_data_root(cfg, '/newer')


def test_data_root_moves_the_evaluators_annotation_file(coco, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, DET_DEMO))
    set_data_root(cfg, coco)
    assert cfg.test_evaluator.ann_file == osp.join(coco, 'annotations/instances_val2017.json')


# ------------------------------------------------------------------ checkpoints
@pytest.fixture(scope='module')
def detector_checkpoint(tmp_path_factory):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, DET_DEMO))
    cfg.model.backbone.init_cfg = None
    path = tmp_path_factory.mktemp('ckpt') / 'detector.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    return str(path)


def test_checkpoint_of_the_other_task_is_refused(ade, tmp_path, detector_checkpoint):
    result = run_tool('tools/test.py', SEG_DEMO, detector_checkpoint, '--data-root', ade,
                      '--work-dir', tmp_path)
    one_line_error(result, r'does not fit this EncoderDecoder: \d+ of its \d+ tensors '
                           r'\(\d+ of decode_head, \d+ of auxiliary_head\) would stay unloaded'
                           r'.* holds backbone, neck, roi_head, rpn_head')
    image = next(iter(sorted((tmp_path.parent).glob('**/*.jpg'))), None) or \
        osp.join(ade, 'images/validation/val_000000.jpg')
    result = run_tool('tools/infer.py', SEG_DEMO, detector_checkpoint, image, '--out-dir',
                      tmp_path / 'out')
    one_line_error(result, r'does not fit this EncoderDecoder: .*decode_head.*--allow-partial')


# ------------------------------------------------------------------ one line, not a traceback
@pytest.mark.parametrize('text,pattern', [
    ('', r'defines no model'),
    ('model = dict(type=\n', r'syntax error at line'),
])
@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_broken_config_files(tmp_path, text, pattern, tool):
    config = tmp_path / 'user.py'
    config.write_text(text)
    args = [config] if tool.endswith('train.py') else [config, tmp_path / 'x.pth']
    one_line_error(run_tool(tool, *args, timeout=120), pattern)


def test_device_cuda_without_a_gpu(ade, tmp_path, detector_checkpoint):
    # hide any GPU this machine has, so the test runs the same everywhere
    result = run_tool('tools/infer.py', DET_DEMO, detector_checkpoint,
                      osp.join(ade, 'images/validation/val_000000.jpg'), '--device', 'cuda',
                      env=dict(CUDA_VISIBLE_DEVICES=''))
    one_line_error(result, r'--device cuda.*no GPU')


def test_segmentation_out_must_be_a_folder(ade, tmp_path):
    result = run_tool('tools/test.py', SEG_DEMO, tmp_path / 'x.pth', '--data-root', ade,
                      '--out', tmp_path / 'x.pkl')
    one_line_error(result, r'--out .*x.pkl: segmentation predictions are saved as a folder')


def test_ctrl_c_stops_training_with_one_line_saying_how_to_resume(ade, tmp_path):
    cmd = [sys.executable, 'tools/train.py', SEG_DEMO, '--data-root', ade, '--work-dir',
           str(tmp_path), '--cfg-options', NO_PRETRAINED, *NO_WORKERS,
           'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2']
    # a shell's background job ignores SIGINT and its children inherit that: restore it
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, OMP_NUM_THREADS='1'),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    for line in proc.stdout:  # interrupt once training has really started
        if 'Iter(train)' in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, rest[-3000:]
    assert 'Traceback' not in rest
    errors = [line for line in rest.splitlines() if line.startswith('error: ')]
    assert errors == [errors[0]] and 'interrupted (Ctrl-C)' in errors[0]
    assert '--resume' in errors[0]


def test_missing_pretrained_checkpoint_names_the_command_that_makes_it(coco, tmp_path):
    result = run_tool('tools/train.py', DET_DEMO, '--data-root', coco, '--work-dir', tmp_path,
                      '--cfg-options', 'model.backbone.init_cfg.checkpoint=/nowhere/iter_9.pth',
                      timeout=300)
    one_line_error(result, r'pretrained backbone checkpoint /nowhere/iter_9.pth does not exist; '
                           r'python tools/demo.py makes it')


# ------------------------------------------------------------------ smaller things
@pytest.mark.parametrize('tool', ['benchmarks/speed.py', 'tools/analysis/get_flops.py',
                                  'tools/analysis/plot_training.py', 'tools/infer.py',
                                  'tools/demo.py', 'tools/convert_checkpoint.py',
                                  'tools/make_synthetic_data.py'])
def test_help_says_what_the_tool_does_in_whole_sentences(tool):
    result = run_tool(tool, '--help', timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    description = result.stdout.split('\n\n')[1]
    assert description.rstrip().endswith('.'), description


def test_converted_safetensors_file_is_readable_by_others(tmp_path):
    import stat
    from convnext_dense import ConvNeXt
    from convert_checkpoint import convert_checkpoint  # tools/
    torch.save({'state_dict': ConvNeXt('atto').state_dict()}, tmp_path / 'atto.pth')
    convert_checkpoint(str(tmp_path / 'atto.pth'), str(tmp_path / 'atto.safetensors'))
    mode = (tmp_path / 'atto.safetensors').stat().st_mode
    torch.save({}, tmp_path / 'reference.pth')
    assert stat.S_IMODE(mode) == stat.S_IMODE((tmp_path / 'reference.pth').stat().st_mode)


def test_dist_scripts_use_the_install_venv_without_activation():
    for script in ('tools/dist_train.sh', 'tools/dist_test.sh'):
        text = open(osp.join(REPO, script)).read()
        assert '.venv/bin/python' in text and 'PYTHON=${PYTHON:-' in text


def test_a_dataset_without_usable_images_says_so(coco, tmp_path):
    import json
    ann = json.load(open(osp.join(coco, 'annotations/instances_train2017.json')))
    ann['annotations'] = []  # no image has an object left: filter_empty_gt drops them all
    data = tmp_path / 'data'
    (data / 'annotations').mkdir(parents=True)
    (data / 'train2017').symlink_to(osp.join(coco, 'train2017'))
    (data / 'val2017').symlink_to(osp.join(coco, 'val2017'))
    (data / 'annotations/instances_train2017.json').write_text(json.dumps(ann))
    (data / 'annotations/instances_val2017.json').write_text(
        open(osp.join(coco, 'annotations/instances_val2017.json')).read())
    one_line_error(train(DET_DEMO, str(data), tmp_path),
                   r'instances_train2017.json has no usable image: 4 listed, none with an '
                   r'annotation of the classes')
