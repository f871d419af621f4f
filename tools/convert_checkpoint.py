#!/usr/bin/env python
"""Convert a ConvNeXt checkpoint from any layout (FAIR, timm .pth/.safetensors, mmpretrain,
a trained detector/segmentor) to a clean backbone checkpoint in the official layout.

    python tools/convert_checkpoint.py SRC DST [--trust-checkpoint]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from convnext_dense.apis.common import user_errors  # noqa: E402
from convnext_dense.checkpoint import set_trust_checkpoints  # noqa: E402
from convnext_dense.models.convert import convert_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint to convert (path or URL)')
    parser.add_argument('dst', help='output .pth or .safetensors')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle SRC (only for files you trust)')
    parser.add_argument('--debug', action='store_true')
    args = parser.parse_args()
    with user_errors(args.debug):
        set_trust_checkpoints(args.trust_checkpoint)
        layout, arch, count = convert_checkpoint(args.src, args.dst)
        print(f'{args.src}: {layout} layout, ConvNeXt-{arch}; wrote {count} tensors to {args.dst}')


if __name__ == '__main__':
    main()
