"""A new user's own data, schedules and heads (issue 28): each mistake caught before the work
with one line naming the file, the value and what to do, or stated in the log where it is
MMEngine's behaviour the user chose. Real configs, the project's generated data, real
processes; tiny data and a few iterations."""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import pytest
import torch
from mmengine.config import Config

from cpu_demo.synthetic_data import write_ade20k_dataset, write_coco_dataset
from convnext_dense.errors import DataError, DatasetNotFoundError, UserError
from convnext_dense.preflight import check_config, check_label_values
from helpers import DET_DEMO, NO_PRETRAINED, REPO, SEG_DEMO, one_line_error, run_tool

NO_WORKERS = [f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
              for key in ('num_workers=0', 'persistent_workers=False')]
SHAPES = ('circle', 'triangle', 'square', 'star', 'cross')


@pytest.fixture(scope='module')
def ade(tmp_path_factory):
    """Label maps 0 ("background", or ADE20K's "other") and 1..5 (the shapes)."""
    root = tmp_path_factory.mktemp('ade')
    write_ade20k_dataset(str(root), num_train=8, num_val=2, image_size=64, seed=0)
    return str(root)


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_coco_dataset(str(root), num_train=4, num_val=2, image_size=96, seed=0)
    return str(root)


def train(config, data, work_dir, *options, extra=()):
    return run_tool('tools/train.py', config, '--data-root', data, '--work-dir', work_dir,
                    *extra, '--cfg-options', NO_PRETRAINED, *NO_WORKERS, *options, timeout=300)


def coco_copy(coco, tmp_path, change) -> str:
    """The COCO data with ``change`` applied to its training annotations."""
    data = tmp_path / 'data'
    (data / 'annotations').mkdir(parents=True)
    for name in ('train2017', 'val2017'):
        (data / name).symlink_to(osp.join(coco, name))
    shutil.copy(osp.join(coco, 'annotations/instances_val2017.json'), data / 'annotations')
    ann = json.load(open(osp.join(coco, 'annotations/instances_train2017.json')))
    change(ann)
    (data / 'annotations/instances_train2017.json').write_text(json.dumps(ann))
    return str(data)


# ------------------------------------------------------------------ segmentation labels
def test_reduce_zero_label_on_data_whose_zero_is_a_class(ade, tmp_path):
    reduce = [f'{split}_dataloader.dataset.reduce_zero_label=True' for split in ('train', 'val')]
    one_line_error(train(SEG_DEMO, ade, tmp_path, *reduce,
                         'train_dataloader.dataset.pipeline.1.reduce_zero_label=True'),
                   r'label maps in .*annotations/training hold 0..5 and none 6, as 6 classes '
                   r'from 0 do, but reduce_zero_label=True .*\(cross never\): set '
                   r'reduce_zero_label=False on the datasets and LoadAnnotations')


def test_the_reduce_zero_label_rule_keeps_ade20k_and_the_demo(ade):
    training = dict(data_root=ade, data_prefix=dict(seg_map_path='annotations/training'))
    check_label_values(training, SHAPES, reduced=True)  # ADE20K's: 0 "other", 1..K classes
    check_label_values(training, ('background',) + SHAPES, reduced=False)  # the demo's
    with pytest.raises(DataError, match='none 6'):
        check_label_values(training, ('background',) + SHAPES, reduced=True)
    # ADE20K's 150 classes: a sample never holds all of 0..149, so nothing is refused
    check_label_values(training, tuple(f'c{i}' for i in range(150)), reduced=True)
    check_label_values(dict(training, check_labels=False), ('background',) + SHAPES, True)


# ------------------------------------------------------------------ COCO annotations
def test_empty_and_degenerate_segmentations_are_named(coco, tmp_path):
    def break_two(ann):
        ann['annotations'][1]['segmentation'] = []
        ann['annotations'][2]['segmentation'] = [[10, 10, 20, 20]]  # two points
    data = coco_copy(coco, tmp_path, break_two)
    ann = json.load(open(osp.join(data, 'annotations/instances_train2017.json')))
    first = ann['annotations'][1]
    image = next(i['file_name'] for i in ann['images'] if i['id'] == first['image_id'])
    one_line_error(train(DET_DEMO, data, tmp_path / 'work'),
                   rf'annotation {first["id"]} \(image {image}\) in .*instances_train2017.json '
                   r'has segmentation \[\], no polygon of 3 points or more \(2 such\), but the '
                   r'pipeline loads masks: give each a polygon')


def test_users_plain_coco_dataset_with_zero_images(coco, tmp_path):
    data = coco_copy(coco, tmp_path, lambda ann: ann.update(images=[], annotations=[]))
    config = tmp_path / 'user.py'
    stock = osp.join(REPO, 'configs/mask_rcnn_convnext_t_fpn_3x_coco.py')
    config.write_text(f"_base_ = '{stock}'\nmetainfo = dict(classes={SHAPES!r})\n" + ''.join(
        f"{split}_dataloader = dict(dataset=dict(type='CocoDataset', metainfo=metainfo))\n"
        for split in ('train', 'val', 'test')))
    one_line_error(train(str(config), data, tmp_path / 'work'),
                   r'annotation file .*instances_train2017.json lists no images')


def test_instance_datasets_need_no_panoptic_seg_folder(coco):
    cfg = Config.fromfile(osp.join(REPO, DET_DEMO))
    for split in ('train', 'val'):  # as mmdet's mask2former instance config inherits it
        cfg[f'{split}_dataloader'].dataset.update(
            data_root=coco, data_prefix=dict(img=f'{split}2017/', seg='annotations/panoptic/'))
    cfg.model.backbone.init_cfg = None
    check_config(cfg, ('train', 'val'))
    cfg.train_dataloader.dataset.pipeline[1].with_seg = True  # read: then it must exist
    with pytest.raises(DatasetNotFoundError, match='looked for .*annotations/panoptic/'):
        check_config(cfg, ('train', 'val'))


# ------------------------------------------------------------------ resume and schedules
SCHEDULE = ['train_dataloader.batch_size=2', 'val_cfg=None', 'val_dataloader=None',
            'val_evaluator=None', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=4', 'param_scheduler.0.end=2',
            'param_scheduler.1.begin=2']


@pytest.fixture(scope='module')
def four_iterations(ade, tmp_path_factory):
    """4 iterations whose poly schedule ends at 4 (lr 0 from then on)."""
    work = tmp_path_factory.mktemp('four')
    result = train(SEG_DEMO, ade, work, *SCHEDULE, 'train_cfg.max_iters=4',
                   'param_scheduler.1.end=4')
    assert result.returncode == 0, result.stderr[-3000:]
    return str(work / 'iter_4.pth')


def base_lrs(log: str) -> dict:
    return {int(i): float(lr) for i, lr in re.findall(r'Iter\(train\) \[(\d+)/\d+\]\s+base_lr: '
                                                      r'(\S+)', log)}


@pytest.mark.parametrize('new_schedule', [False, True])
def test_resume_with_a_longer_schedule_says_whose_schedule_applies(ade, four_iterations,
                                                                   tmp_path, new_schedule):
    result = train(SEG_DEMO, ade, tmp_path, *SCHEDULE, 'train_cfg.max_iters=6',
                   'param_scheduler.1.end=6',
                   extra=['--resume', four_iterations] + ['--new-schedule'] * new_schedule)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    lrs = base_lrs(log)
    if new_schedule:  # the config's poly from 2 to 6 at step 4: 2e-3 * (1 - 2 / 3)
        assert 'resumed at iter 4: this config\'s parameter schedule (to iteration 6) ' \
               'applies' in log
        assert lrs[5] == pytest.approx(2e-3 / 3, rel=1e-3) and lrs[6] == 0
    else:
        assert "resumed at iter 4: the checkpoint's parameter schedule ends at iteration 4, " \
               "this config's at iteration 6; the checkpoint's applies" in log
        assert '--new-schedule' in log and lrs[5] == lrs[6] == 0


def test_resume_past_the_configs_end_is_one_line(ade, four_iterations, tmp_path):
    one_line_error(train(SEG_DEMO, ade, tmp_path, *SCHEDULE, 'train_cfg.max_iters=3',
                         'param_scheduler.1.end=3', extra=['--resume', four_iterations]),
                   r'iter_4.pth has trained 4 iters, more than train_cfg.max_iters=3: nothing '
                   r'would be trained; set it above 4')


# ------------------------------------------------------------------ heads
def test_mmseg_model_pretrained_says_to_use_init_cfg(ade, tmp_path):
    one_line_error(train(SEG_DEMO, ade, tmp_path, 'model.pretrained=open-mmlab://resnet50_v1c'),
                   r"model.pretrained='open-mmlab://resnet50_v1c' reaches ConvNeXt.*set "
                   r"model.pretrained=None and model.backbone.init_cfg=dict\(type='Pretrained'")


def random_checkpoint(config: str, path) -> None:
    """A random model whose classifiers are sharp enough to give distinct scores."""
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    for name, p in model.named_parameters():
        if name.endswith('fc_cls.weight'):
            p.data.normal_(0, 0.5)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def test_infer_score_thr_filters_the_json_and_repeated_stems_keep_their_outputs(coco, tmp_path):
    random_checkpoint(DET_DEMO, tmp_path / 'det.pth')
    images = tmp_path / 'images'
    images.mkdir()
    val = sorted(osp.join(coco, 'val2017', n) for n in os.listdir(osp.join(coco, 'val2017')))
    shutil.copy(val[0], images / 'photo.jpg')
    cv2.imwrite(str(images / 'photo.png'), cv2.imread(val[1]))

    def infer(thr, out):
        result = run_tool('tools/infer.py', DET_DEMO, tmp_path / 'det.pth', images,
                          '--out-dir', out, '--score-thr', str(thr))
        assert result.returncode == 0, result.stderr[-3000:]
        assert '2 image(s) written' in result.stdout
        assert sorted(p.name for p in (out / 'vis').iterdir()) == ['photo_jpg.jpg',
                                                                    'photo_png.png']
        return {n: json.loads((out / 'preds' / f'{n}.json').read_text())
                for n in ('photo_jpg', 'photo_png')}

    everything = infer(0, tmp_path / 'all')
    scores = sorted(s for p in everything.values() for s in p['scores'])
    assert len(scores) > 2 and everything['photo_jpg'] != everything['photo_png']
    thr = scores[len(scores) // 2]
    kept = infer(thr, tmp_path / 'kept')
    for name, preds in kept.items():
        expected = [s for s in everything[name]['scores'] if s >= thr]
        assert preds['scores'] == expected, name
        assert len(preds['bboxes']) == len(preds['labels']) == len(preds['label_names']) \
            == len(preds['masks']) == len(expected)


def test_export_refuses_a_head_it_was_not_checked_with(tmp_path):
    config = tmp_path / 'semantic_fpn.py'
    config.write_text(
        f"_base_ = '{osp.join(REPO, SEG_DEMO)}'\n"
        "model = dict(neck=dict(type='FPN', in_channels=[40, 80, 160, 320], out_channels=32,\n"
        "                       num_outs=4),\n"
        "             decode_head=dict(_delete_=True, type='FPNHead', in_channels=[32] * 4,\n"
        "                              in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],\n"
        "                              channels=32, num_classes=6),\n"
        "             auxiliary_head=None)\n")
    torch.save({'state_dict': {}}, tmp_path / 'x.pth')
    one_line_error(run_tool('tools/export.py', config, tmp_path / 'x.pth', tmp_path / 'x.onnx'),
                   r'FPNHead was not checked for ONNX export \(checked: MaskRCNN, CascadeRCNN, '
                   r'DINO, Mask2Former, UPerHead, Mask2FormerHead\): pass --allow-unchecked-head')


def test_export_judges_the_difference_against_its_tolerance():
    import export

    class Graph(torch.nn.Module):
        output_names = ('logits',)

        def forward(self, image):
            return image[:, :2] * 10

    class File:
        def __init__(self, error):
            self.error = error

        def run(self, image):
            out = image[:, :2].numpy() * 10
            out[0, 0, 0, 0] += self.error
            return [out]

    assert 'largest difference 0.0005' in export.compare(Graph(), File(5e-4), (40, 56))
    with pytest.raises(UserError, match=r'differs from PyTorch at 40x56: outputs '
                                        r'\[\(1, 2, 40, 56\)\], largest difference 0.024'):
        export.compare(Graph(), File(0.024), (40, 56))


@pytest.mark.parametrize('tool', ['export', 'infer'])
def test_help_names_every_argument_and_export_has_no_launcher(tool, monkeypatch, capsys):
    module = __import__(tool)
    monkeypatch.setattr('sys.argv', [f'{tool}.py', '--help'])
    with pytest.raises(SystemExit):
        module.parse_args()
    usage = capsys.readouterr().out
    positional = usage.split('positional arguments:')[1].split('options:')[0]
    assert all(len(line.split()) > 1 for line in positional.splitlines()
               if re.match(r'  \S', line)), positional  # an argument and its help
    assert '--cfg-options' in usage and '--launcher' not in usage
