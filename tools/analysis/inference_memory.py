#!/usr/bin/env python
"""Resident memory over N consecutive tools/infer.py-style inferences with one model.

    python tools/analysis/inference_memory.py CONFIG CHECKPOINT IMAGE [--repeats 200]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from convnext_dense.analysis.inference_memory import main  # noqa: E402

if __name__ == '__main__':
    main()
