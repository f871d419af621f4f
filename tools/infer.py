#!/usr/bin/env python
"""Predict on images with a trained detector or segmentor; write pictures and JSON.

    python tools/infer.py CONFIG CHECKPOINT|ONNX IMAGE|FOLDER|'GLOB' [--out-dir DIR] [--amp] [...]

Writes DIR/vis/ and DIR/preds/<name>.json (segmentation: also <name>.png, the label map) via
mmdet's and mmseg's inferencers; an unreadable image is one line and skipped. Exit status: 0 if
at least one image was processed, 1 if none could be, 2 for a usage error.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import tempfile
import warnings
from collections import Counter

import mmcv
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.registry import DATASETS
from mmengine.utils import ProgressBar

from cli_helpers import onnx_model_config, read_config, user_errors
from convnext_dense.amp import cpu_autocast_dtype, fp32_islands
from convnext_dense.checkpoint import load_checkpoint_file, set_trust_checkpoints
from convnext_dense.checkpoint_layouts import load_model_checkpoint
from convnext_dense.errors import UserError, one_line
from convnext_dense.preflight import dataset_classes, leaf_datasets

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the config the model was trained with')
    parser.add_argument('checkpoint', help='a .pth checkpoint, or an .onnx file from '
                                           'tools/export.py')
    parser.add_argument('input', help='image, folder or glob pattern')
    parser.add_argument('--out-dir', default='outputs', help='default: ./outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw and keep boxes scoring at least this')
    parser.add_argument('--amp', action='store_true', help='autocast the model: fp16 on a GPU, '
                        'bf16 on a CPU with native bf16 (else fp32)')
    parser.add_argument('--allow-partial-checkpoint', action='store_true',
                        help='predict even if the checkpoint leaves parts of the model unloaded')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle the checkpoint (only for files you trust)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.test_cfg.rcnn.max_per_img=50')
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    return parser.parse_args()


def collect_images(spec: str) -> list:
    """An image file, a folder (its images, sorted, not recursive) or a glob pattern."""
    if osp.isfile(spec):
        return [spec]
    if osp.isdir(spec):
        found = [osp.join(spec, n) for n in sorted(os.listdir(spec))
                 if n.lower().endswith(IMAGE_EXTENSIONS)]
    else:
        found = sorted(p for p in glob.glob(spec, recursive=True) if osp.isfile(p))
    if not found:
        raise UserError(f'no images found at {spec} (expected an image, a folder of '
                        'jpg/png/... files or a glob)')
    return found


def output_names(images: list) -> list:  # stems, or paths below a common folder if repeated
    stems = [osp.splitext(osp.basename(image))[0] for image in images]
    common, count = osp.commonpath([osp.abspath(image) for image in images]), Counter(stems)
    return [stem if count[stem] == 1 else osp.relpath(osp.abspath(image), common).replace(
        os.sep, '_').replace('.', '_') for image, stem in zip(images, stems)]


def build_inferencer(inferencer_cls, cfg, checkpoint: str, device: str, partial: bool):
    """An mmdet/mmseg inferencer on the config's model (an .onnx file goes in as its model),
    the checkpoint read once and refused if it leaves parts unloaded (unless ``partial``),
    drawing with the checkpoint's or the dataset's classes and palette."""
    dataset = next(leaf_datasets(cfg.test_dataloader.dataset))
    meta, loaded = dict(classes=dataset_classes(cfg)), None
    with DATASETS.switch_scope_and_registry(cfg.get('default_scope')) as registry:
        meta['palette'] = (dataset.get('metainfo') or {}).get('palette') or \
            registry.get(dataset['type']).METAINFO.get('palette')
    if checkpoint.endswith('.onnx'):
        cfg.model = onnx_model_config(cfg, checkpoint)
    else:
        cfg.model.backbone.init_cfg = None  # the checkpoint holds the whole model
        loaded = load_checkpoint_file(checkpoint)
        meta = (loaded.get('meta') or {}).get('dataset_meta') or meta
    extra = {} if 'mmdet' in inferencer_cls.__module__ else dict(
        classes=meta.get('classes'), palette=meta.get('palette'))
    inferencer = inferencer_cls(model=cfg, weights=None, device=device, **extra)
    if loaded is not None:
        load_model_checkpoint(inferencer.model, loaded, partial, source=checkpoint)
    # the visualizers take classes and palette only (mmseg's refuses other keys)
    meta = {key: meta.get(key) for key in ('classes', 'palette')}
    inferencer.model.dataset_meta = inferencer.visualizer.dataset_meta = meta
    return inferencer, meta.get('classes') or ()


def detection_predictor(cfg, checkpoint: str, device: str, score_thr: float, partial: bool):
    """mmdet's DetInferencer: ``vis/<image>`` and ``preds/<name>.json`` per image."""
    from mmdet.apis import DetInferencer
    inferencer, classes = build_inferencer(DetInferencer, cfg, checkpoint, device, partial)
    inferencer.show_progress = False

    def predict(image: str, out_dir: str) -> None:
        inferencer(image, out_dir=out_dir, pred_score_thr=score_thr, no_save_pred=False,
                   no_save_vis=False)
        path = osp.join(out_dir, 'preds', osp.splitext(osp.basename(image))[0] + '.json')
        with open(path) as f:  # label ids alone mean little to a reader: add the names
            preds = json.load(f)
        keep = [i for i, score in enumerate(preds['scores']) if score >= score_thr]
        preds = {k: [v[i] for i in keep] if isinstance(v, list) else v for k, v in preds.items()}
        preds['label_names'] = [classes[i] if i < len(classes) else str(i)
                                for i in preds['labels']]
        with open(path, 'w') as f:
            json.dump(preds, f)
    return predict


def segmentation_predictor(cfg, checkpoint: str, device: str, partial: bool):
    """mmseg's MMSegInferencer for the overlay, plus the label map and a JSON summary of
    the classes found, both named after the image."""
    from mmengine.infer import BaseInferencer
    from mmseg.apis import MMSegInferencer
    inferencer, classes = build_inferencer(MMSegInferencer, cfg, checkpoint, device, partial)

    def predict(image: str, out_dir: str) -> None:
        # MMSegInferencer.__call__ names label maps by a counter; its parent's does not
        result = BaseInferencer.__call__(inferencer, image, return_datasamples=False,
                                         batch_size=1, show=False,
                                         img_out_dir=osp.join(out_dir, 'vis'), pred_out_dir='')
        labels = np.asarray(result['predictions']).astype(np.uint8)
        stem = osp.splitext(osp.basename(image))[0]
        os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
        mmcv.imwrite(labels, osp.join(out_dir, 'preds', f'{stem}.png'))
        ids, counts = np.unique(labels, return_counts=True)
        summary = dict(image=osp.realpath(image), height=labels.shape[0], width=labels.shape[1],
                       label_map=f'{stem}.png', classes=[
                           dict(id=int(i), name=classes[i] if i < len(classes) else str(i),
                                pixels=int(c), fraction=round(float(c) / labels.size, 6))
                           for i, c in zip(ids, counts)])
        with open(osp.join(out_dir, 'preds', f'{stem}.json'), 'w') as f:
            json.dump(summary, f, indent=1)
    return predict


def main():
    args = parse_args()
    if not args.debug:
        warnings.filterwarnings('ignore')
    with user_errors(args.debug):
        cfg = read_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        set_trust_checkpoints(args.trust_checkpoint or cfg.get('trust_checkpoints', False))
        scope = cfg.get('default_scope')
        if args.device.startswith('cuda') and not torch.cuda.is_available():
            raise UserError(f'--device {args.device}: torch sees no GPU on this machine; use '
                            '--device cpu')
        if not osp.isfile(args.checkpoint):
            raise UserError(f'checkpoint {args.checkpoint} does not exist; pass a .pth written '
                            'by tools/train.py (or a released model)')
        device = torch.device(args.device).type
        if args.checkpoint.endswith('.onnx') and (args.amp or device != 'cpu'):
            raise UserError('an .onnx file runs on onnxruntime\'s CPU provider as exported: '
                            'drop --amp and --device')
        images = collect_images(args.input)
        if scope == 'mmdet':
            predict = detection_predictor(cfg, args.checkpoint, args.device, args.score_thr,
                                          args.allow_partial_checkpoint)
        elif scope == 'mmseg':
            predict = segmentation_predictor(cfg, args.checkpoint, args.device,
                                             args.allow_partial_checkpoint)
        else:
            raise UserError(f'{args.config} has default_scope={scope!r}; tools/infer.py runs '
                            'mmdet and mmseg configs')
        # --amp: fp16 on a GPU (autocast's default), on a CPU what training would use
        dtype = cpu_autocast_dtype() if args.amp and device == 'cpu' else None
        amp = torch.autocast(device, dtype, enabled=args.amp and dtype != torch.float32)
    done, failed = 0, []
    bar = ProgressBar(len(images), file=sys.stderr) if len(images) > 1 else None
    links = tempfile.TemporaryDirectory()  # the inferencers name outputs after the file
    for image, name in zip(images, output_names(images)):
        try:  # one bad image must not stop the others
            if mmcv.imread(image) is None:
                raise UserError('not a readable image (corrupt or not an image file)')
            path = osp.join(links.name, name + osp.splitext(image)[1])
            os.symlink(osp.abspath(image), path)
            with amp, fp32_islands():
                predict(path, args.out_dir)
            done += 1
        except Exception as exc:
            failed.append((image, one_line(exc)))
        if bar:
            bar.update()
    if bar:
        sys.stderr.write('\n')
    for image, reason in failed:
        print(f'failed: {image}: {reason}', file=sys.stderr)
    print(f'{done} image(s) written to {args.out_dir}/vis and {args.out_dir}/preds; '
          f'{len(failed)} failed')
    sys.exit(0 if done else 1)


if __name__ == '__main__':
    main()
