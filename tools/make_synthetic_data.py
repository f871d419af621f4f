#!/usr/bin/env python
"""Write synthetic shape datasets for the CPU demos and tests.

    python tools/make_synthetic_data.py coco --out data/synthetic_coco [--num-train 200]
        [--num-val 50] [--size 160] [--seed 0] [--style hard|demo]
    python tools/make_synthetic_data.py ade --out data/synthetic_ade [--num-train 300]
        [--num-val 50] [--size 128] [--seed 0] [--style hard|demo]

Each kind of dataset is a sub-command; add one with a function that takes the parsed
arguments and an entry in SUBCOMMANDS.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def add_scene_args(p, out: str, num_train: int, size: int) -> None:
    """The arguments every dataset kind shares: where, how many, how large, which scenes."""
    p.add_argument('--out', default=out, help='output folder')
    p.add_argument('--num-train', type=int, default=num_train)
    p.add_argument('--num-val', type=int, default=50)
    p.add_argument('--size', type=int, nargs='+', default=[size],
                   help='image size: one number (square) or HEIGHT WIDTH')
    p.add_argument('--max-objects', type=int, default=4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--style', choices=['hard', 'demo'], default='hard',
                   help='scene difficulty (convnext_dense.datasets.synthetic.SCENE_STYLES): '
                        'demo = larger objects, calmer background, less clutter')


def image_size(args):
    return args.size[0] if len(args.size) == 1 else tuple(args.size[:2])


def add_coco(subparsers) -> None:
    p = subparsers.add_parser('coco', help='COCO 2017 layout (instances_{train,val}2017.json)')
    add_scene_args(p, out='data/synthetic_coco', num_train=200, size=160)
    p.set_defaults(func=run_coco)


def run_coco(args) -> None:
    from convnext_dense.datasets.synthetic import SCENE_STYLES, write_coco_dataset
    files = write_coco_dataset(args.out, args.num_train, args.num_val, image_size(args),
                               args.seed, args.max_objects, SCENE_STYLES[args.style])
    for split, path in files.items():
        print(f'{split}: {path}')


def add_ade(subparsers) -> None:
    p = subparsers.add_parser('ade', help='ADE20K layout ({images,annotations}/{training,'
                                          'validation}; label 0 = other, 1..K the classes)')
    add_scene_args(p, out='data/synthetic_ade', num_train=300, size=128)
    p.set_defaults(func=run_ade)


def run_ade(args) -> None:
    from convnext_dense.datasets.synthetic import SCENE_STYLES
    from convnext_dense.datasets.synthetic_ade import write_ade20k_dataset
    folders = write_ade20k_dataset(args.out, args.num_train, args.num_val, image_size(args),
                                   args.seed, args.max_objects, SCENE_STYLES[args.style])
    for split, (img_dir, ann_dir) in folders.items():
        print(f'{split}: {img_dir} {ann_dir}')


SUBCOMMANDS = [add_coco, add_ade]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest='kind', required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == '__main__':
    main()
