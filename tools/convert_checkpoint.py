#!/usr/bin/env python
"""Convert a ConvNeXt or ConvNeXt-V2 checkpoint from any layout (FAIR, V2 FCMAE, timm
.pth/.safetensors, mmpretrain, a trained detector/segmentor) to a clean backbone checkpoint
in the official layout.

    python tools/convert_checkpoint.py SRC DST [--trust-checkpoint]
"""
import argparse

from convnext_dense.checkpoint import set_trust_checkpoints
from convnext_dense.checkpoint_layouts import convert_checkpoint
from cli_helpers import user_errors


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
        layout, name, count = convert_checkpoint(args.src, args.dst)
        print(f'{args.src}: {layout} layout, {name}; wrote {count} tensors to {args.dst}')


if __name__ == '__main__':
    main()
