#!/usr/bin/env python
"""Write a synthetic shape dataset for the CPU demos and tests (cpu_demo/synthetic_data.py).

    python tools/make_synthetic_data.py coco --out data/synthetic_coco [--num-train 200]
        [--num-val 50] [--size 160 | --size H W] [--seed 0] [--style hard|demo]
    python tools/make_synthetic_data.py ade --out data/synthetic_ade [--num-train 300] ...

coco: the COCO 2017 layout (annotations/instances_{train,val}2017.json, exact RLE masks);
ade: the ADE20K layout ({images,annotations}/{training,validation}; label 0 = other).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # cpu_demo/ (not in the wheel)
from cpu_demo.synthetic_data import main  # noqa: E402

if __name__ == '__main__':
    main()
