"""Plot training loss and the validation metric over iterations from an MMEngine work dir.

    python tools/analysis/plot_training.py WORK_DIR [--out WORK_DIR/training_curves.png]
                                                    [--metric coco/bbox_mAP]

WORK_DIR is a tools/train.py --work-dir (its newest <timestamp>/vis_data/scalars.json is
read) or a scalars.json / *.log.json file.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from convnext_dense.apis.common import user_errors  # noqa: E402
from convnext_dense.analysis.training_curves import find_log, plot_curves, read_curves  # noqa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='PNG path (default: WORK_DIR/training_curves.png)')
    parser.add_argument('--metric', help='validation metric (default: segm/bbox mAP or mIoU)')
    parser.add_argument('--title')
    parser.add_argument('--debug', action='store_true')
    args = parser.parse_args()
    with user_errors(args.debug):
        log = find_log(args.work_dir)
        out = args.out or osp.join(args.work_dir if osp.isdir(args.work_dir)
                                   else osp.dirname(log), 'training_curves.png')
        curves = read_curves(log)
        _, metric = plot_curves(curves, out, args.metric,
                                args.title or osp.basename(osp.abspath(args.work_dir)))
    print(f'{out}: loss over {len(curves.loss_iters)} logged iterations'
          + (f', {metric} at {len(curves.val_iters)} validation(s)' if metric else
             ', no validation metric in the log'))


if __name__ == '__main__':
    main()
