#!/usr/bin/env python
"""Params and FLOPs of each config's whole model and of its backbone.

    python tools/analysis/get_flops.py [CONFIG...] [--shape W H] [--out FILE]

As mmdet's and mmseg's own get_flops: MMEngine's get_model_complexity_info (1 multiply-add
= 1 FLOP) on the tensor-mode forward ``model._forward(inputs, data_samples)``, random weights,
batch 1. Default configs: all in configs/; default inputs: the paper's, 1280x800 (detection),
2048x512 (segmentation), 2560x640 (*_640). benchmarks/flops.md has the paper's numbers.
"""
import argparse
import glob
import inspect
import os.path as osp
import sys
from functools import partial
from typing import Optional, Tuple

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope

import convnext_dense  # noqa: F401  (registers the backbone)
from convnext_dense.errors import UserError

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/cli_helpers.py
from cli_helpers import read_config, user_errors  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADER = ('| config | input (WxH) | params (M) | FLOPs (G) | backbone params (M) '
          '| backbone FLOPs (G) |\n|---|---|---|---|---|---|')


def build_model(cfg: Config) -> torch.nn.Module:
    """The config's detector or segmentor with random weights (no pretrained checkpoint is
    read), SyncBN as BN so that one process can run it, in eval mode."""
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg'):
        raise UserError(f'default_scope is {scope!r}; only mmdet and mmseg configs have a '
                        'detector or segmentor to count')
    init_default_scope(scope)  # MMEngine's MODELS builds from the scope's registry
    cfg.model.backbone['init_cfg'] = None
    return revert_sync_batchnorm(MODELS.build(cfg.model)).eval()


def data_samples(scope: str, width: int, height: int, batch: int = 1) -> list:
    """Data samples with the image metadata tensor mode reads (the RPN needs img_shape)."""
    shape = (height, width)
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    return [Sample(metainfo=meta) for _ in range(batch)]


def cascade_forward_dummy(model: torch.nn.Module, inputs: torch.Tensor, samples: list) -> tuple:
    """mmdet 2's ``CascadeRoIHead.forward_dummy``, which the paper's FLOPs were counted with:
    every box stage on all proposals, every mask stage on the first 100 (as a real test runs
    at most 100 detections). mmdet 3's tensor mode runs the mask heads on all 1000."""
    from mmdet.structures.bbox import bbox2roi
    x = model.extract_feat(inputs)
    rois = bbox2roi([p.bboxes for p in model.rpn_head.predict(x, samples, rescale=False)])
    roi_head, outs = model.roi_head, ()
    for stage in range(roi_head.num_stages):
        result = roi_head._bbox_forward(stage, x, rois)
        outs += (result['cls_score'], result['bbox_pred'])
    for stage in range(roi_head.num_stages if roi_head.with_mask else 0):
        outs += (roi_head._mask_forward(stage, x, rois[:100])['mask_preds'],)
    return outs


def table_row(path: str, shape: Optional[Tuple[int, int]]) -> str:
    cfg = read_config(path)
    torch.manual_seed(0)  # the RPN's proposals, and so the RoI heads' work, depend on it
    model = build_model(cfg)
    if shape is None:  # the paper's inputs
        shape = {'mmdet': (1280, 800), 'mmseg': (2048, 512)}[cfg.default_scope]
        if path.endswith('_640.py'):
            shape = (2560, 640)
    width, height = shape
    inputs = torch.randn(1, 3, height, width)
    # as mmdet's get_flops: the counter calls model(inputs), tensor mode runs _forward
    samples = data_samples(cfg.default_scope, width, height)
    head = getattr(model, 'decode_head', None)  # mmseg's Mask2Former head needs the samples
    if hasattr(getattr(model, 'roi_head', None), 'num_stages'):
        model.forward = lambda inputs: cascade_forward_dummy(model, inputs, samples)
    elif 'batch_data_samples' in inspect.signature(getattr(head, 'forward', len)).parameters:
        model.forward = lambda inputs: head.forward(model.extract_feat(inputs), samples)
    else:
        model.forward = lambda inputs: model._forward(inputs, samples)
    count = partial(get_model_complexity_info, inputs=(inputs,), show_table=False,
                    show_arch=False)
    with torch.no_grad():
        whole, backbone = count(model), count(model.backbone)
    name = osp.splitext(osp.basename(path))[0]
    return (f"| {name} | {width}x{height} | {whole['params'] / 1e6:.2f} "
            f"| {whole['flops'] / 1e9:.2f} | {backbone['params'] / 1e6:.2f} "
            f"| {backbone['flops'] / 1e9:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', help='default: every config in configs/')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('W', 'H'),
                        help="input width and height (default: the paper's for the task)")
    parser.add_argument('--out', help='also write the markdown table to this file')
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    args = parser.parse_args()
    configs = args.configs or sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))
    # the counter logs each operator it gives no FLOPs (additions, GELU, ...) to stdout
    MMLogger.get_current_instance().setLevel('ERROR')
    print(HEADER, flush=True)
    rows = []
    with user_errors(args.debug):
        for path in configs:
            rows.append(table_row(path, args.shape))
            print(rows[-1], flush=True)  # the large models take minutes each
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join([HEADER] + rows) + '\n')
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
