#!/usr/bin/env python
"""The CPU demo: pretrain ConvNeXt-atto on synthetic shapes (once), then fine-tune and test a
Mask R-CNN and a UperNet on synthetic scenes (cpu_demo/run.py; the demo package is not part of
the library).

    python tools/demo.py [detection|segmentation|all] [--work-root work_dirs] [--data-root data]
        [--v2] [--cfg-options K=V ...] [--pretrain-cfg-options K=V ...] [--dry-run]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # cpu_demo/ (not in the wheel)
from cpu_demo.run import main  # noqa: E402

if __name__ == '__main__':
    main()
