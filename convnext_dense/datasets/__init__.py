from .checks import check_dataset_paths, set_data_root
from .coco import CocoDataset, LoadImageChecked

__all__ = ['CocoDataset', 'LoadImageChecked', 'check_dataset_paths', 'set_data_root']
