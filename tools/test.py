#!/usr/bin/env python
"""Evaluate a trained ConvNeXt detector (COCO box/mask AP) or segmentor (mIoU).

    python tools/test.py CONFIG CHECKPOINT [--out FILE] [--show-dir DIR] [--tta] [--work-dir DIR]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from convnext_dense.apis.test import main  # noqa: E402

if __name__ == '__main__':
    main()
