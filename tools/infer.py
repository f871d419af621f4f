"""Predict on images with a trained detector or segmentor; write pictures and JSON.

    python tools/infer.py CONFIG CHECKPOINT INPUT [--out-dir DIR] [--score-thr 0.3]

INPUT is an image, a folder of images or a quoted glob ('data/*.jpg'). Writes
DIR/vis/<image> (boxes and masks, or a colour overlay) and DIR/preds/<name>.json
(segmentation also DIR/preds/<name>.png, the label map). An unreadable image is reported
on one line and skipped. Exit status: 0 if at least one image was processed, 1 if none
could be, 2 for a usage error (missing config/checkpoint, no images found).
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from convnext_dense.apis.common import user_errors  # noqa: E402
from convnext_dense.apis.infer import run_inference  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='image, folder or glob pattern')
    parser.add_argument('--out-dir', default='outputs', help='default: ./outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw and keep boxes scoring at least this')
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    args = parser.parse_args()
    if not args.debug:
        warnings.filterwarnings('ignore')
    with user_errors(args.debug):
        report = run_inference(args.config, args.checkpoint, args.input, args.out_dir,
                               device=args.device, score_thr=args.score_thr)
    for image, reason in report.failed:
        print(f'failed: {image}: {reason}', file=sys.stderr)
    print(f'{len(report.done)} image(s) written to {args.out_dir}/vis and '
          f'{args.out_dir}/preds; {len(report.failed)} failed')
    sys.exit(report.exit_code)


if __name__ == '__main__':
    main()
