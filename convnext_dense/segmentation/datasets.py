"""ADE20K-layout segmentation datasets whose label maps are checked as they are loaded: a value
outside the classes or a size other than the image's makes mmseg fail far from the cause (a CUDA
assert in the loss, a shape error in the metric) or train silently on garbage. The datasets put
:class:`CheckSegLabels` after each ``LoadAnnotations`` of their pipeline (configs unchanged)."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmseg.datasets import ADE20KDataset as MMSegADE20KDataset
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import LoadAnnotations

from ..errors import DataError
from ..registry import DATASETS, TRANSFORMS


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """Check a label map, right after ``LoadAnnotations``, against its image and the classes:
    values as the file holds them (``reduce_zero_label``: 0 "other", 1..K; else 0..K-1; 255)."""

    def __init__(self, num_classes: int):
        self.num_classes = int(num_classes)

    def transform(self, results: dict) -> dict:
        label = results.get('gt_seg_map')
        if label is None:
            return results
        path = results.get('seg_map_path', '<label map>')
        if label.ndim != 2:
            raise DataError(
                f'label map {path} has shape {label.shape}: expected a single-channel PNG of '
                'class indices (not a colour picture); convert it to class indices')
        image_hw = tuple((results.get('ori_shape') or label.shape)[:2])
        if tuple(label.shape) != image_hw:
            raise DataError(f'label map {path} is {label.shape[1]}x{label.shape[0]} but its image '
                            f'{results.get("img_path", "")} is {image_hw[1]}x{image_hw[0]}; every '
                            'label PNG must have the size of its image: regenerate or fix it')
        reduced = bool(results.get('reduce_zero_label', False))
        if results.get('label_map'):
            return results  # ids were remapped to a class subset; unknown ones became 255
        bad = (label >= self.num_classes) & (label != 255)  # 255: ignore
        if bad.any():
            values = np.unique(label[bad]).astype(np.int64)
            raw = values + 1 if reduced else values
            allowed = (f'0 (other), 1..{self.num_classes} for the {self.num_classes} classes'
                       if reduced else f'0..{self.num_classes - 1}')
            raise DataError(f'label map {path} holds values {", ".join(map(str, raw[:5]))} outside '
                            f'the {self.num_classes} classes: allowed are {allowed} and 255 '
                            "(ignore); fix the file, or set the dataset's classes (metainfo) / the "
                            "heads' num_classes to match the data")
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes})'


def insert_label_check(pipeline: Compose, num_classes: int) -> None:
    """Insert a :class:`CheckSegLabels` after every ``LoadAnnotations`` in ``pipeline``,
    including the sub-pipelines of ``TestTimeAug``."""
    transforms = pipeline.transforms
    for i, transform in reversed(list(enumerate(transforms))):
        if isinstance(transform, LoadAnnotations) and not (
                i + 1 < len(transforms) and isinstance(transforms[i + 1], CheckSegLabels)):
            transforms.insert(i + 1, CheckSegLabels(num_classes))
        for sub in getattr(transform, 'subroutines', None) or []:
            insert_label_check(sub, num_classes)


@DATASETS.register_module()
class ADE20KDataset(MMSegADE20KDataset):
    """mmseg's ADE20K dataset (150 classes, ``reduce_zero_label=True``) whose label maps
    are checked as they load (``check_labels=False`` turns that off)."""

    def __init__(self, *args, check_labels: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if check_labels:
            insert_label_check(self.pipeline, len(self.metainfo['classes']))


@DATASETS.register_module()
class ADE20KStyleDataset(BaseSegDataset):
    """ADE20K's layout and label convention (jpg images, png labels: 0 "other", 1..K the
    classes, 255 ignore) with the K classes of ``metainfo=dict(classes=(...), palette=[...])``."""

    def __init__(self, *args, metainfo: Optional[dict] = None, reduce_zero_label: bool = True,
                 check_labels: bool = True, **kwargs):
        if not metainfo or not metainfo.get('classes'):
            raise DataError('ADE20KStyleDataset needs metainfo=dict(classes=(...)) naming the '
                            'classes 1..K of its label maps; add it to the dataset config')
        super().__init__(*args, metainfo=metainfo, reduce_zero_label=reduce_zero_label, **kwargs)
        if check_labels:
            insert_label_check(self.pipeline, len(self.metainfo['classes']))

