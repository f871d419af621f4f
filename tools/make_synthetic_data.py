#!/usr/bin/env python
"""Write a synthetic shape dataset for the CPU demos and tests.

    python tools/make_synthetic_data.py coco --out data/synthetic_coco [--num-train 200]
        [--num-val 50] [--size 160 | --size H W] [--seed 0] [--style hard|demo]
    python tools/make_synthetic_data.py ade --out data/synthetic_ade [--num-train 300] ...

coco: the COCO 2017 layout (annotations/instances_{train,val}2017.json, exact RLE masks);
ade: the ADE20K layout ({images,annotations}/{training,validation}; label 0 = other).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # demo/ (not in the wheel)
from demo.synthetic_data import SCENE_STYLES, write_ade20k_dataset, write_coco_dataset  # noqa: E402

DEFAULTS = {'coco': dict(out='data/synthetic_coco', num_train=200, size=[160]),
            'ade': dict(out='data/synthetic_ade', num_train=300, size=[128])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=list(DEFAULTS))
    parser.add_argument('--out', help='output folder')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, nargs='+', help='one number (square) or H W')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--style', choices=list(SCENE_STYLES), default='hard',
                        help='demo = larger objects, calmer background, less clutter')
    args = parser.parse_args()
    for key, value in DEFAULTS[args.kind].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    size = args.size[0] if len(args.size) == 1 else tuple(args.size[:2])
    write = write_coco_dataset if args.kind == 'coco' else write_ade20k_dataset
    written = write(args.out, args.num_train, args.num_val, size, args.seed, args.max_objects,
                    SCENE_STYLES[args.style])
    for split, paths in written.items():
        print(f'{split}: {paths if isinstance(paths, str) else " ".join(paths)}')


if __name__ == '__main__':
    main()
