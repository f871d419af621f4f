"""Predictions on images for a trained detector or segmentor (behind ``tools/infer.py``).

Built on the libraries' own inferencers: mmdet's ``DetInferencer`` (pictures with boxes and
masks drawn by ``DetLocalVisualizer``, ``preds/<name>.json`` with labels, scores, boxes and
RLE masks) and mmseg's ``MMSegInferencer`` (colour overlays by ``SegLocalVisualizer``); for
segmentation this module adds ``preds/<name>.png`` (the label map) and ``preds/<name>.json``
(the classes found and their pixel shares). Weights are read by MMEngine's
``load_checkpoint``, which ``import convnext_dense`` routes to the weights-only loader.

Images are run one at a time so that one unreadable file does not stop the others: each
failure is reported as one line and the run goes on. Exit status (documented in the tool):
0 when at least one image was processed, 1 when none could be, 2 for a usage error.
"""
import glob
import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from ..errors import UserError, one_line

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def collect_images(spec: str) -> List[str]:
    """An image file, a folder (its images, sorted, not recursive) or a glob pattern."""
    if osp.isdir(spec):
        found = [osp.join(spec, n) for n in sorted(os.listdir(spec))
                 if n.lower().endswith(IMAGE_EXTENSIONS)]
        where = f'folder {spec}'
    elif osp.isfile(spec):
        return [spec]
    else:
        found = sorted(p for p in glob.glob(spec, recursive=True) if osp.isfile(p))
        where = f'pattern {spec!r}' if any(c in spec for c in '*?[') else f'path {spec}'
    if not found:
        raise UserError(f'no images found at {where} (expected an image, a folder of '
                        f'{"/".join(e[1:] for e in IMAGE_EXTENSIONS[:4])}... files or a glob)')
    return found


@dataclass
class InferenceReport:
    done: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.done else 1


class SegmentationPredictor:
    """mmseg's MMSegInferencer plus a label-map PNG and a JSON summary per image."""

    def __init__(self, config: str, checkpoint: str, device: str):
        from mmseg.apis import MMSegInferencer
        self.inferencer = MMSegInferencer(model=config, weights=checkpoint, device=device)
        self.classes = self.inferencer.model.dataset_meta.get('classes') or ()

    def __call__(self, image: str, out_dir: str) -> None:
        from PIL import Image
        from mmengine.infer import BaseInferencer
        # MMSegInferencer.__call__ always saves label maps named by a counter when given an
        # out_dir; its parent's __call__ takes the two folders as they are, so the overlay
        # goes to vis/ and the label map is written below under the image's own name
        result = BaseInferencer.__call__(self.inferencer, image, return_datasamples=False,
                                         batch_size=1, show=False,
                                         img_out_dir=osp.join(out_dir, 'vis'), pred_out_dir='')
        labels = np.asarray(result['predictions'])
        stem = osp.splitext(osp.basename(image))[0]
        pred_dir = osp.join(out_dir, 'preds')
        os.makedirs(pred_dir, exist_ok=True)
        Image.fromarray(labels.astype(np.uint8)).save(osp.join(pred_dir, f'{stem}.png'))
        ids, counts = np.unique(labels, return_counts=True)
        summary = dict(
            image=image, height=int(labels.shape[0]), width=int(labels.shape[1]),
            label_map=f'{stem}.png',
            classes=[dict(id=int(i), name=(self.classes[i] if i < len(self.classes) else str(i)),
                          pixels=int(c), fraction=round(float(c) / labels.size, 6))
                     for i, c in zip(ids, counts)])
        with open(osp.join(pred_dir, f'{stem}.json'), 'w') as f:
            json.dump(summary, f, indent=1)


class DetectionPredictor:
    """mmdet's DetInferencer: ``vis/<image>`` and ``preds/<name>.json`` per image."""

    def __init__(self, config: str, checkpoint: str, device: str, score_thr: float):
        from mmdet.apis import DetInferencer
        self.inferencer = DetInferencer(model=config, weights=checkpoint, device=device,
                                        show_progress=False)
        self.score_thr = score_thr

    def __call__(self, image: str, out_dir: str) -> None:
        self.inferencer(image, out_dir=out_dir, pred_score_thr=self.score_thr,
                        no_save_pred=False, no_save_vis=False)


def _check_readable(image: str) -> None:
    import mmcv
    if mmcv.imread(image) is None:
        raise UserError('not a readable image (corrupt or not an image file)')


def run_inference(config: str, checkpoint: str, inputs: str, out_dir: str,
                  device: str = 'cpu', score_thr: float = 0.3,
                  progress: bool = True) -> InferenceReport:
    import convnext_dense  # noqa: F401  (registers modules, safe checkpoint loading)
    from mmengine.config import Config
    if not osp.isfile(config):
        raise UserError(f'config {config} does not exist; see configs/ for the available ones')
    if not osp.isfile(checkpoint):
        raise UserError(f'checkpoint {checkpoint} does not exist; pass a .pth written by '
                        f'tools/train.py (or a released model)')
    images = collect_images(inputs)
    scope = Config.fromfile(config).get('default_scope')
    if scope == 'mmdet':
        predictor = DetectionPredictor(config, checkpoint, device, score_thr)
    elif scope == 'mmseg':
        predictor = SegmentationPredictor(config, checkpoint, device)
    else:
        raise UserError(f'{config} has default_scope={scope!r}; tools/infer.py runs mmdet '
                        f'and mmseg configs')
    os.makedirs(out_dir, exist_ok=True)
    report = InferenceReport()
    bar = None
    if progress and len(images) > 1:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(images), file=sys.stderr)
    for image in images:
        try:
            _check_readable(image)
            predictor(image, out_dir)
            report.done.append(image)
        except Exception as exc:  # one bad image must not stop the others
            report.failed.append((image, one_line(exc)))
        if bar:
            bar.update()
    if bar:
        sys.stderr.write('\n')
    return report
