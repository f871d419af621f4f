"""Find a config's dataset folders before MMEngine builds anything, so a missing dataset is
one clear message rather than a traceback from deep inside a dataset's __init__."""
import os.path as osp
from typing import Iterator, List, Sequence

from mmengine.config import Config, ConfigDict

from ..errors import DatasetNotFoundError

HINTS = {
    'CocoDataset': 'download COCO 2017 (train2017, val2017, annotations_trainval2017) from '
                   'https://cocodataset.org and unpack it there',
    'ADE20KDataset': 'download ADEChallengeData2016.zip from '
                     'http://sceneparsing.csail.mit.edu and unpack it there',
    'ADE20KStyleDataset': 'write the synthetic one with tools/make_synthetic_data.py ade '
                          '--out DIR (or put an ADE20K-layout dataset there)',
}


def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Unwrap RepeatDataset / ClassBalancedDataset / ConcatDataset."""
    if 'datasets' in dataset:
        for inner in dataset['datasets']:
            yield from _leaf_datasets(inner)
    elif isinstance(dataset.get('dataset'), dict):
        yield from _leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def _dataloaders(cfg: Config, splits: Sequence[str]) -> Iterator[ConfigDict]:
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if loader and loader.get('dataset'):
            yield split, loader


def expected_paths(dataset: dict) -> List[str]:
    root = dataset.get('data_root') or ''
    paths = []
    if dataset.get('ann_file'):
        paths.append(osp.join(root, dataset['ann_file']))
    for value in (dataset.get('data_prefix') or {}).values():
        if isinstance(value, str):
            paths.append(osp.join(root, value))
    return paths or ([root] if root else [])


def check_dataset_paths(cfg: Config, splits: Sequence[str]) -> None:
    """Raise DatasetNotFoundError naming every path a split's dataset needs but lacks."""
    for split, loader in _dataloaders(cfg, splits):
        for dataset in _leaf_datasets(loader['dataset']):
            missing = [p for p in expected_paths(dataset) if not osp.exists(p)]
            if missing:
                kind = str(dataset.get('type', 'dataset')).split('.')[-1]
                hint = HINTS.get(kind, 'create it or point the config at it')
                raise DatasetNotFoundError(
                    f'{kind} for {split} not found: looked for {", ".join(missing)}; {hint}, or '
                    'pass --data-root DIR')


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataloader's dataset(s) at ``data_root`` (the ``--data-root`` option)."""
    for _, loader in _dataloaders(cfg, ('train', 'val', 'test')):
        for dataset in _leaf_datasets(loader['dataset']):
            dataset['data_root'] = data_root
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
            if isinstance(evaluator, dict) and evaluator.get('ann_file') and \
                    not osp.isabs(evaluator['ann_file']):
                # COCO metric annotation files live under the data root as well
                old_root = cfg.get('data_root', '')
                rel = evaluator['ann_file']
                if old_root and rel.startswith(old_root):
                    rel = rel[len(old_root):]
                evaluator['ann_file'] = osp.join(data_root, rel)
