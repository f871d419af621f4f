"""onnxruntime against PyTorch eager on this CPU, in one run: the whole Mask R-CNN, DINO and
Mask2Former T at 1280x800, UperNet and Mask2Former T at 2048x512, the same exported graph
(tools/export.py's) timed both ways, plus mmdet's / mmseg's own predict for reference; median
seconds per image and ratios.

    python benchmarks/onnx_speed.py [--threads 2] [--runs 5] [--only NAME ...] [--out FILE]

Random weights with sharpened classifiers, so the detector keeps its full 100 detections
(the work a trained model does); UperNet's reference predicts on the whole image, as the
graph does. Exports go to a temporary folder.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import onnxruntime
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import convnext_dense  # noqa: F401
from convnext_dense.onnx import export_onnx

CASES = [  # name, config, (H, W), graph class, output names
    ('Mask R-CNN T', 'configs/mask_rcnn_convnext_t_fpn_1x_coco.py', (800, 1280),
     'convnext_dense.detection.onnx:TwoStageDetectorGraph', ('dets', 'labels', 'masks')),
    ('UperNet T', 'configs/upernet_convnext_t_ade20k.py', (512, 2048),
     'convnext_dense.segmentation.onnx:SegmentorGraph', ('logits',)),
    ('DINO-4scale T', 'configs/dino_4scale_convnext_t_12e_coco.py', (800, 1280),
     'convnext_dense.detection.onnx:detector_graph', ('dets', 'labels')),
    ('Mask2Former T (COCO)', 'configs/mask2former_convnext_t_lsj_50e_coco.py', (800, 1280),
     'convnext_dense.detection.onnx:detector_graph', ('cls_logits', 'mask_logits')),
    ('Mask2Former T (ADE20K)', 'configs/mask2former_convnext_t_ade20k.py', (512, 2048),
     'convnext_dense.segmentation.onnx:SegmentorGraph', ('logits',)),
]


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(config: str):
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    if cfg.model.test_cfg.get('mode') == 'slide':  # the graph's computation: the whole image
        cfg.model.test_cfg = dict(mode='whole')
    scope = cfg.default_scope
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    model.init_weights()
    for name, p in model.named_parameters():
        if name.endswith(('fc_cls.weight', 'conv_seg.weight')):
            p.data.normal_(0, 0.5)
    return model.eval()


def reference_predict(model, image: torch.Tensor):
    """mmdet's / mmseg's own test path on the same image (masks pasted, logits argmaxed)."""
    h, w = image.shape[-2:]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                scale_factor=(1., 1.))
    if type(model).__module__.startswith('mmdet.'):
        from mmdet.structures import DetDataSample
        sample = DetDataSample(metainfo=meta)
    else:
        from mmseg.structures import SegDataSample
        sample = SegDataSample(metainfo=meta)
    with torch.no_grad():
        model.predict(image, [sample])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--out', help='also write the table to this markdown file')
    parser.add_argument('--only', nargs='+', metavar='NAME', help='these cases (by name prefix)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    rows = []
    for name, config, size, graph_path, outputs in CASES:
        if args.only and not name.startswith(tuple(args.only)):
            continue
        module, cls = graph_path.split(':')
        model = build(config)
        graph = getattr(__import__(module, fromlist=[cls]), cls)(model).eval()
        image = torch.randn(1, 3, *size)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'model.onnx')
            start = time.perf_counter()
            export_onnx(graph, image, path, dict(task='benchmark', classes=[]), outputs)
            export_s = time.perf_counter() - start
            session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        feed = {'image': image.numpy()}
        with torch.no_grad():
            eager = median_seconds(lambda: graph(image), args.runs)
        ort = median_seconds(lambda: session.run(None, feed), args.runs)
        reference = median_seconds(lambda: reference_predict(model, image), args.runs)
        rows.append((name, f'{size[1]}x{size[0]}', eager, ort, reference, export_s))
        print(f'{name}: eager {eager:.3f} s, onnxruntime {ort:.3f} s', file=sys.stderr)
    lines = [f'CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
             f'{args.threads} threads; torch {torch.__version__}, onnxruntime '
             f'{onnxruntime.__version__}; median of {args.runs} runs, batch 1', '',
             '| model | input (WxH) | PyTorch eager, our graph (s) | onnxruntime (s) | '
             'eager / onnxruntime | mmdet/mmseg predict (s) | export (s) |',
             '|---|---|---|---|---|---|---|']
    for name, size, eager, ort, reference, export_s in rows:
        lines.append(f'| {name} | {size} | {eager:.3f} | {ort:.3f} | {eager / ort:.2f}x | '
                     f'{reference:.3f} | {export_s:.0f} |')
    table = '\n'.join(lines)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write('# onnxruntime vs PyTorch eager on CPU (`benchmarks/onnx_speed.py`)\n\n'
                    + table + '\n')


if __name__ == '__main__':
    main()
