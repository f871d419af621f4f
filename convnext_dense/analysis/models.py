"""Building a config's whole model for analysis (FLOPs, speed), without pretrained weights.

Shared by the FLOPs counter and the benchmark: both want the real mmdet/mmseg model a config
describes, with random weights (nothing is downloaded: ``init_weights`` is never called and
``init_cfg`` is dropped), SyncBN turned into BN so it runs on one process, in eval mode.
"""
import os.path as osp
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from ..errors import UserError

TASKS = {'mmdet': 'detection', 'mmseg': 'segmentation'}


def resolve_config_path(path: str) -> str:
    """``mmdet::convnext/x.py`` / ``mmseg::...`` -> the file installed with that package."""
    if '::' in path:
        package, relative = path.split('::', 1)
        if package not in ('mmdet', 'mmseg'):
            raise UserError(f'{path}: only mmdet:: and mmseg:: configs can be named this way')
        module = __import__(package)
        return osp.join(osp.dirname(module.__file__), '.mim', 'configs', relative)
    return path


def load_config(path: str) -> Config:
    path = resolve_config_path(path)
    if not osp.isfile(path):
        raise UserError(f'config {path} does not exist; see configs/ for the available ones')
    return Config.fromfile(path)


def task_of(cfg: Config, path: str = 'the config') -> str:
    """'detection' or 'segmentation', from the config's ``default_scope``."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise UserError(f"{path} has default_scope={scope!r}; only mmdet and mmseg configs "
                        f"(detectors and segmentors) can be analysed")
    return TASKS[scope]


def _drop_pretrained(model_cfg) -> None:
    """Remove ``init_cfg`` everywhere so that building never needs a checkpoint."""
    if isinstance(model_cfg, dict):
        model_cfg.pop('init_cfg', None)
        for value in model_cfg.values():
            _drop_pretrained(value)
    elif isinstance(model_cfg, (list, tuple)):
        for value in model_cfg:
            _drop_pretrained(value)


def build_model(cfg: Config, device: Optional[str] = None) -> nn.Module:
    """The config's detector/segmentor with random weights, SyncBN as BN, in eval mode.

    ``device='meta'`` builds it without allocating memory (shapes only), which is what a
    FLOP count of the larger models needs when no real data must flow (segmentors).
    """
    scope = cfg.get('default_scope')
    task_of(cfg)
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    model_cfg = cfg.model.copy()
    _drop_pretrained(model_cfg)
    if device == 'meta':
        with torch.device('meta'):
            model = MODELS.build(model_cfg)
    else:
        model = MODELS.build(model_cfg)
        if device:
            model = model.to(device)
    model = revert_sync_batchnorm(model)
    return model.eval()


def default_input_size(cfg: Config) -> Tuple[int, int]:
    """``(width, height)`` the paper counts FLOPs at: 1280x800 for detection; for
    segmentation 2048x512, or 2560x640 for models trained on 640 crops (4 x crop height)."""
    if task_of(cfg) == 'detection':
        return 1280, 800
    crop = cfg.get('crop_size') or (512, 512)
    return 4 * crop[0], crop[0]


class TensorModeForward(nn.Module):
    """Calls ``model._forward(inputs, data_samples)``: the network without post-processing
    (MMEngine's ``mode='tensor'``), which is what FLOP counters and mmdet's own get_flops
    measure. Detectors need data samples with image metadata for their RPN.

    ``paper_convention=True`` changes one thing, for cascade detectors: mmdet 3's tensor
    mode runs each stage's mask head on *all* proposals (1000), whereas mmdet 2's
    ``forward_dummy``, which the official ConvNeXt code used to count the paper's FLOPs,
    runs it on the first 100 (as a real test does, on at most 100 detections). For Mask
    R-CNN both already agree (100 RoIs).
    """

    def __init__(self, model: nn.Module, data_samples, paper_convention: bool = False):
        super().__init__()
        self.model = model
        self.data_samples = data_samples
        self.paper_convention = paper_convention

    def forward(self, inputs: torch.Tensor):
        roi_head = getattr(self.model, 'roi_head', None)
        if self.paper_convention and hasattr(roi_head, 'num_stages'):
            return self._cascade_forward_dummy(inputs)
        return self.model._forward(inputs, self.data_samples)

    def _cascade_forward_dummy(self, inputs: torch.Tensor) -> tuple:
        """mmdet 2.x ``CascadeRoIHead.forward_dummy``: every box stage on all proposals,
        every mask stage on the first 100."""
        from mmdet.structures.bbox import bbox2roi
        model, roi_head = self.model, self.model.roi_head
        x = model.extract_feat(inputs)
        proposals = model.rpn_head.predict(x, self.data_samples, rescale=False)
        rois = bbox2roi([p.bboxes for p in proposals])
        outs = ()
        for stage in range(roi_head.num_stages):
            result = roi_head._bbox_forward(stage, x, rois)
            outs += (result['cls_score'], result['bbox_pred'])
        if roi_head.with_mask:
            for stage in range(roi_head.num_stages):
                outs += (roi_head._mask_forward(stage, x, rois[:100])['mask_preds'],)
        return outs


def dummy_data_samples(task: str, batch: int, height: int, width: int) -> Optional[list]:
    """Data samples carrying exactly the metadata tensor-mode forward reads."""
    shape = (height, width)
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                scale_factor=(1.0, 1.0))
    if task == 'detection':
        from mmdet.structures import DetDataSample
        return [DetDataSample(metainfo=meta) for _ in range(batch)]
    from mmseg.structures import SegDataSample
    return [SegDataSample(metainfo=meta) for _ in range(batch)]
