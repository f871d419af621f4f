"""Checkpoints written by a real MMEngine Runner load and resume with weights_only=True."""
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset

import convnext_dense  # noqa: F401
from convnext_dense import ConvNeXt


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
    raw = torch.load(ckpt, weights_only=True)  # what torch >= 2.6 does by default
    assert {'message_hub', 'optimizer', 'param_schedulers', 'meta'} <= set(raw)

    load_checkpoint(ToyRegressor(), str(ckpt))  # load_from / evaluation path

    resumed = make_runner(tmp_path / 'resumed', 6, resume=True, load_from=str(ckpt))
    resumed.train()
    assert resumed.iter == 6
    history = resumed.message_hub.get_scalar('train/loss')
    assert len(history.data[0]) == 6  # 4 losses restored from the checkpoint + 2 new ones
