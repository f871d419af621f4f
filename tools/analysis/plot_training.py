#!/usr/bin/env python
"""Plot the training loss(es) and the validation metric over iterations of an MMEngine run.

    python tools/analysis/plot_training.py WORK_DIR|SCALARS_JSON [--out PNG] [--metric NAME]

Reads the newest WORK_DIR/<timestamp>/vis_data/scalars.json; writes
WORK_DIR/training_curves.png unless --out says otherwise.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import List, Optional, Tuple

from matplotlib.figure import Figure  # not pyplot: no display or backend needed

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/cli_helpers.py
from cli_helpers import user_errors  # noqa: E402
from convnext_dense.errors import UserError

NOT_METRICS = {'step', 'iter', 'epoch', 'time', 'data_time', 'lr', 'base_lr', 'memory'}
PREFERRED_METRICS = ('coco/segm_mAP', 'coco/bbox_mAP', 'mIoU')


def find_scalars(path: str) -> str:
    if osp.isfile(path):
        return path
    found = glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json'))
    if not found:
        raise UserError(f'no <timestamp>/vis_data/scalars.json under {path}: pass the '
                        '--work-dir of a tools/train.py run or a scalars.json')
    return max(found, key=osp.getmtime)


def read_scalars(path: str) -> Tuple[List[dict], List[dict]]:
    """Training records (with a loss) and validation records, each with its "iter": an epoch-based
    validation's "step" (the epoch) becomes that epoch's last training iteration."""
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [dict(r, iter=r.get('iter', r.get('step'))) for r in records if 'loss' in r]
    last_iter_of_epoch = {r['epoch']: r['iter'] for r in train if 'epoch' in r}  # in order
    val = [dict(r, iter=last_iter_of_epoch.get(r['step'], r['step']))
           for r in records if 'loss' not in r and 'iter' not in r]
    return train, val


def choose_metric(val: List[dict], wanted: Optional[str]) -> Optional[str]:
    names = [k for r in val for k, v in r.items()
             if k not in NOT_METRICS and isinstance(v, (int, float))]
    if wanted and wanted not in names:
        raise UserError(f'metric {wanted!r} is not in the log; it has: '
                        f'{", ".join(sorted(set(names))) or "no validation metric"}')
    return wanted or next((m for m in PREFERRED_METRICS if m in names), names[0] if names else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir', help='a tools/train.py --work-dir or a scalars.json')
    parser.add_argument('--out', help='PNG (default: WORK_DIR/training_curves.png)')
    parser.add_argument('--metric', help='validation metric (default: segm/bbox mAP or mIoU)')
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    args = parser.parse_args()
    with user_errors(args.debug):
        scalars = find_scalars(args.work_dir)
        train, val = read_scalars(scalars)
        metric = choose_metric(val, args.metric)
    out = args.out or osp.join(osp.dirname(scalars) if osp.isfile(args.work_dir)
                               else args.work_dir, 'training_curves.png')
    fig = Figure(figsize=(8, 4.5))
    loss_axis = fig.subplots()
    for name in sorted({k for r in train for k in r if 'loss' in k}):
        points = [(r['iter'], r[name]) for r in train if name in r]
        loss_axis.plot(*zip(*points), label=name, linewidth=2 if name == 'loss' else 0.8)
    loss_axis.set(xlabel='iteration', ylabel='training loss', title=osp.basename(args.work_dir))
    loss_axis.legend(loc='upper left', fontsize=7)
    points = [(r['iter'], r[metric]) for r in val if metric in r]
    if points:
        metric_axis = loss_axis.twinx()
        metric_axis.plot(*zip(*points), 'o-', color='black')
        metric_axis.set_ylabel(f'validation {metric}')
    fig.tight_layout()
    fig.savefig(out)
    print(f'{out}: loss over {len(train)} logged iterations; '
          + (f'{metric} at {len(points)} validation(s): '
             + ', '.join(f'{value:.4g} at iteration {it}' for it, value in points)
             if points else 'no validation metric in the log'))


if __name__ == '__main__':
    main()
