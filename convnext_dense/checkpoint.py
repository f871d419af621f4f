"""Safe checkpoint loading (docs/checkpoints.md): ``weights_only=True`` with exactly the extra
types MMEngine writes into training checkpoints (mmengine#1655); full unpickling only on the
user's opt-in (``--trust-checkpoint``, ``trust_checkpoints = True`` or ``TRUST_ENV=1``)."""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .errors import UserError

TRUST_ENV = 'CONVNEXT_DENSE_TRUST_CHECKPOINTS'
_trusted = False


class CheckpointError(UserError):
    """A checkpoint could not be used; the message says why and what to do."""


def set_trust_checkpoints(trusted: bool) -> None:
    """Allow full unpickling of checkpoints in this process (the explicit user opt-in)."""
    global _trusted
    _trusted = bool(trusted)


def _numpy_globals() -> list:
    """The numpy callables and classes that pickled arrays, dtypes and scalars reference,
    under both the numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) module names."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    found = [(getattr(multiarray, fn), f'{module}.multiarray.{fn}')
             for fn in ('_reconstruct', 'scalar') for module in ('numpy.core', 'numpy._core')]
    dtype_classes = {type(np.dtype(t)) for t in
                     ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
                      'uint64', 'float16', 'float32', 'float64', 'complex64', 'complex128')}
    return [np.ndarray, np.dtype] + found + sorted(dtype_classes, key=lambda c: c.__name__)


def history_buffer_method(owner: Any, name: str) -> Any:
    """``getattr`` while unpickling (HistoryBuffer pickles ``getattr(HistoryBuffer, 'mean')``),
    for HistoryBuffer's statistics methods only: the real one would reach ``os.system``."""
    if owner is HistoryBuffer and name in {'min', 'max', 'current', 'mean',
                                           *HistoryBuffer._statistics_methods}:
        return getattr(owner, name)
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL builtins.getattr on {owner!r}.{name}')


def mmengine_checkpoint_types() -> torch.serialization.safe_globals:
    """A context in which ``weights_only`` loading also allows exactly the non-tensor types
    MMEngine writes into training checkpoints (torch's allowlist is as before outside it)."""
    return torch.serialization.safe_globals(
        [HistoryBuffer, (history_buffer_method, '__builtin__.getattr'),
         (history_buffer_method, 'builtins.getattr')] + _numpy_globals())


def brief(exc: BaseException) -> str:
    """The first sentence of an exception's message, whole (never cut mid-word)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first.split('. ')[0].rstrip('.')


def _download(url: str) -> str:
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    target = osp.join(cache, osp.basename(urlparse(url).path))
    if not osp.isfile(target):
        os.makedirs(cache, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, target, progress=True)
        except Exception as exc:  # no network, 404, TLS ...
            raise CheckpointError(
                f'could not download {url} ({type(exc).__name__}: {brief(exc)}); download it '
                f'by other means and put it at {target}, point the config at a local file, or '
                f'set the backbone init_cfg=None to train from scratch') from None
    return target


def is_cut_off_zip(path: str) -> bool:
    """True for a torch zip checkpoint whose end (the zip central directory) is missing,
    which is what a write killed half-way leaves behind."""
    with open(path, 'rb') as f:
        if f.read(4) != b'PK\x03\x04':
            return False
    try:
        with zipfile.ZipFile(path):
            return False
    except zipfile.BadZipFile:
        return True


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint from a path or URL without running code from it; CheckpointError (one
    line) for a missing, truncated, non-checkpoint or code-carrying file."""
    filename = str(filename)
    if re.match(r'^https?://', filename):
        filename = _download(filename)
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint {filename} does not exist; check the path (or '
                              'download the checkpoint there)')
    if filename.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(filename, device='cpu')
        except Exception as exc:
            raise CheckpointError(f'{filename} is not a readable .safetensors file '
                                  f'({brief(exc)}); re-download it') from None
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'checkpoint {filename} is empty (0 bytes): the write was cut '
                              'off; use an earlier checkpoint')
    if is_cut_off_zip(filename):
        raise CheckpointError(f'checkpoint {filename} is truncated (its zip directory is '
                              'missing): the write was probably cut off; use an earlier '
                              'checkpoint or download it again')
    trusted = _trusted or os.environ.get(TRUST_ENV, '') == '1'
    try:
        with mmengine_checkpoint_types():
            return torch.load(filename, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        unsupported = re.search(r'(?:Unsupported global: |unsupported )GLOBAL ([\w.]+)', msg)
        if unsupported or 'GLOBAL' in msg:
            what = unsupported[1] if unsupported else 'objects outside the weights allowlist'
            raise CheckpointError(
                f'refused to load {filename}: it contains {what}, which is not weights and '
                'could run code when unpickled; if you trust this file, pass --trust-checkpoint '
                '(config: trust_checkpoints = True)') from None
        raise CheckpointError(f'{filename} is not a PyTorch checkpoint ({brief(exc)}); '
                              'check the path') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        msg = str(exc)
        if any(s in msg for s in ('central directory', 'zip archive', 'Ran out of input',
                                  'truncated', 'unexpected EOF', 'file read failed')) \
                or isinstance(exc, (EOFError, zipfile.BadZipFile, KeyError)):
            raise CheckpointError(f'checkpoint {filename} is truncated or corrupt ({brief(exc)}); '
                                  'the write was probably cut off: use an earlier checkpoint '
                                  'or download it again') from None
        raise CheckpointError(f'could not load checkpoint {filename}: {brief(exc)}') from None
