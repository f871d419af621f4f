"""COCO-format instance datasets whose files are checked as they are loaded: mmdet's fails far
from the cause (a ``JSONDecodeError`` without the file name, an ``AssertionError`` from a
data-loader worker hours into training for a missing or undecodable image)."""
import json
import os.path as osp
from typing import List, Optional

from mmcv.transforms import LoadImageFromFile
from mmdet.datasets import CocoDataset as MMDetCocoDataset

from ..errors import DataError
from ..registry import DATASETS, TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageChecked(LoadImageFromFile):
    """mmcv's LoadImageFromFile, with a one-line error naming an undecodable image."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            loaded = super().transform(results)
        except (AssertionError, OSError, ValueError) as exc:
            raise DataError(f'image {results["img_path"]} cannot be decoded ({exc}); it is '
                            'corrupt, truncated or not an image: replace it or remove it '
                            'from the annotations') from None
        if loaded is None and not self.ignore_empty:
            raise DataError(f'image {results["img_path"]} cannot be decoded; replace it')
        return loaded


@DATASETS.register_module()
class CocoDataset(MMDetCocoDataset):
    """mmdet's CocoDataset with checked annotation files, image paths and image decoding
    (grayscale, RGBA and 16-bit images load as 8-bit BGR, as OpenCV decodes them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i, transform in enumerate(getattr(self.pipeline, 'transforms', [])):
            if type(transform) is LoadImageFromFile:  # checked, with the same settings
                checked = LoadImageChecked.__new__(LoadImageChecked)
                checked.__dict__.update(transform.__dict__)
                self.pipeline.transforms[i] = checked

    def load_data_list(self) -> List[dict]:
        try:
            data_list = super().load_data_list()
        except json.JSONDecodeError as exc:
            raise DataError(f'annotation file {self.ann_file} is not valid JSON ({exc}); '
                            're-download or regenerate it') from None
        except (KeyError, TypeError, AssertionError) as exc:
            raise DataError(f'annotation file {self.ann_file} is not COCO instance format '
                            f'({type(exc).__name__}: {exc}); it needs images, annotations '
                            'and categories') from None
        missing = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
        if missing:
            raise DataError(
                f'{len(missing)} of {len(data_list)} images listed in {self.ann_file} do not '
                f'exist (e.g. {missing[0]}); check data_root / data_prefix (--data-root)')
        return data_list

    def filter_data(self) -> List[dict]:
        kept = super().filter_data()
        if not kept:
            raise DataError(
                f'{self.ann_file} has no usable image: {len(self.data_list)} listed, none with '
                f'an annotation of the classes and at least {self.filter_cfg.get("min_size", 0)}'
                ' pixels a side (filter_cfg); check the annotations and the classes')
        return kept
