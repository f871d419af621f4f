"""Params and FLOPs of each config's whole model beside the paper's numbers.

    python tools/analysis/get_flops.py                      # every config in configs/
    python tools/analysis/get_flops.py configs/upernet_convnext_t_ade20k.py --shape 2048 512
    python tools/analysis/get_flops.py --out benchmarks/flops.md

One multiply-add counts as one FLOP (the paper's convention); detection at 1280x800,
segmentation at 2048x512 (2560x640 for the _640 configs). See convnext_dense/analysis/.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import convnext_dense  # noqa: E402,F401
from convnext_dense.analysis.flops_table import (HEADER, default_configs, format_row,  # noqa
                                                 format_table, measure)
from convnext_dense.apis.common import user_errors  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help='configs (default: all in configs/)')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('W', 'H'),
                        help="input width and height (default: the paper's size per task)")
    parser.add_argument('--exact', action='store_true',
                        help='trace every block of the deep stage instead of adding copies '
                             'of one traced block (same result, much slower)')
    parser.add_argument('--out', help='also write the table (markdown) to this file')
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    with user_errors(args.debug):
        configs = args.configs or default_configs(osp.join(REPO, 'configs'))
        print(HEADER, flush=True)
        rows = measure(configs, tuple(args.shape) if args.shape else None,
                       shortcut=not args.exact,
                       on_row=lambda row: print(format_row(row), flush=True))
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                f.write('# Params and FLOPs beside the paper\n\n' + format_table(rows, notes=True))
            print(f'table written to {args.out}')


if __name__ == '__main__':
    main()
