#!/usr/bin/env python
"""Export a trained detector (Mask R-CNN, Cascade Mask R-CNN, DINO, Mask2Former) or segmentor
(UperNet, Mask2Former) to one ONNX file that plain onnxruntime runs, then check it against
PyTorch.

    python tools/export.py CONFIG CHECKPOINT OUT.onnx [--shape H W] [--opset N] [--static]

Input and outputs: docs/export.md. tools/test.py and tools/infer.py take OUT.onnx in place of
the checkpoint. Exit 2 if it differs from PyTorch by more than TOLERANCE at either of two
sizes (the checked models differ by 1e-4 or less).
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
import torch
from cli_helpers import add_common_args, load_config, user_errors
from convnext_dense.checkpoint_layouts import load_model_checkpoint
from convnext_dense.errors import UserError
from convnext_dense.onnx import OnnxModelFile, export_onnx
from convnext_dense.preflight import dataset_classes

TOLERANCE = (1e-3, 1e-4)  # |onnxruntime - PyTorch| <= 1e-3 + 1e-4 * |PyTorch| (box corners)
CHECKED = ('MaskRCNN', 'CascadeRCNN', 'DINO', 'Mask2Former',  # detectors
           'UPerHead', 'Mask2FormerHead')  # segmentation heads


def model_metadata(cfg, task: str, classes: list) -> dict:
    return dict(task=task, classes=list(classes), config=osp.basename(cfg.filename or ''),
                torch=torch.__version__, python=sys.version.split()[0])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='the config the model was trained with')
    parser.add_argument('checkpoint', help='its checkpoint (.pth)')
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="example input size (default: the config's test size)")
    parser.add_argument('--opset', type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument('--static', action='store_true', help='fix the input size to --shape')
    parser.add_argument('--allow-partial-checkpoint', action='store_true',
                        help='export even if the checkpoint leaves parts of the model unloaded')
    parser.add_argument('--allow-unchecked-head', action='store_true',
                        help=f'export a model other than {", ".join(CHECKED)} anyway')
    add_common_args(parser, distributed=False)
    return parser.parse_args()


def input_size(cfg) -> tuple:
    """The size a test image has after the config's pipeline (the slide window's for
    segmentors that slide), as (H, W)."""
    if cfg.model.get('test_cfg', {}).get('mode') == 'slide':
        return tuple(cfg.model.test_cfg.crop_size)
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        if step.get('type') == 'Resize' and 'scale' in step:
            long, short = max(step['scale']), min(step['scale'])
            return (short, long) if step.get('keep_ratio') else tuple(step['scale'][::-1])
    return 512, 512


def build_graph(cfg, checkpoint: str, partial: bool = False, unchecked: bool = False):
    """The trained model wrapped as the graph to export, and its task."""
    cfg.model.backbone.init_cfg = None  # the checkpoint holds the whole model
    if cfg.get('default_scope') == 'mmdet':
        from mmdet.registry import MODELS
        from convnext_dense.detection.onnx import detector_graph as Graph
        task = 'detection'
    elif cfg.get('default_scope') == 'mmseg':
        from mmseg.registry import MODELS
        from convnext_dense.segmentation.onnx import SegmentorGraph as Graph
        task = 'segmentation'
    else:
        raise UserError(f"the config's default_scope is {cfg.get('default_scope')!r}; "
                        'tools/export.py exports mmdet and mmseg configs')
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    head = type(getattr(model, 'decode_head', model)).__name__
    if head not in CHECKED and not unchecked:
        raise UserError(f'{head} was not checked for ONNX export (checked: {", ".join(CHECKED)})'
                        ': pass --allow-unchecked-head to export it, judged against PyTorch')
    load_model_checkpoint(model, checkpoint, partial)  # refuses one that leaves parts unloaded
    return Graph(model.eval()), task


def by_geometry(outputs):
    """Detections ordered by label, then box corners (to 0.01 px)."""
    dets, labels = outputs[:2]
    order = np.lexsort([np.round(dets[:, i], 2) for i in (3, 2, 1, 0)] + [labels])
    return [output[order] for output in outputs]


def compare(graph, model_file: OnnxModelFile, size: tuple) -> str:
    """onnxruntime's largest difference from PyTorch on a random image; over TOLERANCE: error."""
    image = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = graph(image)
    expected = [e.numpy() for e in (expected if isinstance(expected, tuple) else (expected,))]
    got = model_file.run(image)
    if graph.output_names[0] == 'dets':  # equal scores may come in either order: sort both
        expected, got = by_geometry(expected), by_geometry(got)
    line = f'{size[0]}x{size[1]}: outputs {[tuple(g.shape) for g in got]}'
    if all(e.shape == g.shape for e, g in zip(expected, got)):
        diff = max((np.abs(e.astype(np.float64) - g).max() if e.size else 0.0)
                   for e, g in zip(expected, got))
        line += f', largest difference {diff:.2g}'
        if all(np.allclose(g, e, *TOLERANCE[::-1]) for e, g in zip(expected, got)):
            return line
    raise UserError(f'the exported file differs from PyTorch at {line} (PyTorch '
                    f'{[tuple(e.shape) for e in expected]}, tolerance {TOLERANCE[0]:g} + '
                    f'{TOLERANCE[1]:g} x |value|): this model does not export faithfully')


def main():
    args = parse_args()
    with user_errors(args.debug):
        cfg = load_config(args.config, args)
        if not osp.isfile(args.checkpoint):
            raise UserError(f'checkpoint {args.checkpoint} does not exist; train one with '
                            f'tools/train.py {args.config} or check the path')
        if not args.out.endswith('.onnx'):
            raise UserError(f'{args.out}: name the output file *.onnx')
        graph, task = build_graph(cfg, args.checkpoint, args.allow_partial_checkpoint,
                                           args.allow_unchecked_head)
        classes = dataset_classes(cfg)
        size = tuple(args.shape or input_size(cfg))
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        export_onnx(graph, torch.randn(1, 3, *size), args.out, model_metadata(cfg, task, classes),
                    graph.output_names, dynamic=not args.static, opset=args.opset)
        model_file = OnnxModelFile(args.out, task, classes)
        print(f'wrote {args.out} ({task}, {len(classes)} classes, input '
              f"{'1x3x%dx%d' % size if args.static else '1x3xHxW'})")
        sizes = [size] if args.static else [size, (size[0] * 3 // 4 + 5, size[1] + 27)]
        for checked in sizes:
            print('checked against PyTorch at ' + compare(graph, model_file, checked))


if __name__ == '__main__':
    main()
