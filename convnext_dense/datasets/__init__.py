from .checks import check_dataset_paths, set_data_root

__all__ = ['check_dataset_paths', 'set_data_root']
