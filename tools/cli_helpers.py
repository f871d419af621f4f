"""What the command-line tools share: the common options, reading a config with them, the
runner, and one-line errors for the user's mistakes (any other error keeps its traceback)."""
import os
import os.path as osp
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator, List

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS

from convnext_dense.checkpoint import set_trust_checkpoints
from convnext_dense.errors import UserError, is_user_error, one_line
from convnext_dense.onnx import OnnxModelFile
from convnext_dense.preflight import check_config, dataset_classes, split_datasets

# MMEngine reads mmdet::/mmseg:: config bases through pkg_resources (setuptools < 81)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)


def add_common_args(parser, distributed: bool = True) -> None:
    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--data-root', help="dataset root (default: the config's data_root)")
    if distributed:
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
    cfg.launcher = getattr(args, 'launcher', 'none')
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if args.trust_checkpoint or cfg.get('trust_checkpoints', False):
        cfg.trust_checkpoints = True
        set_trust_checkpoints(True)
    os.environ.setdefault('LOCAL_RANK', str(getattr(args, 'local_rank', 0)))
    return cfg


def build_runner(cfg: Config, splits: tuple):
    """The config's runner (``convnext_dense.Runner`` if none), ``splits``' data checked first."""
    check_config(cfg, splits)
    cfg.preflight_checked = splits
    cfg.setdefault('runner_type', 'convnext_dense.Runner')
    return RUNNERS.build(cfg)


def onnx_model_config(cfg: Config, path: str) -> dict:
    """``cfg.model`` as an exported file behind mmdet's or mmseg's interface (same pipeline and
    post-processing); refused before any data if exported for another task or classes."""
    model, classes = cfg.model, dataset_classes(cfg)
    if cfg.get('default_scope') == 'mmdet':
        OnnxModelFile(path, 'detection', classes)
        import convnext_dense.detection.onnx  # noqa: F401  (registers OnnxDetector)
        fusion_head = model.get('panoptic_fusion_head')  # MaskFormer, Mask2Former
        return dict(type='convnext_dense.OnnxDetector', onnx_file=path, classes=classes,
                    data_preprocessor=model.data_preprocessor,
                    mask_thr_binary=model.test_cfg.get('rcnn', {}).get('mask_thr_binary', 0.5),
                    fusion_head=fusion_head and dict(fusion_head, test_cfg=model.test_cfg))
    OnnxModelFile(path, 'segmentation', classes)
    import convnext_dense.segmentation.onnx  # noqa: F401  (registers OnnxSegmentor)
    return dict(type='convnext_dense.OnnxSegmentor', onnx_file=path, classes=classes,
                data_preprocessor=model.data_preprocessor, test_cfg=model.test_cfg,
                align_corners=model.decode_head.get('align_corners', False))


def set_data_root(cfg: Config, data_root: str) -> None:
    """Every dataset and COCO evaluator to ``data_root``: relative paths and absolute ones under
    the old root move with it, another absolute path refuses, so no split keeps the old data."""
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


@contextmanager
def user_errors(debug: bool, interrupt_hint: str = '') -> Iterator[None]:
    """The user's mistakes as one line, exit 2 (Ctrl-C: 130); others keep their traceback."""
    try:
        yield
    except Exception as exc:
        if debug or not is_user_error(exc):
            raise
        print(f'error: {one_line(exc)}  (--debug shows the traceback)', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f'error: interrupted (Ctrl-C){interrupt_hint}', file=sys.stderr)
        sys.exit(130)
