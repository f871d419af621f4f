"""Mask R-CNN and Cascade Mask R-CNN as one ONNX graph (DINO and Mask2Former: ``query_onnx``),
and an exported file run as an mmdet detector (`OnnxDetector`). Inputs and outputs:
docs/export.md. Post-processing follows mmdet's test path step by step, on torchvision's
``nms`` and ``roi_align`` (ONNX ``NonMaxSuppression`` and ``RoiAlign``)."""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import MaskFormer
from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torchvision.ops import nms, roi_align

from ..errors import UserError
from ..onnx import OnnxModelFile, pad_to_divisor
from ..registry import MODELS
from .query_onnx import DINO, DinoGraph, Mask2Former, Mask2FormerGraph

MAX_RATIO = abs(math.log(16 / 1000))  # of mmdet's DeltaXYWHBBoxCoder.decode default wh_ratio_clip


def decode_boxes(priors: Tensor, deltas: Tensor, coder: nn.Module, h, w) -> Tensor:
    """mmdet's ``delta2bbox`` without its branch for empty input, which a graph cannot hold:
    priors (N, 4) and deltas (N, 4k) give boxes (N, 4k) clipped to the image."""
    n = deltas.shape[0]
    deltas = deltas.reshape(n, -1, 4) * deltas.new_tensor(coder.stds) + deltas.new_tensor(coder.means)
    centre = ((priors[:, :2] + priors[:, 2:]) * 0.5)[:, None]
    size = (priors[:, 2:] - priors[:, :2])[:, None]
    centre = centre + size * deltas[..., :2]
    size = size * deltas[..., 2:].clamp(min=-MAX_RATIO, max=MAX_RATIO).exp()
    x1, y1 = (centre - size * 0.5).unbind(-1)
    x2, y2 = (centre + size * 0.5).unbind(-1)
    if coder.clip_border:
        x1, x2 = x1.clamp(0, w), x2.clamp(0, w)
        y1, y2 = y1.clamp(0, h), y2.clamp(0, h)
    return torch.stack([x1, y1, x2, y2], dim=-1).reshape(n, -1)


def batched_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float,
                max_num: int, h, w) -> Tensor:
    """mmdet's ``batched_nms``: NMS within each group, by shifting the groups apart (the boxes
    lie inside the image, so its longer side + 1 separates them); the kept indices by score."""
    offsets = groups.to(boxes.dtype) * (torch.sym_max(h, w) + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)[:max_num]


def roi_features(extractor: nn.Module, feats: Tuple[Tensor, ...], rois: Tensor) -> Tensor:
    """mmdet's ``SingleRoIExtractor``: each RoI pools from the level its scale maps to. Every
    level pools every RoI and a select keeps the right one (a graph cannot scatter by level)."""
    levels = extractor.map_roi_levels(rois, len(extractor.roi_layers))
    pooled = None
    for i, layer in enumerate(extractor.roi_layers):
        level = roi_align(feats[i], rois, layer.output_size, layer.spatial_scale,
                          layer.sampling_ratio, layer.aligned)
        pooled = level if pooled is None else torch.where(
            (levels == i)[:, None, None, None], level, pooled)
    return pooled


class TwoStageDetectorGraph(nn.Module):
    """A trained Mask R-CNN or Cascade Mask R-CNN's test path as one traceable forward."""
    output_names = ('dets', 'labels', 'masks')

    def __init__(self, detector: nn.Module):
        super().__init__()
        check_exportable(detector)
        self.detector = detector
        self.cascade = isinstance(detector.roi_head, CascadeRoIHead)

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        h, w = image.shape[-2:]
        image = pad_to_divisor(image, self.detector.data_preprocessor.pad_size_divisor)
        feats = self.detector.extract_feat(image)
        proposals = self.proposals(feats, h, w)
        rois = torch.cat([proposals.new_zeros(proposals.shape[0], 1), proposals], dim=1)
        cls_score, boxes = self.box_stages(feats, rois, h, w)
        dets, labels = self.multiclass_nms(F.softmax(cls_score, dim=-1), boxes, h, w)
        return dets, labels, self.masks(feats, dets, labels)

    def proposals(self, feats: Tuple[Tensor, ...], h, w) -> Tensor:
        """``RPNHead.predict``: top ``nms_pre`` anchors per level, decoded, NMS per level."""
        head, cfg = self.detector.rpn_head, self.detector.test_cfg.rpn
        cls_scores, bbox_preds = head(feats)
        anchors = head.prior_generator.grid_priors(
            [s.shape[-2:] for s in cls_scores], dtype=feats[0].dtype, device=feats[0].device)
        boxes, scores, levels = [], [], []
        for level, (cls, reg, priors) in enumerate(zip(cls_scores, bbox_preds, anchors)):
            score = cls[0].permute(1, 2, 0).reshape(-1).sigmoid()
            score, top = score.topk(torch.sym_min(cfg.nms_pre, score.shape[0]))
            delta = reg[0].permute(1, 2, 0).reshape(-1, 4).index_select(0, top)
            boxes.append(decode_boxes(priors.index_select(0, top), delta, head.bbox_coder, h, w))
            scores.append(score)
            levels.append(torch.full_like(top, level))
        boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
        if cfg.get('min_bbox_size', -1) >= 0:
            size = boxes[:, 2:] - boxes[:, :2]
            valid = (size > cfg.min_bbox_size).all(dim=1).nonzero()[:, 0]
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        keep = batched_nms(boxes, scores, levels, cfg.nms.iou_threshold, cfg.max_per_img, h, w)
        return boxes[keep]

    def box_stages(self, feats, rois: Tensor, h, w) -> Tuple[Tensor, Tensor]:
        """The box head(s): class logits (averaged over a cascade's stages, each refining the
        RoIs by its argmax class) and the last stage's decoded boxes."""
        roi_head = self.detector.roi_head
        if not self.cascade:
            cls_score, bbox_pred = roi_head.bbox_head(
                roi_features(roi_head.bbox_roi_extractor, feats, rois))
            return cls_score, decode_boxes(rois[:, 1:], bbox_pred, roi_head.bbox_head.bbox_coder, h, w)
        logits = []
        for stage, head in enumerate(roi_head.bbox_head):
            cls_score, bbox_pred = head(roi_features(roi_head.bbox_roi_extractor[stage], feats, rois))
            logits.append(cls_score)
            if stage < roi_head.num_stages - 1:  # CascadeRoIHead._refine_roi
                if not head.reg_class_agnostic:
                    label = cls_score[:, :-1].argmax(dim=1)
                    bbox_pred = bbox_pred.reshape(bbox_pred.shape[0], -1, 4).gather(
                        1, label[:, None, None].expand(-1, 1, 4))[:, 0]
                refined = decode_boxes(rois[:, 1:], bbox_pred, head.bbox_coder, h, w)
                rois = torch.cat([rois[:, :1], refined], dim=1)
        return sum(logits) / len(logits), decode_boxes(rois[:, 1:], bbox_pred, head.bbox_coder, h, w)

    def multiclass_nms(self, scores: Tensor, boxes: Tensor, h, w) -> Tuple[Tensor, Tensor]:
        """mmdet's ``multiclass_nms``: every (RoI, class) above ``score_thr``, NMS per class."""
        cfg = self.detector.test_cfg.rcnn
        n, num_classes = scores.shape[0], scores.shape[1] - 1
        boxes = boxes.reshape(n, -1, 4).expand(n, num_classes, 4).reshape(-1, 4)
        scores = scores[:, :-1].reshape(-1)
        valid = (scores > cfg.score_thr).nonzero()[:, 0]
        boxes, scores, labels = boxes[valid], scores[valid], valid % num_classes
        keep = batched_nms(boxes, scores, labels, cfg.nms.iou_threshold, cfg.max_per_img, h, w)
        return torch.cat([boxes[keep], scores[keep, None]], dim=1), labels[keep]

    def masks(self, feats, dets: Tensor, labels: Tensor) -> Tensor:
        """Each detection's mask probabilities for its class (a cascade averages its stages)."""
        roi_head = self.detector.roi_head
        rois = torch.cat([dets.new_zeros(dets.shape[0], 1), dets[:, :4]], dim=1)
        pairs = (zip(roi_head.mask_roi_extractor, roi_head.mask_head) if self.cascade
                 else [(roi_head.mask_roi_extractor, roi_head.mask_head)])
        probs = [head(roi_features(extractor, feats, rois)).sigmoid() for extractor, head in pairs]
        probs = sum(probs) / len(probs)
        if probs.shape[1] == 1:  # class-agnostic mask head
            return probs[:, 0]
        return probs.gather(1, labels[:, None, None, None].expand(-1, 1, *probs.shape[2:]))[:, 0]


def detector_graph(detector: nn.Module) -> nn.Module:
    """The graph that exports this detector (a one-line error for those none exports)."""
    if isinstance(detector, DINO):
        return DinoGraph(detector)
    if isinstance(detector, Mask2Former):  # not MaskFormer: another pixel decoder
        return Mask2FormerGraph(detector)
    return TwoStageDetectorGraph(detector)


def check_exportable(detector: nn.Module) -> None:
    """Refuse, in one line, the parts this graph does not reproduce."""
    roi_head = getattr(detector, 'roi_head', None)
    if roi_head is None or not hasattr(detector, 'rpn_head') or not roi_head.with_mask:
        raise UserError(f'{type(detector).__name__} cannot be exported: tools/export.py exports '
                        f'two-stage detectors with masks (Mask R-CNN, Cascade Mask R-CNN), DINO and '
                        f'Mask2Former')
    for key in ('rpn', 'rcnn'):
        nms_type = detector.test_cfg[key].nms.get('type', 'nms')
        if nms_type != 'nms':
            raise UserError(
                f"model.test_cfg.{key}.nms.type='{nms_type}' has no ONNX counterpart (ONNX has "
                f"only hard NonMaxSuppression); export with --cfg-options "
                f"model.test_cfg.{key}.nms.type=nms (results then differ from the checkpoint's)")
    extractors = [roi_head.bbox_roi_extractor, roi_head.mask_roi_extractor]
    for name, extractor in zip(('bbox_roi_extractor', 'mask_roi_extractor'), extractors):
        for part in (extractor if isinstance(extractor, nn.ModuleList) else [extractor]):
            layer = part.roi_layers[0]
            if type(part).__name__ != 'SingleRoIExtractor' or type(layer).__name__ != 'RoIAlign' \
                    or layer.pool_mode != 'avg':
                raise UserError(f'roi_head.{name} ({type(part).__name__} with '
                                f'{type(layer).__name__}) cannot be exported: only '
                                f'SingleRoIExtractor with RoIAlign (avg) maps to ONNX RoiAlign')


@MODELS.register_module()
class OnnxDetector(BaseModel):
    """A file from tools/export.py run by onnxruntime, with mmdet's detector interface: the
    config's data preprocessor, then boxes scaled and masks pasted as mmdet's heads do, or
    Mask2Former's logits made instances by the config's fusion head (``fusion_head``)."""

    def __init__(self, onnx_file: str, data_preprocessor: dict, classes: List[str],
                 mask_thr_binary: float = 0.5, fusion_head: dict = None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.model = OnnxModelFile(onnx_file, task='detection', classes=classes)
        self.mask_thr_binary = mask_thr_binary
        self.fusion_head = MMDET_MODELS.build(fusion_head) if fusion_head else None

    def forward(self, inputs: Tensor, data_samples: List[DetDataSample], mode: str = 'predict'):
        if mode != 'predict':
            raise UserError(f"an exported model only predicts (mode '{mode}'); train with the "
                            f'checkpoint')
        for image, sample in zip(inputs, data_samples):
            h, w = sample.img_shape
            outputs = [torch.from_numpy(o) for o in self.model.run(image[None, :, :h, :w])]
            if self.fusion_head is not None:  # MaskFormer.predict from the logits on
                results = self.fusion_head.predict(*(o[None] for o in outputs), [sample],
                                                   rescale=True)
                MaskFormer.add_pred_to_datasample(self, [sample], results)
                continue
            dets, labels, *masks = outputs
            boxes = dets[:, :4] / dets.new_tensor(sample.scale_factor).repeat(2)
            sample.pred_instances = InstanceData(bboxes=boxes, scores=dets[:, 4], labels=labels)
            if masks:
                sample.pred_instances.masks = self.paste(masks[0], boxes, *sample.ori_shape)
        return data_samples

    def paste(self, masks: Tensor, boxes: Tensor, h: int, w: int) -> Tensor:
        """``FCNMaskHead._predict_by_feat_single`` on a CPU: box by box, each into its box."""
        pasted = torch.zeros(len(masks), h, w, dtype=torch.bool)
        for i in range(len(masks)):
            mask, where = _do_paste_mask(masks[i:i + 1, None], boxes[i:i + 1], h, w,
                                         skip_empty=True)
            pasted[(slice(i, i + 1),) + where] = mask >= self.mask_thr_binary
        return pasted
