"""Synthetic scenes of shapes for the CPU demos and tests (detection and segmentation).

The data is meant to be honest, so that a model which scores well on it has learnt
something: the class of an object is decided by its *shape* alone. Colours come from one
palette shared by every class (and by the background clutter), backgrounds are textured
(gradients, stripes, smooth noise, plus thin lines and arcs that are not objects), objects
vary in size, aspect and rotation, and they occlude each other. An object is only kept
if enough of it stays visible, so no unlabelled fragments remain in a picture.

Everything is a pure function of the ``numpy.random.Generator`` passed in, so a seed fixes
the data. :func:`render_scene` is shared by the COCO writer here and the ADE20K-format
writer; :func:`write_coco_dataset` writes the standard COCO layout with exact RLE masks.
"""
import argparse
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

CLASSES: Tuple[str, ...] = ('circle', 'triangle', 'square', 'star', 'cross')

# One palette for every class, for the background and for the clutter (BGR).
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (40, 40, 220), (40, 180, 40), (220, 80, 30), (30, 210, 230), (210, 200, 40),
    (200, 50, 200), (20, 140, 250), (150, 60, 120), (235, 235, 235), (128, 128, 128),
    (40, 40, 40), (90, 160, 200),
)

MIN_VISIBLE_FRACTION = 0.5   # an object more hidden than this is not placed
MIN_CONTRAST = 70            # L1 distance (sum over BGR) between an object and what it covers
SIZE_RANGE = (0.16, 0.42)    # object diameter as a fraction of the shorter image side


@dataclass(frozen=True)
class SceneStyle:
    """How hard a scene is, within the honest rules (class = shape, shared colours, textured
    background, clutter, occlusion). The defaults are the full difficulty used by the tests
    and the segmentation demo; :data:`SCENE_STYLES` names the presets the tools offer."""
    size_range: Tuple[float, float] = SIZE_RANGE  # object diameter / shorter image side
    clutter: Tuple[int, int] = (2, 8)             # min, max number of clutter lines/arcs
    max_clutter_thickness: int = 2                # clutter strokes are 1..this pixels wide
    texture_contrast: float = 1.0                 # 0: flat background colour, 1: full texture
    max_rotation: float = 180.0                   # objects turn by up to +-this many degrees


SCENE_STYLES = {
    'hard': SceneStyle(),
    # the detection demo's data: a from-scratch Mask R-CNN on 2 CPU cores has ~10 minutes,
    # so objects are larger and the background calmer, but classes still differ by shape
    # only, colours are still shared and objects still occlude each other
    'demo': SceneStyle(size_range=(0.28, 0.5), clutter=(0, 3), max_clutter_thickness=1,
                       texture_contrast=0.5),
}


@dataclass
class SceneObject:
    """One shape in a scene: its class, and the pixels of it that are visible."""
    label: int                          # index into CLASSES
    mask: np.ndarray                    # H x W bool, visible pixels after occlusion
    color: Tuple[int, int, int]         # BGR fill colour (before shading and noise)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def bbox(self) -> Tuple[int, int, int, int]:
        """COCO ``[x, y, w, h]`` of the visible pixels (pixel-inclusive extent)."""
        ys, xs = np.nonzero(self.mask)
        x0, y0 = int(xs.min()), int(ys.min())
        return x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1


# ---------------------------------------------------------------------------------------
# shapes: polygons around the origin with "radius" 1, before scaling and rotation


def _regular_polygon(n: int, phase: float = 0.0) -> np.ndarray:
    angles = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _shape_polygon(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == 'circle':
        return _regular_polygon(64)
    if name == 'triangle':
        pts = _regular_polygon(3, -np.pi / 2)
        return pts + rng.uniform(-0.08, 0.08, pts.shape)
    if name == 'square':
        return _regular_polygon(4, np.pi / 4) * 0.9
    if name == 'star':
        outer = _regular_polygon(5, -np.pi / 2)
        inner = _regular_polygon(5, -np.pi / 2 + np.pi / 5) * rng.uniform(0.38, 0.5)
        return np.stack([outer, inner], axis=1).reshape(-1, 2)
    if name == 'cross':
        w = rng.uniform(0.28, 0.4)
        return np.array([(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1),
                         (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w)], dtype=float)
    raise ValueError(f'unknown shape {name!r}; known shapes: {", ".join(CLASSES)}')


def _shape_mask(label: int, rng: np.random.Generator, height: int, width: int,
                style: SceneStyle = SceneStyle()) -> np.ndarray:
    """The full (unoccluded) mask of a random instance of class ``label``, fully inside the
    image: random size, aspect (at most 1.25:1), rotation and position."""
    radius = rng.uniform(*style.size_range) * min(height, width) / 2
    pts = _shape_polygon(CLASSES[label], rng)
    aspect = rng.uniform(0.8, 1.0)
    pts = pts * np.array([radius, radius * aspect])
    if style.max_rotation >= 180:  # the original draw: existing seeds keep their scenes
        theta = rng.uniform(0, 2 * np.pi)
    else:
        theta = np.deg2rad(rng.uniform(-style.max_rotation, style.max_rotation))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pts = pts @ rot.T
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    cx = rng.uniform(-lo[0] + 1, width - 1 - hi[0])
    cy = rng.uniform(-lo[1] + 1, height - 1 - hi[1])
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(pts + (cx, cy)).astype(np.int32)], 1)
    return mask.astype(bool)


# ---------------------------------------------------------------------------------------
# backgrounds


def _palette_color(rng: np.random.Generator, jitter: int = 25) -> np.ndarray:
    base = np.array(PALETTE[rng.integers(len(PALETTE))], dtype=np.float32)
    return np.clip(base + rng.uniform(-jitter, jitter, 3), 0, 255)


def _background(rng: np.random.Generator, height: int, width: int,
                style: SceneStyle = SceneStyle()) -> np.ndarray:
    """A textured float32 BGR background with thin clutter lines and arcs."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = rng.integers(3)
    c0, c1 = _palette_color(rng), _palette_color(rng)
    if kind == 0:    # linear gradient at a random angle
        a = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    elif kind == 1:  # stripes at a random angle and period
        a = rng.uniform(0, np.pi)
        period = rng.uniform(6, 30)
        t = 0.5 + 0.5 * np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period)
    else:            # smooth random noise
        grid = rng.uniform(0, 1, (rng.integers(3, 8), rng.integers(3, 8))).astype(np.float32)
        t = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    t = 0.5 + (t - 0.5) * style.texture_contrast
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    # clutter that is not an object: thin lines and arcs in palette colours
    for _ in range(rng.integers(style.clutter[0], style.clutter[1] + 1)):
        color = tuple(float(v) for v in _palette_color(rng))
        thickness = int(rng.integers(1, style.max_clutter_thickness + 1))
        if rng.random() < 0.6:
            p0 = (int(rng.integers(width)), int(rng.integers(height)))
            p1 = (int(rng.integers(width)), int(rng.integers(height)))
            cv2.line(img, p0, p1, color, thickness)
        else:
            centre = (int(rng.integers(width)), int(rng.integers(height)))
            axes = (int(rng.integers(5, max(6, width // 3))), int(rng.integers(5, max(6, height // 3))))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), start,
                        start + float(rng.uniform(40, 200)), color, thickness)
    return img


# ---------------------------------------------------------------------------------------
# scenes


def _pick_color(rng: np.random.Generator, covered: np.ndarray) -> np.ndarray:
    """A palette colour that stands out from the mean colour of what the object covers."""
    for _ in range(20):
        color = _palette_color(rng, jitter=20)
        if np.abs(color - covered).sum() >= MIN_CONTRAST:
            return color
    return 255 - covered  # every palette colour is too close: the complement always is not


def render_scene(rng: np.random.Generator, height: int, width: int,
                 max_objects: int = 4,
                 style: SceneStyle = SceneStyle()) -> Tuple[np.ndarray, List[SceneObject]]:
    """Render one scene: a BGR uint8 image and its objects (1..max_objects of them).

    Objects are placed one by one, each on top of the earlier ones; a candidate that would
    leave an earlier object (or itself) less than ``MIN_VISIBLE_FRACTION`` visible is
    redrawn elsewhere, or given up after a few tries. Masks are the visible pixels, exact.
    """
    if height < 32 or width < 32:
        raise ValueError(f'synthetic scenes need at least 32x32 pixels, got {height}x{width}')
    background = _background(rng, height, width, style)
    img = background.copy()
    full_masks: List[np.ndarray] = []
    labels: List[int] = []
    target = int(rng.integers(1, max_objects + 1))
    for _ in range(target):
        for _attempt in range(10):
            label = int(rng.integers(len(CLASSES)))
            mask = _shape_mask(label, rng, height, width, style)
            candidate = full_masks + [mask]
            if all(vis.sum() >= MIN_VISIBLE_FRACTION * full.sum()
                   for vis, full in zip(_visible(candidate), candidate)):
                full_masks.append(mask)
                labels.append(label)
                break
    objects = []
    colors = []
    for mask in full_masks:
        color = _pick_color(rng, img[mask].mean(axis=0))
        # gentle shading across the object so that fills are not perfectly flat
        ys, xs = np.nonzero(mask)
        a = rng.uniform(0, 2 * np.pi)
        t = xs * np.cos(a) + ys * np.sin(a)
        t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
        shade = 1.0 + rng.uniform(-0.2, 0.2) * (t - 0.5)
        img[ys, xs] = np.clip(color[None] * shade[:, None], 0, 255)
        colors.append(tuple(int(c) for c in color))
    for label, mask, color in zip(labels, _visible(full_masks), colors):
        objects.append(SceneObject(label=label, mask=mask, color=color))
    img += rng.normal(0, rng.uniform(2, 8), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), objects


def _visible(full_masks: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Visible part of each mask when later masks are drawn on top of earlier ones."""
    visible = []
    covered = None
    for mask in reversed(full_masks):
        visible.append(mask if covered is None else mask & ~covered)
        covered = mask.copy() if covered is None else covered | mask
    return visible[::-1]


# ---------------------------------------------------------------------------------------
# COCO writer


def _size_hw(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return int(height), int(width)


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def coco_categories() -> List[dict]:
    return [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
            for i, name in enumerate(CLASSES)]


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator for image ``index`` of ``split``: independent of how many images a
    split has, so growing a split keeps the images it already had."""
    split_id = {'train': 0, 'val': 1, 'test': 2}[split]
    return np.random.default_rng([seed, split_id, index])


def write_coco_split(out_dir: str, split: str, num_images: int,
                     image_size: Union[int, Sequence[int]], seed: int,
                     max_objects: int = 4, style: SceneStyle = SceneStyle()) -> str:
    """Write ``out_dir/{split}2017/*.jpg`` and ``out_dir/annotations/instances_{split}2017.json``
    and return the annotation file's path."""
    height, width = _size_hw(image_size)
    img_dir = osp.join(out_dir, f'{split}2017')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        img, objects = render_scene(scene_rng(seed, split, index), height, width, max_objects,
                                    style)
        file_name = f'{index:06d}.jpg'
        cv2.imwrite(osp.join(img_dir, file_name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        image_id = index + 1
        images.append({'id': image_id, 'file_name': file_name, 'height': height,
                       'width': width})
        for obj in objects:
            annotations.append({
                'id': len(annotations) + 1, 'image_id': image_id,
                'category_id': obj.label + 1, 'bbox': list(obj.bbox), 'area': obj.area,
                'segmentation': _rle(obj.mask), 'iscrowd': 0})
    ann_file = osp.join(ann_dir, f'instances_{split}2017.json')
    with open(ann_file, 'w') as f:
        json.dump({'info': {'description': f'synthetic shapes, seed {seed}'},
                   'images': images, 'annotations': annotations,
                   'categories': coco_categories()}, f)
    return ann_file


def write_coco_dataset(out_dir: str, num_train: int = 200, num_val: int = 50,
                       image_size: Union[int, Sequence[int]] = 160, seed: int = 0,
                       max_objects: int = 4, style: SceneStyle = SceneStyle()) -> dict:
    """Write a synthetic dataset in the standard COCO 2017 layout under ``out_dir``:
    ``annotations/instances_{train,val}2017.json`` and ``{train,val}2017/*.jpg``, with
    exact RLE masks of the visible pixels, boxes, areas, ``iscrowd=0`` and categories.
    Returns ``{split: annotation file}``."""
    return {split: write_coco_split(out_dir, split, n, image_size, seed, max_objects, style)
            for split, n in (('train', num_train), ('val', num_val))}


# ---------------------------------------------------------------------------------------
# ADE20K-layout writer: label PNGs with 0 = "other" (ignored through reduce_zero_label) and
# 1..K the classes

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
    :class:`SceneStyle`). Returns ``{split: (image
    folder, annotation folder)}``."""
    return {split: write_ade20k_split(out_dir, split, n, image_size, seed, max_objects, style)
            for split, n in (('train', num_train), ('val', num_val))}


# ---------------------------------------------------- command line (tools/make_synthetic_data.py)
DEFAULTS = {'coco': dict(out='data/synthetic_coco', num_train=200, size=[160]),
            'ade': dict(out='data/synthetic_ade', num_train=300, size=[128])}


def main() -> None:
    parser = argparse.ArgumentParser(description='Write a synthetic shape dataset for the CPU '
                                                 'demos and tests.')
    parser.add_argument('kind', choices=list(DEFAULTS))
    parser.add_argument('--out', help='output folder')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, nargs='+', help='one number (square) or H W')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--style', choices=list(SCENE_STYLES), default='hard',
                        help='demo = larger objects, calmer background, less clutter')
    args = parser.parse_args()
    for key, value in DEFAULTS[args.kind].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    size = args.size[0] if len(args.size) == 1 else tuple(args.size[:2])
    write = write_coco_dataset if args.kind == 'coco' else write_ade20k_dataset
    written = write(args.out, args.num_train, args.num_val, size, args.seed, args.max_objects,
                    SCENE_STYLES[args.style])
    for split, paths in written.items():
        print(f'{split}: {paths if isinstance(paths, str) else " ".join(paths)}')
