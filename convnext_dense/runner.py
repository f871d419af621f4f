"""``convnext_dense.Runner`` (``runner_type`` in ``configs/_base_/convnext_dense_runtime.py``, so
that mmdet's and mmseg's tools behave as ours): MMEngine's, with the data checked first, safe
whole-model checkpoints, fp32 islands in testing, gloo without a GPU and checked resuming."""
import os
import subprocess
from typing import Callable, Optional, Union

import torch
import torch.distributed as dist
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, Runner as MMEngineRunner

from .amp import fp32_islands
from .checkpoint import load_checkpoint_file, set_trust_checkpoints
from .checkpoint_layouts import load_model_checkpoint
from .errors import ConfigError
from .preflight import check_config
from .registry import RUNNERS


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """MMEngine's Runner; see the module docstring for what differs."""

    _fine_tuning = False

    def setup_env(self, env_cfg: dict) -> None:
        # MMEngine's init_dist calls torch.cuda.set_device whatever the backend: without a
        # GPU the gloo group is created here from the launcher's environment
        if self.distributed and not dist.is_initialized() and not torch.cuda.is_available():
            if self.launcher == 'slurm':
                os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
                os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
                os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
                os.environ.setdefault('MASTER_PORT', '29500')
                os.environ.setdefault('MASTER_ADDR', subprocess.getoutput(
                    f'scontrol show hostname {os.environ["SLURM_NODELIST"]} | head -n1'))
            dist.init_process_group(backend='gloo')
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model: torch.nn.Module):
        # MMEngine's DDP wrapper passes device_ids=[LOCAL_RANK], which a CPU module refuses
        if self.distributed and not torch.cuda.is_available() and not is_model_wrapper(model):
            model_wrapper_cfg = {'type': 'MMDistributedDataParallel', 'broadcast_buffers': False,
                                 'find_unused_parameters': self.cfg.get('find_unused_parameters',
                                                                        False),
                                 **(model_wrapper_cfg or {}), 'device_ids': None}
        return super().wrap_model(model_wrapper_cfg, model)

    def train(self) -> torch.nn.Module:
        self._check_data(('train', 'val'))
        self._fine_tuning = not self._resume
        return super().train()

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        """MMEngine's; ``resume_new_schedule = True`` replays the config's schedulers to the
        step reached instead of restoring the checkpoint's (to extend or change a schedule)."""
        new, configured = self.cfg.get('resume_new_schedule'), schedule_end(self.param_schedulers)
        super().resume(filename, resume_optimizer, resume_param_scheduler and not new, map_location)
        unit = 'epoch' if isinstance(self.train_loop, EpochBasedTrainLoop) else 'iter'
        reached, limit = getattr(self, unit), getattr(self.train_loop, f'max_{unit}s')
        if reached > limit:
            raise ConfigError(f'{filename} has trained {reached} {unit}s, more than train_cfg.'
                              f'max_{unit}s={limit}: nothing would be trained; set it above '
                              f'{reached} to train on, or test the checkpoint')
        for scheduler in self.param_schedulers if new else []:  # from the config's step 0
            for group, value in zip(self.optim_wrapper.param_groups, scheduler.get_last_value()):
                group[scheduler.param_name] = value
        self.optim_wrapper._global_step = self.iter  # it has stepped: no warning from replaying
        for step in range(self.iter if new else 0):
            for scheduler in self.param_schedulers:
                if step < (self.epoch if scheduler.by_epoch else self.iter):
                    scheduler.step()
        resumed = schedule_end(self.param_schedulers)
        if new or resumed != configured:
            self.logger.warning(f'resumed at {unit} {reached}: ' + (
                f"this config's parameter schedule (to {configured}) applies (resume_new_schedule)"
                if new else f"the checkpoint's parameter schedule ends at {resumed}, this config's "
                f"at {configured}; the checkpoint's applies (MMEngine restores it): tools/train.py"
                " --new-schedule (resume_new_schedule = True) replays the config's instead"))

    def test(self) -> dict:
        self._check_data(('test',))
        with fp32_islands():
            return super().test()

    def _check_data(self, splits: tuple) -> None:  # but what our tools checked before
        check_config(self.cfg, [s for s in splits if s not in self.cfg.get('preflight_checked', ())])

    def load_checkpoint(self, filename: str, map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False, revise_keys: list = [(r'^module.', '')]):
        """MMEngine's, reading the file once with the weights-only loader and refusing a
        checkpoint that leaves parts of the model unloaded."""
        if self.cfg.get('trust_checkpoints', False):
            set_trust_checkpoints(True)
        checkpoint = load_checkpoint_file(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_model_checkpoint(model, checkpoint, source=filename, fine_tuning=self._fine_tuning,
                              allow_partial=self.cfg.get('allow_partial_checkpoint', False))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


def schedule_end(schedulers) -> str:  # where the last built scheduler ends: 'iteration 1250'
    ends = [(s.end, s.by_epoch) for s in schedulers] if isinstance(schedulers, list) else []
    end, by_epoch = max(ends or [(0, False)])
    return f"{'epoch' if by_epoch else 'iteration'} {end}"
