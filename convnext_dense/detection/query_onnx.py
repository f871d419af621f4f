"""DINO and Mask2Former as ONNX graphs whose feature-map sizes stay symbolic.

mmdet and mmcv keep the levels' sizes in a tensor and read them back as ints, and place grid
points with ``torch.linspace``: ``torch.export`` cannot trace the first and fixes the second to
the traced size. Here the sizes are Python ints (symbolic when traced) in new versions of the
code that reads them, equal to mmdet's in eager mode. Outputs: docs/export.md."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops.multi_scale_deform_attn import (MultiScaleDeformableAttention,
                                              multi_scale_deformable_attn_pytorch)
from mmdet.models.detectors import DINO, Mask2Former
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from torch import Tensor, nn

from ..errors import UserError
from ..onnx import pad_to_divisor

Shapes = List[Tuple[int, int]]  # (h, w) of each level, symbolic when traced


def size_tensor(shapes: Shapes, like: Tensor) -> Tensor:
    """(levels, 2): each level's (w, h) as a tensor that follows the traced sizes."""
    return torch.stack([torch.stack([torch.scalar_tensor(w), torch.scalar_tensor(h)])
                        for h, w in shapes]).to(like)


def cell_centres(shapes: Shapes, like: Tensor) -> List[Tensor]:
    """Each level's (h * w, 2) cell centres (x, y) in [0, 1], row by row (arange, not
    mmdet's linspace, whose float end would fix the size)."""
    centres = []
    for (h, w), size in zip(shapes, size_tensor(shapes, like)):
        ys, xs = torch.meshgrid(torch.arange(h, device=like.device) + 0.5,
                                torch.arange(w, device=like.device) + 0.5, indexing='ij')
        centres.append(torch.stack([xs, ys], -1).flatten(0, 1).to(like) / size)
    return centres


def flatten_levels(maps: Sequence[Tensor]) -> Tensor:
    return torch.cat([m.flatten(2).transpose(1, 2) for m in maps], 1)


class DeformableAttentionByShape(nn.Module):
    """mmcv's ``MultiScaleDeformableAttention.forward`` (batch first) on its pure-PyTorch
    path, with ``spatial_shapes`` a list of (h, w)."""

    def __init__(self, attention: MultiScaleDeformableAttention):
        super().__init__()
        self.attention = attention

    def forward(self, query: Tensor, key=None, value: Tensor = None, identity: Tensor = None,
                query_pos: Tensor = None, key_padding_mask: Tensor = None,
                reference_points: Tensor = None, spatial_shapes: Shapes = None, **kwargs):
        a = self.attention
        value = query if value is None else value
        identity = query if identity is None else identity
        query = query if query_pos is None else query + query_pos
        (bs, num_query, _), num_value = query.shape, value.shape[1]
        value = a.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(bs, num_value, a.num_heads, -1)
        offsets = a.sampling_offsets(query).view(
            bs, num_query, a.num_heads, a.num_levels, a.num_points, 2)
        weights = a.attention_weights(query).view(bs, num_query, a.num_heads, -1).softmax(-1)
        weights = weights.view(bs, num_query, a.num_heads, a.num_levels, a.num_points)
        points = reference_points[:, :, None, :, None]
        if reference_points.shape[-1] == 2:
            locations = points + offsets / size_tensor(spatial_shapes, offsets)[:, None]
        else:  # boxes (cx, cy, w, h)
            locations = points[..., :2] + offsets / a.num_points * points[..., 2:] * 0.5
        output = multi_scale_deformable_attn_pytorch(value, spatial_shapes, locations, weights)
        return a.dropout(a.output_proj(output)) + identity


class PixelDecoderByShape(nn.Module):
    """mmdet's ``MSDeformAttnPixelDecoder.forward`` with the levels' sizes as ints (its
    padding masks are all False for one unpadded image, and are left out)."""

    def __init__(self, decoder: MSDeformAttnPixelDecoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, feats: List[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        d = self.decoder
        levels = [d.num_input_levels - i - 1 for i in range(d.num_encoder_levels)]
        shapes = [tuple(feats[level].shape[-2:]) for level in levels]
        positions = [d.postional_encoding(feats[level].new_zeros(
            (feats[0].shape[0], *shapes[i]), dtype=torch.bool))
            + d.level_encoding.weight[i].view(1, -1, 1, 1) for i, level in enumerate(levels)]
        memory = d.encoder(
            query=flatten_levels([d.input_convs[i](feats[level]) for i, level in enumerate(levels)]),
            query_pos=flatten_levels(positions), key_padding_mask=None, spatial_shapes=shapes,
            reference_points=torch.cat(cell_centres(shapes, feats[0]))[None, :, None].expand(
                feats[0].shape[0], -1, len(levels), -1),
            level_start_index=None, valid_ratios=None)
        outs = [x.reshape(x.shape[0], -1, h, w) for x, (h, w) in
                zip(memory.transpose(1, 2).split([h * w for h, w in shapes], -1), shapes)]
        for i in range(d.num_input_levels - d.num_encoder_levels - 1, -1, -1):
            lateral = d.lateral_convs[i](feats[i])
            outs.append(d.output_convs[i](lateral + F.interpolate(
                outs[-1], size=lateral.shape[-2:], mode='bilinear', align_corners=False)))
        return d.mask_feature(outs[-1]), outs[:d.num_outs]


def replace_by_shape(module: nn.Module) -> None:
    """Swap mmcv's deformable attention and mmdet's pixel decoder for the versions above."""
    for name, child in module.named_children():
        if isinstance(child, MultiScaleDeformableAttention) and child.batch_first:  # mmdet 3's
            setattr(module, name, DeformableAttentionByShape(child))
            continue
        replace_by_shape(child)
        if isinstance(child, MSDeformAttnPixelDecoder):
            setattr(module, name, PixelDecoderByShape(child))


def mask2former_logits(head: nn.Module, feats: Tuple[Tensor, ...], size) -> Tuple[Tensor, Tensor]:
    """``Mask2FormerHead.predict`` (mmdet's and mmseg's): the last layer's class logits and
    mask logits resized to ``size``."""
    cls_logits, mask_logits = head(feats, None)
    return cls_logits[-1], F.interpolate(mask_logits[-1], size=size, mode='bilinear',
                                         align_corners=False)


class DinoGraph(nn.Module):
    """A trained DINO's test path (``DINO.predict`` on one unpadded image) as one forward."""
    output_names = ('dets', 'labels')

    def __init__(self, detector: DINO):
        super().__init__()
        if detector.data_preprocessor.pad_size_divisor != 1:
            raise UserError('DINO exports with model.data_preprocessor.pad_size_divisor=1 (as '
                            "mmdet's DINO configs): padding makes mmdet mask the padded cells")
        if not detector.bbox_head.loss_cls.use_sigmoid:
            raise UserError('DINO exports with a sigmoid classifier (loss_cls.use_sigmoid=True)')
        replace_by_shape(detector)
        self.detector = detector

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        det = self.detector
        feats = det.extract_feat(image)
        shapes = [tuple(f.shape[-2:]) for f in feats]
        ratios = feats[0].new_ones(feats[0].shape[0], len(feats), 2)  # nothing padded
        positions = [det.positional_encoding(None, input=f) + det.level_embed[i].view(1, -1, 1, 1)
                     for i, f in enumerate(feats)]
        memory, positions = flatten_levels(feats), flatten_levels(positions)
        points = torch.cat(cell_centres(shapes, memory))[None, :, None] * ratios[:, None]
        for layer in det.encoder.layers:  # DeformableDetrTransformerEncoder.forward
            memory = layer(query=memory, query_pos=positions, key_padding_mask=None,
                           spatial_shapes=shapes, level_start_index=None, valid_ratios=ratios,
                           reference_points=points)
        query, reference = self.select_queries(memory, shapes)
        decoded = det.forward_decoder(query, memory, None, reference, shapes, None, ratios)
        cls_scores, boxes = det.bbox_head(decoded['hidden_states'], decoded['references'])
        return self.top_detections(cls_scores[-1][0], boxes[-1][0], image.shape[-2:])

    def select_queries(self, memory: Tensor, shapes: Shapes) -> Tuple[Tensor, Tensor]:
        """``DINO.pre_decoder`` at test time: the encoder's best ``num_queries`` proposals
        (``gen_encoder_output_proposals`` without padding) as the decoder's boxes."""
        det, n = self.detector, self.detector.decoder.num_layers
        proposals = torch.cat([torch.cat([c, torch.full_like(c, 0.05 * 2.0 ** level)], -1)
                               for level, c in enumerate(cell_centres(shapes, memory))])[None]
        valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
        proposals = torch.log(proposals / (1 - proposals)).masked_fill(~valid, float('inf'))
        memory = det.memory_trans_norm(det.memory_trans_fc(memory.masked_fill(~valid, 0.0)))
        scores = det.bbox_head.cls_branches[n](memory)
        boxes = det.bbox_head.reg_branches[n](memory) + proposals
        top = scores.max(-1)[0].topk(det.num_queries, dim=1)[1]
        reference = boxes.gather(1, top[..., None].expand(-1, -1, 4)).sigmoid()
        return det.query_embedding.weight[None].expand(memory.shape[0], -1, -1), reference

    def top_detections(self, cls_score: Tensor, box: Tensor, size) -> Tuple[Tensor, Tensor]:
        """``DINOHead._predict_by_feat_single`` (sigmoid) before rescaling."""
        head = self.detector.bbox_head
        max_per_img = self.detector.test_cfg.get('max_per_img', len(cls_score))
        scores, index = cls_score.sigmoid().flatten().topk(max_per_img)
        whwh = size_tensor([tuple(size)], box).repeat(1, 2)
        boxes = bbox_cxcywh_to_xyxy(box[index // head.num_classes]) * whwh
        boxes = torch.minimum(boxes.clamp(min=0), whwh)
        return torch.cat([boxes, scores[:, None]], 1), index % head.num_classes


class Mask2FormerGraph(nn.Module):
    """A trained Mask2Former's network on one unpadded image: the last layer's
    class logits and mask logits at the image's size, before mmdet's fusion head."""
    output_names = ('cls_logits', 'mask_logits')

    def __init__(self, detector: Mask2Former):
        super().__init__()
        replace_by_shape(detector)
        self.detector = detector

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        h, w = image.shape[-2:]
        padded = pad_to_divisor(image, self.detector.data_preprocessor.pad_size_divisor)
        cls_logits, mask_logits = mask2former_logits(
            self.detector.panoptic_head, self.detector.extract_feat(padded), padded.shape[-2:])
        return cls_logits[0], mask_logits[0, :, :h, :w]
