#!/usr/bin/env python
"""Write a synthetic shape dataset for the CPU demos and tests (cpu_demo/synthetic_data.py):
``coco`` (the COCO 2017 layout, exact RLE masks) or ``ade`` (the ADE20K layout, 0 = other).

    python tools/make_synthetic_data.py coco|ade --out DIR [--seed 0] [...]   (--help: all)
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # cpu_demo/ (not in the wheel)
from cpu_demo.synthetic_data import main  # noqa: E402

if __name__ == '__main__':
    main()
