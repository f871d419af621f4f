"""Training loss and validation metric over iterations, from an MMEngine work dir.

MMEngine writes one JSON object per line to ``WORK_DIR/<timestamp>/vis_data/scalars.json``:
training lines carry ``loss`` (and its parts), ``iter`` and, in epoch-based loops,
``epoch``; validation lines carry the metrics and ``step``, which is the epoch in
epoch-based loops and the iteration in iteration-based ones. Older MMCV-style
``*.log.json`` files have the same content with a ``mode`` key. Validation points are
placed at the last training iteration of their epoch, so both curves share one x axis.
"""
import glob
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import DataError, UserError

# metrics to plot when present, in order of preference
PREFERRED_METRICS = ('coco/segm_mAP', 'coco/bbox_mAP', 'mIoU', 'coco/bbox_mAP_50', 'aAcc')
NOT_METRICS = {'step', 'iter', 'epoch', 'time', 'data_time', 'lr', 'base_lr', 'memory', 'mode'}


def find_log(path: str) -> str:
    """The scalars file of a work dir (newest run), or ``path`` itself if it is a file."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise UserError(f'{path} is neither a work dir nor a log file')
    candidates = (glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json'))
                  + glob.glob(osp.join(path, 'vis_data', 'scalars.json'))
                  + glob.glob(osp.join(path, '*.log.json'))
                  + glob.glob(osp.join(path, '*', '*.log.json')))
    if not candidates:
        raise UserError(f'no vis_data/scalars.json or *.log.json under {path}: is it the '
                        f'--work-dir of a tools/train.py run?')
    return max(candidates, key=osp.getmtime)


@dataclass
class Curves:
    loss_iters: List[int] = field(default_factory=list)
    losses: Dict[str, List[float]] = field(default_factory=dict)
    val_iters: List[int] = field(default_factory=list)
    metrics: Dict[str, List[float]] = field(default_factory=dict)
    source: str = ''


def _is_val(record: dict) -> bool:
    if 'mode' in record:
        return record['mode'] == 'val'
    return 'loss' not in record and 'iter' not in record


def read_curves(log_file: str) -> Curves:
    records = []
    with open(log_file) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise DataError(f'{log_file} line {number} is not JSON; expected MMEngine\'s '
                                f'one-object-per-line scalars file')
    curves = Curves(source=log_file)
    last_iter_of_epoch: Dict[int, int] = {}
    val_records: List[dict] = []
    for rec in records:
        if _is_val(rec):
            val_records.append(rec)
            continue
        if 'loss' not in rec:
            continue
        it = int(rec.get('iter', rec.get('step', 0)))
        curves.loss_iters.append(it)
        for key, value in rec.items():
            if key == 'loss' or key.endswith('loss') or '.loss' in key or key.startswith('loss'):
                curves.losses.setdefault(key, []).append(float(value))
        if 'epoch' in rec:
            epoch = int(rec['epoch'])
            last_iter_of_epoch[epoch] = max(last_iter_of_epoch.get(epoch, 0), it)
    for rec in val_records:
        step = int(rec.get('step', rec.get('epoch', 0)))
        # epoch-based loops number validations by epoch
        curves.val_iters.append(last_iter_of_epoch.get(step, step) if last_iter_of_epoch else step)
        for key, value in rec.items():
            if key not in NOT_METRICS and isinstance(value, (int, float)):
                curves.metrics.setdefault(key, []).append(float(value))
    if not curves.loss_iters:
        raise DataError(f'{log_file} holds no training loss records')
    return curves


def choose_metric(curves: Curves, wanted: Optional[str] = None) -> Optional[str]:
    if wanted:
        if wanted not in curves.metrics:
            raise UserError(f'metric {wanted!r} is not in {curves.source}; it has: '
                            f'{", ".join(sorted(curves.metrics)) or "no validation metrics"}')
        return wanted
    for name in PREFERRED_METRICS:
        if name in curves.metrics:
            return name
    return next(iter(sorted(curves.metrics)), None)


def plot_curves(curves: Curves, out_file: str, metric: Optional[str] = None,
                title: str = '') -> Tuple[str, Optional[str]]:
    """Write a PNG: losses (total bold, parts thin) on the left axis, the validation
    metric on the right axis, iterations on x. Returns ``(out_file, metric)``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    metric = choose_metric(curves, metric)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for key, values in curves.losses.items():
        total = key == 'loss'
        ax.plot(curves.loss_iters[:len(values)], values, label=key,
                linewidth=2 if total else 0.8, alpha=1 if total else 0.6)
    ax.set_xlabel('iteration')
    ax.set_ylabel('training loss')
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if metric:
        ax2 = ax.twinx()
        ax2.plot(curves.val_iters[:len(curves.metrics[metric])], curves.metrics[metric], 'o-',
                 color='black', label=f'val {metric}')
        ax2.set_ylabel(f'validation {metric}')
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=7, loc='upper right')
    ax.set_title(title or osp.basename(osp.dirname(osp.dirname(curves.source))) or 'training')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file, metric
