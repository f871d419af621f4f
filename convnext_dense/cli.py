"""What the command-line tools share: the common options, reading a config with them,
finding its datasets, distributed set-up without a GPU, and one-line errors."""
import os
import os.path as osp
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction

from .checkpoint import set_trust_checkpoints
from .errors import USER_FACING, UserError, one_line

# MMEngine reads mmdet::/mmseg:: config bases through pkg_resources (setuptools < 81)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

def add_common_args(parser) -> None:
    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--data-root', help="dataset root (default: the config's data_root)")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    # torch >= 2.0 launchers pass --local-rank, older ones --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle checkpoints (only for files you trust: a pickle '
                             'can run code); default is weights-only loading')
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')


def read_config(path: str) -> Config:
    """``Config.fromfile`` with one-line errors for a missing, broken or model-less file."""
    if not osp.isfile(path):
        raise UserError(f'config {path} does not exist; see configs/ for the available ones')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as exc:
        raise UserError(f'config {path} has a syntax error at line {exc.lineno}: {exc.msg}; '
                        'fix the file') from None
    if not isinstance(cfg.get('model'), dict):
        raise UserError(f'config {path} defines no model; inherit a config from configs/ '
                        "(_base_ = ['...']) or define model = dict(...)")
    return cfg


def load_config(path: str, args) -> Config:
    """The config with the user's command-line options applied."""
    cfg = read_config(path)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if args.trust_checkpoint or cfg.get('trust_checkpoints', False):
        set_trust_checkpoints(True)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return cfg


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


def expected_paths(dataset: dict) -> List[str]:
    root = dataset.get('data_root') or ''
    paths = [osp.join(root, dataset['ann_file'])] if dataset.get('ann_file') else []
    paths += [osp.join(root, v) for v in (dataset.get('data_prefix') or {}).values()
              if isinstance(v, str)]
    return paths or ([root] if root else [])


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataset and COCO evaluator at ``data_root``: relative paths follow it,
    absolute paths under the old data root move with it, any other absolute path refuses
    (one line), so that no split silently keeps the old data."""
    old_roots = []
    for split, dataset in split_datasets(cfg, ('train', 'val', 'test')):
        old_root = osp.abspath(dataset.get('data_root') or cfg.get('data_root') or '.')
        old_roots.append(old_root)
        if dataset.get('ann_file'):
            dataset['ann_file'] = moved(dataset['ann_file'], [old_root], f'{split} ann_file')
        prefixes = dataset.get('data_prefix') or {}
        for key, value in prefixes.items():
            if isinstance(value, str):
                prefixes[key] = moved(value, [old_root], f'{split} data_prefix.{key}')
        dataset['data_root'] = data_root
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
            if isinstance(evaluator, dict) and evaluator.get('ann_file'):
                # mmdet's configs write it as data_root + 'annotations/...'
                path = evaluator['ann_file']
                if not osp.isabs(path):
                    path = osp.abspath(path)
                    if not any(path.startswith(r + os.sep) for r in old_roots):
                        path = evaluator['ann_file']
                evaluator['ann_file'] = osp.join(data_root, moved(path, old_roots, key))


def moved(path: str, old_roots: List[str], what: str) -> str:
    """``path`` relative to the data root, or the one line saying why it cannot move."""
    if not osp.isabs(path):
        return path
    for root in old_roots:
        if path.startswith(root + os.sep):
            return osp.relpath(path, root)
    raise UserError(f'--data-root cannot move {what} {path}: it is an absolute path outside '
                    f'the data root {old_roots[0]}; make it relative to data_root in the '
                    'config or set it with --cfg-options')


def setup_cpu_distributed(cfg: Config) -> None:
    """Distributed training without a GPU, through MMEngine's launcher.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` whatever the backend, and its
    DDP wrapper passes ``device_ids=[LOCAL_RANK]``. Without a GPU we create the gloo process
    group from the launcher's environment (the Runner then skips its own) and let DDP wrap
    a CPU module.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if cfg.launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            import subprocess
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {os.environ["SLURM_NODELIST"]} | head -n1')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper_cfg.setdefault('device_ids', None)
    wrapper_cfg.setdefault('broadcast_buffers', False)
    wrapper_cfg.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'


@contextmanager
def user_errors(debug: bool, interrupt_hint: str = '') -> Iterator[None]:
    """Print user-facing errors as one line and exit 2 (Ctrl-C: 130); ``--debug`` re-raises
    them."""
    try:
        yield
    except USER_FACING as exc:
        if debug:
            raise
        print(f'error: {one_line(exc)}  (--debug shows the traceback)', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f'error: interrupted (Ctrl-C){interrupt_hint}', file=sys.stderr)
        sys.exit(130)
