#!/usr/bin/env python
"""Train a ConvNeXt detector (mmdet config) or segmentor (mmseg config).

    python tools/train.py configs/upernet_convnext_t_ade20k.py [--work-dir DIR] [--resume [PATH]]
        [--amp] [--auto-scale-lr] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm}]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from convnext_dense.apis.train import main  # noqa: E402

if __name__ == '__main__':
    main()
