"""Test-time augmentation for instance segmentation: mmdet 3.3's ``DetTTAModel`` asserts that
predictions carry no masks; this one merges the views the same way (flip back, concatenate,
class-wise NMS) and keeps the mask of every surviving box (flipped back as well)."""
from typing import List

import torch
from mmcv.ops import batched_nms
from mmdet.models.test_time_augs import DetTTAModel
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_flip
from mmengine.structures import InstanceData

from ..registry import MODELS

_FLIP_DIMS = {'horizontal': [-1], 'vertical': [-2], 'diagonal': [-2, -1]}  # of the masks


@MODELS.register_module()
class DetTTAModelWithMasks(DetTTAModel):
    """``DetTTAModel`` that also merges instance masks (``type='convnext_dense.DetTTAModelWithMasks'``,
    same ``tta_cfg``); without masks it behaves exactly like ``DetTTAModel``."""

    def _merge_single_sample(self, data_samples: List[DetDataSample]) -> DetDataSample:
        if data_samples[0].pred_instances.get('masks', None) is None:
            return super()._merge_single_sample(data_samples)
        bboxes, masks = [], []
        for sample in data_samples:
            pred, meta = sample.pred_instances, sample.metainfo
            b, m = pred.bboxes, pred.masks
            if meta.get('flip', False):
                b = bbox_flip(bboxes=b, img_shape=meta['ori_shape'],
                              direction=meta['flip_direction'])
                m = m.flip(_FLIP_DIMS[meta['flip_direction']])
            bboxes.append(b)
            masks.append(m)
        bboxes, masks = torch.cat(bboxes), torch.cat(masks)
        scores = torch.cat([sample.pred_instances.scores for sample in data_samples])
        labels = torch.cat([sample.pred_instances.labels for sample in data_samples])
        if bboxes.numel() == 0:
            return data_samples[0]
        dets, keep = batched_nms(bboxes, scores, labels, self.tta_cfg.nms)
        keep, dets = keep[:self.tta_cfg.max_per_img], dets[:self.tta_cfg.max_per_img]
        result = data_samples[0]
        result.pred_instances = InstanceData(bboxes=dets[:, :-1], scores=dets[:, -1],
                                             labels=labels[keep], masks=masks[keep])
        return result
