"""Pretraining a ConvNeXt on synthetic shape classification: the demos' stand-in for ImageNet.

The paper's detection and segmentation recipes fine-tune an ImageNet-pretrained backbone.
No ImageNet weights can be downloaded here, and a backbone trained from scratch inside a
10-minute CPU demo learns *where* objects are long before it learns *which shape* they are
(benchmarks/from_scratch_learning.md). Classifying single shapes is a far cheaper way to
learn shape (a small image, no RoI or decode heads), so the demos first pretrain here and
then fine-tune with the recipe's layer decay, as the paper does with ImageNet weights.

Everything runs on MMEngine's Runner: :class:`SyntheticShapes` renders one-object scenes
on the fly (a pure function of seed and index, so there is no dataset to store),
:class:`ShapeClassifier` is backbone + global average pool + linear layer, and
:class:`ShapeAccuracy` scores the held-out split.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from .synthetic_data import CLASSES, SCENE_STYLES, SceneStyle, render_scene
from convnext_dense.registry import DATASETS, METRICS, MODELS

# single shapes filling half or more of the picture, in the demo's scene style otherwise
PRETRAIN_STYLE = SceneStyle(size_range=(0.5, 0.85), clutter=(0, 3), max_clutter_thickness=1,
                            texture_contrast=0.5)


@DATASETS.register_module()
class SyntheticShapes(Dataset):
    """``num_samples`` one-object scenes of ``image_size`` pixels, rendered on demand.

    Item ``i`` is the same picture every time (``seed`` and ``i`` fix it); use another seed
    for the validation split. Items are ``dict(inputs=uint8 CHW BGR tensor, data_samples=
    class index)``, batched with ``default_collate``.
    """

    def __init__(self, num_samples: int, image_size: int = 80, seed: int = 0,
                 style: str = 'pretrain'):
        if num_samples < 1 or image_size < 32:
            raise ValueError(f'SyntheticShapes needs num_samples >= 1 and image_size >= 32, '
                             f'got {num_samples} and {image_size}')
        styles = dict(SCENE_STYLES, pretrain=PRETRAIN_STYLE)
        if style not in styles:
            raise ValueError(f'unknown style {style!r}; use one of {", ".join(styles)}')
        self.num_samples, self.image_size, self.seed = num_samples, image_size, seed
        self.style = styles[style]
        self.metainfo = dict(classes=CLASSES)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        img, objects = render_scene(np.random.default_rng([self.seed, index]), self.image_size,
                                    self.image_size, max_objects=1, style=self.style)
        return dict(inputs=torch.from_numpy(img).permute(2, 0, 1).contiguous(),
                    data_samples=objects[0].label)


@MODELS.register_module()
class ShapeClassifier(BaseModel):
    """``backbone`` (its last output) -> global average pool -> linear classifier.

    The state dict keeps the backbone under ``backbone.``, the layout the detectors and
    segmentors load through ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
    """

    def __init__(self, backbone: dict, num_classes: int = len(CLASSES),
                 data_preprocessor: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone)
        self.head = nn.Linear(self.backbone.out_channels[-1], num_classes)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None,
                mode: str = 'tensor'):
        logits = self.head(self.backbone(inputs)[-1].mean((2, 3)))
        if mode == 'loss':
            return dict(loss_cls=F.cross_entropy(logits, data_samples))
        if mode == 'predict':
            return list(zip(logits.argmax(1).tolist(), data_samples.tolist()))
        return logits


@METRICS.register_module()
class ShapeAccuracy(BaseMetric):
    """Top-1 accuracy of :class:`ShapeClassifier` predictions."""

    default_prefix = 'shapes'

    def process(self, data_batch, data_samples: Sequence) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        return dict(accuracy=sum(int(p == t) for p, t in results) / max(len(results), 1))
