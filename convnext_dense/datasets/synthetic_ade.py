"""The synthetic shape scenes of :mod:`convnext_dense.datasets.synthetic` in ADE20K's layout.

``out_dir/images/{training,validation}/*.jpg`` and ``out_dir/annotations/{training,
validation}/*.png``: single-channel uint8 label maps where 0 is "other" (the background,
ignored in training and evaluation as ADE20K's 0 is, through ``reduce_zero_label=True``)
and 1..K are the classes of :data:`CLASSES`. The same scene generator as the COCO writer,
so the class of a region is decided by its shape, not its colour.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

from .synthetic import CLASSES, SceneStyle, render_scene, scene_rng

SPLITS = (('train', 'training'), ('val', 'validation'))

# Colours for drawing predictions (RGB, as mmseg's visualizer expects): one per class.
ADE_PALETTE: List[List[int]] = [[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25],
                                [145, 30, 180], [245, 130, 48], [70, 240, 240],
                                [240, 50, 230]][:len(CLASSES)]


BACKGROUND_COLOR = [120, 120, 120]


def ade_metainfo(background_class: bool = False) -> dict:
    """``metainfo`` for ``convnext_dense.ADE20KStyleDataset`` on this data: the shape
    classes (label 0 ignored, ``reduce_zero_label=True``) or, with ``background_class``,
    "background" as class 0 followed by the shapes (``reduce_zero_label=False``)."""
    if background_class:
        return dict(classes=('background',) + CLASSES, palette=[BACKGROUND_COLOR] + ADE_PALETTE)
    return dict(classes=CLASSES, palette=ADE_PALETTE)


def label_map(objects, height: int, width: int) -> np.ndarray:
    """The uint8 label map of a scene: 0 for "other", ``label + 1`` on each object's
    visible pixels (visible masks never overlap, later objects cover earlier ones)."""
    label = np.zeros((height, width), np.uint8)
    for obj in objects:
        label[obj.mask] = obj.label + 1
    return label


def _size_hw(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return int(height), int(width)


def write_ade20k_split(out_dir: str, split: str, num_images: int,
                       image_size: Union[int, Sequence[int]], seed: int,
                       max_objects: int = 4, style: SceneStyle = SceneStyle()
                       ) -> Tuple[str, str]:
    """Write one split; returns its (image folder, annotation folder)."""
    folder = dict(SPLITS)[split]
    height, width = _size_hw(image_size)
    img_dir = osp.join(out_dir, 'images', folder)
    ann_dir = osp.join(out_dir, 'annotations', folder)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    for index in range(num_images):
        img, objects = render_scene(scene_rng(seed, split, index), height, width, max_objects,
                                   style)
        name = f'{split}_{index:06d}'
        cv2.imwrite(osp.join(img_dir, name + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(ann_dir, name + '.png'), label_map(objects, height, width))
    return img_dir, ann_dir


def write_ade20k_dataset(out_dir: str, num_train: int = 300, num_val: int = 50,
                         image_size: Union[int, Sequence[int]] = 128, seed: int = 0,
                         max_objects: int = 4, style: SceneStyle = SceneStyle()
                         ) -> Dict[str, Tuple[str, str]]:
    """Write a synthetic segmentation dataset in ADE20K's layout under ``out_dir``;
    deterministic in ``seed``; ``style`` sets how hard the scenes are (see
    :class:`~convnext_dense.datasets.synthetic.SceneStyle`). Returns ``{split: (image
    folder, annotation folder)}``."""
    return {split: write_ade20k_split(out_dir, split, n, image_size, seed, max_objects, style)
            for split, n in (('train', num_train), ('val', num_val))}
