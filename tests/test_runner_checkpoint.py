"""Checkpoints written by a real MMEngine Runner load and resume with weights_only=True through
``convnext_dense.Runner`` (what the recipes' base config names); MMEngine's own loader is left
as it is."""
import pickle

import torch
import torch.nn as nn
from mmengine.model import BaseModel
import pytest
from torch.utils.data import Dataset

from convnext_dense import ConvNeXt, Runner
from convnext_dense.checkpoint import load_checkpoint_file
from convnext_dense.checkpoint_layouts import load_model_checkpoint
from convnext_dense.errors import UserError


class ToyRegressor(BaseModel):
    """A real (if small) model: ConvNeXt-atto features -> one number."""

    def __init__(self):
        super().__init__()
        self.backbone = ConvNeXt(arch='atto', out_indices=(3,))
        self.head = nn.Linear(320, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        pred = self.head(self.backbone(inputs)[0].mean((2, 3))).squeeze(1)
        if mode == 'loss':
            return dict(loss=((pred - targets) ** 2).mean())
        return pred


class RandomImages(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 32, 32, generator=g), targets=torch.tensor(float(i)))


def make_runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=ToyRegressor(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=RandomImages(), batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                           constructor='convnext_dense.LayerDecayOptimizerConstructor',
                           paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise')),
        param_scheduler=dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=4),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), default_scope=None, **kwargs)


def test_runner_checkpoint_loads_and_resumes(tmp_path):
    make_runner(tmp_path, 4).train()
    ckpt = tmp_path / 'iter_4.pth'
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(ckpt, weights_only=True)  # torch's own allowlist is left as it is
    raw = load_checkpoint_file(str(ckpt))  # weights only, with exactly MMEngine's types
    assert {'message_hub', 'optimizer', 'param_schedulers', 'meta'} <= set(raw)

    load_model_checkpoint(ToyRegressor(), str(ckpt))  # load_from / evaluation path

    resumed = make_runner(tmp_path / 'resumed', 6, resume=True, load_from=str(ckpt))
    resumed.train()
    assert resumed.iter == 6
    history = resumed.message_hub.get_scalar('train/loss')
    assert len(history.data[0]) == 6  # 4 losses restored from the checkpoint + 2 new ones


def test_a_checkpoint_of_another_model_is_refused_not_half_loaded(tmp_path):
    """load_from a checkpoint lacking the head: one line before any training step."""
    make_runner(tmp_path, 2).train()
    backbone_only = tmp_path / 'backbone_only.pth'
    state = load_checkpoint_file(str(tmp_path / 'iter_2.pth'))['state_dict']
    torch.save({'state_dict': {k: v for k, v in state.items() if k.startswith('backbone.')}},
               backbone_only)
    runner = make_runner(tmp_path / 'refused', 2, load_from=str(backbone_only))
    with pytest.raises(UserError, match=r'2 of its \d+ tensors \(2 of head\) would stay unloaded'):
        runner.train()
    assert runner.iter == 0
