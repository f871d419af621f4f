#!/usr/bin/env python
"""The CPU demo: pretrain ConvNeXt-atto on synthetic shapes, then fine-tune and test on synthetic
scenes; cpu_demo/run.py (not part of the library) says what and how (``--help``)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # cpu_demo/ (not in the wheel)
from cpu_demo.run import main  # noqa: E402

if __name__ == '__main__':
    main()
