"""Hooks this project adds to MMEngine's."""
import math
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from .errors import UserError
from .registry import HOOKS


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss."""


@HOOKS.register_module()
class CheckFiniteLossHook(Hook):
    """Stop training at the first NaN or infinite loss, naming the iteration.

    The error is raised before the CheckpointHook of that iteration runs (this hook has a
    higher priority), so no checkpoint with broken weights is written and the last good
    one stays the latest.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        bad = {k: float(v.detach()) for k, v in outputs.items()
               if k.startswith('loss') and torch.is_tensor(v) and not math.isfinite(float(v.detach()))}
        if bad:
            raise NonFiniteLossError(
                f'loss became non-finite at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
                f'{bad}; training stopped, the last good checkpoint in {runner.work_dir} is kept. '
                'Lower the learning rate or check the data, then resume with --resume')


@HOOKS.register_module()
class RngStateHook(Hook):
    """Save the main process's random states with every checkpoint and restore them on
    resume, so a resumed run draws the same dropout and drop-path masks as an
    uninterrupted one (MMEngine seeds once at start and does not save RNG states).

    The states are restored just before the first resumed iteration, after MMEngine has
    skipped the batches already trained; data workers are re-seeded by MMEngine and replay
    the same augmentation stream, so with ``num_workers >= 1`` resumed training is
    bit-exact on CPU (see tests/test_resume.py).
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = dict(python=random.getstate(), numpy=np.random.get_state(),
                                       torch=torch.get_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False):
            self._pending = checkpoint.get('rng_state')

    def _restore(self) -> None:
        if self._pending is not None:
            random.setstate(self._pending['python'])
            np.random.set_state(self._pending['numpy'])
            torch.set_rng_state(self._pending['torch'])
            self._pending = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._restore()
