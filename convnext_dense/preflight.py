"""Checks of a config against its data and pretrained checkpoint before the work (the Runner's):
the mistakes users make most with mmdet and mmseg otherwise surface an epoch later or as wrong
metrics with exit code 0. Each failure is one line naming the file or key and what to set."""
import glob
import inspect
import os.path as osp
from typing import Any, Iterator, List, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.fileio import load as load_file
from mmengine.registry import DATASETS

from .checkpoint import CheckpointError
from .errors import DataError, DatasetNotFoundError, UserError

LABEL_SAMPLE = 16  # label maps read to check segmentation labels cheaply
DATASET_HINTS = {  # config key dataset_hint overrides these
    'CocoDataset': 'download COCO 2017 from https://cocodataset.org and unpack it there',
    'ADE20KDataset': 'download ADEChallengeData2016.zip from '
                     'http://sceneparsing.csail.mit.edu and unpack it there',
    'ADE20KStyleDataset': 'write one with tools/make_synthetic_data.py ade --out DIR'}


def leaf_datasets(dataset: dict) -> Iterator[dict]:
    """The datasets inside RepeatDataset / ClassBalancedDataset / ConcatDataset wrappers."""
    if 'datasets' in dataset:
        for inner in dataset['datasets']:
            yield from leaf_datasets(inner)
    elif isinstance(dataset.get('dataset'), dict):
        yield from leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def split_datasets(cfg: Config, splits: Sequence[str]) -> Iterator[Tuple[str, dict]]:
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if loader and loader.get('dataset'):
            for dataset in leaf_datasets(loader['dataset']):
                yield split, dataset


def loads(dataset: dict, what: str) -> bool:  # with_seg / with_mask: mmdet's panoptic by default
    return any(step.get(what, 'Panoptic' in str(step.get('type')))
               for step in dataset.get('pipeline') or [] if isinstance(step, dict))


def expected_paths(dataset: dict) -> List[str]:
    root = dataset.get('data_root') or ''
    paths = [osp.join(root, dataset['ann_file'])] if dataset.get('ann_file') else []
    # mmdet's instance bases inherit a panoptic seg prefix that nothing reads
    paths += [osp.join(root, v) for k, v in (dataset.get('data_prefix') or {}).items()
              if isinstance(v, str) and (k != 'seg' or loads(dataset, 'with_seg'))]
    return paths or ([root] if root else [])


def check_config(cfg: Config, splits: Sequence[str]) -> None:
    """The datasets of ``splits`` exist and agree with the heads on the classes."""
    datasets = list(split_datasets(cfg, splits))
    for split, dataset in datasets:
        missing = [p for p in expected_paths(dataset) if not osp.exists(p)]
        if missing:
            kind = str(dataset.get('type', 'dataset')).split('.')[-1]
            hint = cfg.get('dataset_hint') or DATASET_HINTS.get(
                kind, 'create it or point the config at it')
            raise DatasetNotFoundError(
                f'{kind} for {split} not found: looked for {", ".join(missing)}; {hint}, or '
                'pass --data-root DIR')
        check_coco_file(dataset, declared_classes(cfg, dataset))
    check_classes(cfg, datasets)
    model = cfg.get('model') if isinstance(cfg.get('model'), dict) else {}
    init_cfg = (model.get('backbone') or {}).get('init_cfg') or {}
    path = init_cfg.get('checkpoint', '') if isinstance(init_cfg, dict) else ''
    if path and '://' not in path and not osp.exists(osp.expanduser(path)):
        hint = cfg.get('checkpoint_hint') or 'put the file there'
        raise CheckpointError(f'pretrained backbone checkpoint {path} does not exist; {hint}, '
                              'or set model.backbone.init_cfg=None to train from scratch')


def head_classes(node: Any, path: str = '') -> Iterator[Tuple[str, int]]:
    """``(key path, num_classes)`` of every head in a model config (the RPN's one class,
    which means "object", aside)."""
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, (list, tuple)) else ())
    for key, value in items:
        where = f'{path}[{key}]' if isinstance(key, int) else (f'{path}.{key}' if path else key)
        if key == 'num_classes' and 'rpn_head' not in where:
            yield where, int(value)
        elif isinstance(value, (dict, list, tuple)) and key not in ('train_cfg', 'test_cfg'):
            yield from head_classes(value, where)


def declared_classes(cfg: Config, dataset: dict) -> Tuple[str, ...]:
    """The classes a dataset config names, or its dataset type's defaults."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes:
        return tuple(classes)
    with DATASETS.switch_scope_and_registry(cfg.get('default_scope')) as registry:
        dataset_type = registry.get(dataset['type'])
    return tuple(getattr(dataset_type, 'METAINFO', {}).get('classes', ()))


def dataset_classes(cfg: Config) -> Tuple[str, ...]:
    """The classes of the config's test dataset (what an exported model must predict)."""
    return declared_classes(cfg, next(leaf_datasets(cfg.test_dataloader.dataset)))


def check_classes(cfg: Config, datasets: Sequence[Tuple[str, dict]]) -> None:
    """Every head's ``num_classes`` equals the number of classes every dataset declares."""
    for split, dataset in datasets:
        classes = declared_classes(cfg, dataset)
        if not classes:
            continue
        for where, num_classes in head_classes(cfg.get('model') or {}):
            if num_classes != len(classes):
                names = ', '.join(classes[:6]) + (', ...' if len(classes) > 6 else '')
                raise UserError(
                    f'the {split} dataset declares {len(classes)} classes ({names}) but '
                    f'model.{where} is {num_classes}: set it to {len(classes)}, or set the '
                    "datasets' metainfo=dict(classes=(...)) to the data's classes")
        with DATASETS.switch_scope_and_registry(cfg.get('default_scope')) as registry:
            init = inspect.signature(registry.get(dataset['type']) or dict).parameters
        default = getattr(init.get('reduce_zero_label'), 'default', False)  # ADE20K's: True
        check_label_values(dataset, classes, dataset.get('reduce_zero_label', default))


def check_label_values(dataset: dict, classes: Sequence[str], reduced: bool) -> None:
    """Label maps (a sample; check_labels=False skips it) with values beyond the classes, or
    whose 0 is a class under reduce_zero_label: reduced, K classes are 1..K (0 "other"); a
    sample with every value 0..K-1 and no file with K is K classes from 0 (ADE20K: never)."""
    prefix = (dataset.get('data_prefix') or {}).get('seg_map_path')
    if not prefix or dataset.get('check_labels') is False:
        return
    import cv2
    folder = osp.join(dataset.get('data_root') or '', prefix)
    num_classes, seen = len(classes), set()
    files = sorted(glob.glob(osp.join(folder, '*' + dataset.get('seg_map_suffix', '.png'))))
    top = num_classes if reduced else num_classes - 1  # the largest valid value
    for path in files[::max(1, len(files) // LABEL_SAMPLE)][:LABEL_SAMPLE]:
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        values = np.unique(label) if label is not None else np.array([], np.uint8)
        seen.update(values.tolist())
        bad = values[(values > top) & (values != 255)]
        if bad.size:
            raise DataError(
                f'label map {path} holds class values up to {int(bad.max())} but the config '
                f'declares {num_classes} classes (values 0..{top}'
                f'{", 0 = other" if reduced else ""}, 255 = ignore): set metainfo classes and '
                "the heads' num_classes to the data's classes")
    if reduced and seen >= set(range(num_classes)) and num_classes not in seen and not any(
            num_classes in np.unique(cv2.imread(f, cv2.IMREAD_UNCHANGED)) for f in files):
        raise DataError(
            f'the label maps in {folder} hold 0..{num_classes - 1} and none {num_classes}, as '
            f'{num_classes} classes from 0 do, but reduce_zero_label=True ignores 0 and scores v '
            f'as class v-1 ({classes[-1]} never): set reduce_zero_label=False on the datasets '
            'and LoadAnnotations (if 0 is "other", check_labels=False on the dataset skips this)')


def check_coco_file(dataset: dict, classes: Sequence[str]) -> None:
    """A COCO file, whichever dataset reads it, lists images, the classes and, if masks are
    loaded, a mask of each object (mmdet: KeyError for [], polygons under 3 points ignored)."""
    path = osp.join(dataset.get('data_root') or '', dataset.get('ann_file') or '')
    try:
        coco = load_file(path) if path.endswith('.json') else None
        images, annotations = coco['images'], coco.get('annotations') or []
        names = [c['name'] for c in coco['categories']]
    except (ValueError, AttributeError, KeyError, TypeError):
        return  # not COCO: the dataset says what it is missing
    if images == []:
        raise DataError(f'annotation file {path} lists no images ("images": []): point '
                        'ann_file at the annotations of your images, or regenerate it')
    unknown = [c for c in classes if c not in names]
    found = f'{len(names)} categories ({", ".join(names[:8])})'
    if unknown and len(unknown) == len(classes):
        raise DataError(
            f"{path} has {found} but the dataset's classes are none of them "
            f'({", ".join(classes[:3])}, ...): set metainfo=dict(classes=(...)) on the datasets '
            "to the data's categories and the heads' num_classes to their count")
    if unknown:
        raise DataError(f'class {unknown[0]!r} of metainfo is not a category of {path} '
                        f'({found}): correct its name')
    bad = [a for a in annotations if a.get('area', 0) > 0 and not has_mask(
        a.get('segmentation'))] if loads(dataset, 'with_mask') else []  # mmdet skips area 0
    if bad:
        image = next((i.get('file_name') for i in images if i.get('id') == bad[0].get(
            'image_id')), bad[0].get('image_id'))
        raise DataError(
            f'annotation {bad[0].get("id")} (image {image}) in {path} has segmentation '
            f'{str(bad[0].get("segmentation"))[:50]}, no polygon of 3 points or more ({len(bad)}'
            ' such), but the pipeline loads masks: give each a polygon [[x1, y1, x2, y2, x3, y3, '
            '...]] or remove it, or train boxes only (LoadAnnotations with_mask=False)')


def has_mask(segmentation) -> bool:  # an RLE, or a polygon of 3 points or more
    return isinstance(segmentation, dict) and bool(segmentation) or any(
        isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation or [])
