"""What tools/train.py and tools/test.py share: reading a config, choosing CPU or GPU,
CPU distributed set-up, trust, and turning user errors into one line."""
import os
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from mmengine.config import Config, DictAction

from ..checkpoint import set_trust_checkpoints
from ..datasets import set_data_root
from ..errors import USER_FACING, UserError, one_line


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


def load_config(path: str, args) -> Config:
    if not osp.isfile(path):
        raise UserError(f'config {path} does not exist; see configs/ for the available ones')
    cfg = Config.fromfile(path)
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
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return cfg


def use_fp32_without_gpu(cfg: Config) -> None:
    """The recipes train with AMP; MMEngine's AmpOptimWrapper needs a GPU, so on a CPU the
    same config trains in fp32 instead of failing."""
    wrapper = cfg.get('optim_wrapper')
    if wrapper and wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        wrapper['type'] = 'OptimWrapper'
        wrapper.pop('loss_scale', None)
        wrapper.pop('dtype', None)


def setup_cpu_distributed(cfg: Config) -> None:
    """Distributed training on machines without a GPU, through MMEngine's launcher.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` whatever the backend, and its
    default DDP wrapper passes ``device_ids=[LOCAL_RANK]``. Without a GPU we create the
    gloo process group from the launcher's environment ourselves (MMEngine's Runner then
    skips its own initialisation) and let DDP wrap a CPU module.
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
            nodes = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {nodes} | head -n1')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper_cfg.setdefault('device_ids', None)
    wrapper_cfg.setdefault('broadcast_buffers', False)
    wrapper_cfg.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'


@contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Print user-facing errors as one line and exit 2; ``--debug`` re-raises them."""
    try:
        yield
    except USER_FACING as exc:
        if debug:
            raise
        print(f'error: {one_line(exc)}  (--debug shows the traceback)', file=sys.stderr)
        sys.exit(2)


def scope_of(cfg: Config) -> Optional[str]:
    return cfg.get('default_scope')
