"""Every bad input gets one clear line; odd but valid inputs simply work."""
import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import convnext_dense  # noqa: F401
from convnext_dense.detection import CocoDataset
from cpu_demo.synthetic_data import write_coco_dataset
from convnext_dense.errors import DataError

DET_DEMO = 'configs/demo/mask_rcnn_convnext_atto_synthetic.py'
SEG_DEMO = 'configs/demo/upernet_convnext_atto_synthetic.py'
PIPELINE = [dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs')]


def tool(repo_root, *args):
    out = subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True,
                         text=True, timeout=300)
    return out.returncode, out.stdout + out.stderr


def assert_one_line_error(code, log, pattern):
    assert code == 2, log[-2000:]
    assert 'Traceback' not in log, log[-2000:]
    errors = [line for line in log.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and re.search(pattern, errors[0]), log[-2000:]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_coco_dataset(str(root), num_train=4, num_val=2, image_size=96, seed=3)
    return root


def dataset(root, ann='annotations/instances_train2017.json', **kwargs):
    init_default_scope('mmdet')
    return CocoDataset(data_root=str(root), ann_file=ann, data_prefix=dict(img='train2017/'),
                       metainfo=dict(classes=('circle', 'triangle', 'square', 'star', 'cross')),
                       pipeline=PIPELINE, **kwargs)


# ------------------------------------------------------------------ through the tools
@pytest.mark.parametrize('args,pattern', [
    (['tools/train.py', 'configs/does_not_exist.py'], r'config configs/does_not_exist.py does not exist'),
    (['tools/train.py', SEG_DEMO, '--data-root', '/nonexistent/ade'],
     r'not found: looked for /nonexistent/ade/images/training'),
    (['tools/train.py', DET_DEMO, '--data-root', '/nonexistent/coco'],
     r'CocoDataset for train not found: looked for /nonexistent/coco/annotations/instances_train2017.json'),
])
def test_tool_errors_before_building(repo_root, args, pattern):
    assert_one_line_error(*tool(repo_root, *args), pattern)


@pytest.mark.parametrize('option,pattern', [
    ('model.backbone.arch=tinyy', r"unknown ConvNeXt arch 'tinyy'; choose one of atto"),
    ('model.backbone.out_indices=[0,1,2,7]', r'out_indices entry 7 is out of range'),
])
def test_bad_backbone_arguments(repo_root, coco_root, option, pattern):
    code, log = tool(repo_root, 'tools/train.py', DET_DEMO, '--data-root', str(coco_root),
                     '--work-dir', str(coco_root / 'work'), '--cfg-options', option,
                     'model.backbone.init_cfg=None')
    assert_one_line_error(code, log, pattern)


@pytest.fixture(scope='module')
def bad_checkpoints(tmp_path_factory):
    from convnext_dense import ConvNeXt
    root = tmp_path_factory.mktemp('ckpts')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               ConvNeXt(arch='femto').state_dict().items()}}, root / 'femto.pth')
    data = (root / 'femto.pth').read_bytes()
    (root / 'cut.pth').write_bytes(data[:len(data) // 2])
    (root / 'notes.pth').write_text('not a checkpoint')
    return root


@pytest.mark.parametrize('name,pattern', [
    ('missing.pth', r'missing.pth does not exist'),
    ('cut.pth', r'cut.pth is truncated'),
    ('notes.pth', r'notes.pth (is not a PyTorch checkpoint|is truncated or corrupt)'),
])
def test_test_tool_rejects_bad_checkpoints(repo_root, coco_root, bad_checkpoints, name, pattern):
    code, log = tool(repo_root, 'tools/test.py', DET_DEMO, str(bad_checkpoints / name),
                     '--data-root', str(coco_root), '--work-dir', str(coco_root / 'work'))
    assert_one_line_error(code, log, pattern)


def test_pretrained_of_another_arch_names_both(repo_root, coco_root, bad_checkpoints):
    code, log = tool(
        repo_root, 'tools/train.py', DET_DEMO, '--data-root', str(coco_root),
        '--work-dir', str(coco_root / 'work'), '--cfg-options', 'train_cfg.max_epochs=1',
        'model.backbone.init_cfg._delete_=True', 'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={bad_checkpoints / "femto.pth"}')
    assert_one_line_error(code, log, r'holds ConvNeXt-femto weights but the model is ConvNeXt-atto')


# ------------------------------------------------------------------ annotations and images
def test_malformed_annotation_json(coco_root, tmp_path):
    bad = tmp_path / 'broken.json'
    bad.write_text('{"images": [')
    with pytest.raises(DataError, match=r'broken.json is not valid JSON'):
        dataset(coco_root, ann=str(bad))


def test_annotations_pointing_at_missing_images(coco_root, tmp_path):
    ann = json.loads((coco_root / 'annotations/instances_train2017.json').read_text())
    ann['images'][1]['file_name'] = 'gone.jpg'
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    with pytest.raises(DataError, match=r'1 of 4 images listed in .*ann.json do not exist '
                                        r'\(e.g. .*gone.jpg\)'):
        dataset(coco_root, ann=str(tmp_path / 'ann.json'))


def test_undecodable_image_is_named(coco_root, tmp_path):
    ann = json.loads((coco_root / 'annotations/instances_train2017.json').read_text())
    (tmp_path / 'train2017').mkdir()
    for image in ann['images']:
        src = coco_root / 'train2017' / image['file_name']
        (tmp_path / 'train2017' / image['file_name']).write_bytes(src.read_bytes())
    broken = tmp_path / 'train2017' / ann['images'][2]['file_name']
    broken.write_bytes(b'\xff\xd8\xff garbage, not a JPEG')
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations/instances_train2017.json').write_text(json.dumps(ann))
    data = dataset(tmp_path)
    data[0]
    with pytest.raises(DataError, match=rf'image .*{broken.name} cannot be decoded'):
        data[2]


def _rewrite(path, image):
    ok, buf = cv2.imencode('.png', image)
    assert ok
    with open(path, 'wb') as f:  # content is PNG whatever the suffix; decoders read content
        f.write(buf.tobytes())


def test_grayscale_rgba_16bit_and_unannotated_images_work(coco_root, tmp_path):
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    ann = json.loads((coco_root / 'annotations/instances_train2017.json').read_text())
    (tmp_path / 'train2017').mkdir()
    kinds = ['gray', 'rgba', 'uint16', 'plain']
    for kind, image in zip(kinds, ann['images']):
        bgr = cv2.imread(str(coco_root / 'train2017' / image['file_name']))
        converted = {'gray': cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                     'rgba': cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
                     'uint16': bgr.astype(np.uint16) * 257, 'plain': bgr}[kind]
        _rewrite(tmp_path / 'train2017' / image['file_name'], converted)
    unannotated = ann['images'][3]['id']
    ann['annotations'] = [a for a in ann['annotations'] if a['image_id'] != unannotated]
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations/instances_train2017.json').write_text(json.dumps(ann))

    data = dataset(tmp_path, filter_cfg=dict(filter_empty_gt=False))
    assert len(data) == 4
    samples = [data[i] for i in range(4)]
    assert all(s['inputs'].shape[0] == 3 and s['inputs'].dtype == torch.uint8 for s in samples)
    assert len(samples[3]['data_samples'].gt_instances) == 0

    cfg = Config.fromfile(DET_DEMO)
    cfg.model.backbone.init_cfg = None  # no demo_pretrain checkpoint needed
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = model.data_preprocessor(dict(inputs=[s['inputs'] for s in samples],
                                         data_samples=[s['data_samples'] for s in samples]),
                                    training=True)
    losses = model(**batch, mode='loss')  # an image without objects trains too
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    model.eval()
    with torch.no_grad():
        small = torch.randint(0, 255, (3, 13, 21), dtype=torch.uint8)  # below the stride of 32
        meta = DetDataSample(metainfo=dict(img_shape=(13, 21), ori_shape=(13, 21),
                                           scale_factor=(1.0, 1.0)))
        results = model.test_step(dict(inputs=[small], data_samples=[meta]))
    assert len(results) == 1 and results[0].pred_instances.bboxes.shape[1] == 4


# ------------------------------------------------------------------ crafted checkpoints
class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}',)


def test_code_carrying_checkpoint_refused_by_every_tool(repo_root, tmp_path):
    from cpu_demo.synthetic_data import write_ade20k_dataset
    data = tmp_path / 'ade'
    write_ade20k_dataset(str(data), num_train=2, num_val=1, image_size=64, seed=0)
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'iter_2.pth'
    torch.save({'state_dict': {}, 'meta': {}, 'x': _RunsCommand(marker)}, evil)
    image = next((data / 'images' / 'validation').iterdir())
    runs = {
        'test': ['tools/test.py', SEG_DEMO, str(evil), '--data-root', str(data),
                 '--work-dir', str(tmp_path / 'w1')],
        'infer': ['tools/infer.py', SEG_DEMO, str(evil), str(image),
                  '--out-dir', str(tmp_path / 'out')],
        'resume': ['tools/train.py', SEG_DEMO, '--data-root', str(data), '--work-dir',
                   str(tmp_path / 'w2'), '--resume', str(evil),
                   '--cfg-options', 'model.backbone.init_cfg=None'],
        'load_from': ['tools/train.py', SEG_DEMO, '--data-root', str(data), '--work-dir',
                      str(tmp_path / 'w3'), '--cfg-options', f'load_from={evil}',
                      'model.backbone.init_cfg=None'],
        'convert': ['tools/convert_checkpoint.py', str(evil), str(tmp_path / 'out.pth')],
    }
    for name, args in runs.items():
        code, log = tool(repo_root, *args)
        assert code == 2, (name, log[-2000:])
        assert 'refused to load' in log and 'posix.system' in log, (name, log[-2000:])
        assert not marker.exists(), name
