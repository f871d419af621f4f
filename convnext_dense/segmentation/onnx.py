"""UperNet or Mask2Former (an mmseg encoder-decoder) as one ONNX graph, and an exported file
run as an mmseg segmentor. The graph is ``encode_decode`` on one image of any size (pyramid
pooling and Mask2Former's levels follow the input's size); slide inference, resizing and the
argmax stay in mmseg's code (`OnnxSegmentor`)."""
from typing import List

import torch
from mmseg.models.decode_heads import Mask2FormerHead
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.models.utils import resize
from torch import Tensor, nn

from ..onnx import OnnxModelFile, replace_adaptive_pools
from ..registry import MODELS
from ..detection.query_onnx import mask2former_logits, replace_by_shape


class SegmentorGraph(nn.Module):
    """``EncoderDecoder.encode_decode`` for one image whose ``img_shape`` is its own size."""
    output_names = ('logits',)

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        replace_adaptive_pools(segmentor)
        self.mask2former = isinstance(segmentor.decode_head, Mask2FormerHead)
        if self.mask2former:
            replace_by_shape(segmentor)
        self.segmentor = segmentor

    def forward(self, image: Tensor) -> Tensor:
        segmentor = self.segmentor
        feats = segmentor.extract_feat(image)
        if self.mask2former:  # mmseg's Mask2FormerHead.predict
            cls_logits, mask_logits = mask2former_logits(segmentor.decode_head, feats,
                                                         image.shape[2:])
            return torch.einsum('bqc,bqhw->bchw', cls_logits.softmax(-1)[..., :-1],
                                mask_logits.sigmoid())
        return resize(segmentor.decode_head(feats), size=image.shape[2:], mode='bilinear',
                      align_corners=segmentor.align_corners)


@MODELS.register_module()
class OnnxSegmentor(EncoderDecoder):
    """A file from tools/export.py run by onnxruntime behind mmseg's segmentor interface:
    mmseg's own whole or slide inference and post-processing call ``encode_decode``."""

    def __init__(self, onnx_file: str, data_preprocessor: dict, classes: List[str],
                 test_cfg: dict, align_corners: bool = False):
        BaseSegmentor.__init__(self, data_preprocessor=data_preprocessor)
        self.model = OnnxModelFile(onnx_file, task='segmentation', classes=classes)
        self.test_cfg, self.align_corners = test_cfg, align_corners
        self.num_classes = self.out_channels = len(classes)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return torch.cat([torch.from_numpy(self.model.run(image[None])[0]) for image in inputs])
