"""The paper's published model sizes (Liu et al., CVPR 2022, Tables 3 and 4; the official
repository's README), keyed by this repository's config names.

FLOPs count one multiply-add as one FLOP; detection at 1280x800, segmentation at 2048x512
(2560x640 for the ``_640`` configs). These are published reference values that the
analysis tools print *beside* the measured ones, never in place of them.
"""
from typing import Dict, NamedTuple, Optional


class PaperNumbers(NamedTuple):
    params_m: float   # millions of parameters
    gflops: float     # billions of multiply-adds
    width: int        # input width the FLOPs were counted at
    height: int       # input height


PAPER: Dict[str, PaperNumbers] = {
    'mask_rcnn_convnext_t_fpn_1x_coco': PaperNumbers(48, 262, 1280, 800),
    'mask_rcnn_convnext_t_fpn_3x_coco': PaperNumbers(48, 262, 1280, 800),
    'cascade_mask_rcnn_convnext_t_fpn_3x_coco': PaperNumbers(86, 741, 1280, 800),
    'cascade_mask_rcnn_convnext_s_fpn_3x_coco': PaperNumbers(108, 827, 1280, 800),
    'cascade_mask_rcnn_convnext_b_fpn_3x_coco': PaperNumbers(146, 964, 1280, 800),
    'cascade_mask_rcnn_convnext_b_in22k_fpn_3x_coco': PaperNumbers(146, 964, 1280, 800),
    'cascade_mask_rcnn_convnext_l_in22k_fpn_3x_coco': PaperNumbers(255, 1354, 1280, 800),
    'cascade_mask_rcnn_convnext_xl_in22k_fpn_3x_coco': PaperNumbers(407, 1898, 1280, 800),
    'upernet_convnext_t_ade20k': PaperNumbers(60, 939, 2048, 512),
    'upernet_convnext_s_ade20k': PaperNumbers(82, 1027, 2048, 512),
    'upernet_convnext_b_ade20k': PaperNumbers(122, 1170, 2048, 512),
    'upernet_convnext_b_in22k_ade20k_640': PaperNumbers(122, 1828, 2560, 640),
    'upernet_convnext_l_in22k_ade20k_640': PaperNumbers(235, 2458, 2560, 640),
    'upernet_convnext_xl_in22k_ade20k_640': PaperNumbers(391, 3335, 2560, 640),
}


def paper_numbers(config_name: str) -> Optional[PaperNumbers]:
    """Published numbers for a config (by file stem), or None for configs the paper has no
    row for (demo configs, custom variants)."""
    return PAPER.get(config_name)
