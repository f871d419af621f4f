#!/usr/bin/env python
"""What the maintained ONNX export paths do on our configs (results: onnx_export_baseline.md).

Models: our configs shrunk to ConvNeXt-atto, random weights (``init_cfg=None``), fewer RPN
proposals at test time (speed only). Input: one 1x3x320x320 image; an exported file is then
loaded by onnxruntime (CPUExecutionProvider) and run at 320x320 and 256x384, its outputs
compared with PyTorch's at the same size. Paths:

- ``ts``: ``torch.onnx.export(dynamo=False)``, dynamic H/W (``dynamic_axes``);
- ``dyn-static`` / ``dyn-dim`` / ``dyn-auto``: ``torch.onnx.export(dynamo=True)`` with static
  shapes, ``Dim`` on H and W, ``Dim.AUTO`` on H and W;
- ``export-static`` / ``export-dim``: ``torch.export.export`` alone (no ONNX export mode, so
  mmdet's ``torch.onnx.is_in_onnx_export()`` branches are not taken), static and ``Dim``;
- ``mmdeploy-dynamic`` / ``mmdeploy-static``: ``mmdeploy.apis.torch2onnx`` with mmdeploy
  1.3.1's onnxruntime deploy configs (run in a child process; needs
  ``--mmdeploy PKG_DIR CONFIG_DIR``: the ``pip install --no-deps --target`` folder and the
  ``configs/`` folder of the mmdeploy repository at v1.3.1, which the wheel lacks);
  torch 2.14's ``torch.onnx.export`` defaults to ``dynamo=True``, so mmdeploy's own
  (TorchScript) path is ``mmdeploy-ts-*``, with ``dynamo=False`` forced.

Detectors are exported through a wrapper around ``model.predict`` (one DetDataSample,
``rescale=False``) returning bboxes, scores, labels, masks; UperNet through
``model.encode_decode``. One line per (config, path): ``ok`` with the onnxruntime result, or
the exception type, its message's first line and the innermost mmdet/mmseg/mmdeploy/torch
frame that raised it.

    OMP_NUM_THREADS=1 python benchmarks/onnx_export_baseline.py [--configs mask,upernet]
        [--paths ts,dyn-static] [--mmdeploy /tmp/mmdeploy_pkg /tmp/mmdeploy_src/configs]

The defaults (two configs, two paths) take about 1 min on one thread; each further
(config, path) 15-40 s (``mmdeploy-static`` on UperNet: 3.5 min). All configs:
``--configs mask,cascade,upernet,v2-softnms``; all paths: ``--paths`` with the names above.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
warnings.filterwarnings('ignore')

CONFIGS = {
    'mask': 'configs/demo/mask_rcnn_convnext_atto_synthetic.py',
    'cascade': 'configs/cascade_mask_rcnn_convnext_t_fpn_3x_coco.py',
    'upernet': 'configs/demo/upernet_convnext_atto_synthetic.py',
    'v2-softnms': 'configs/mask_rcnn_convnext_v2_b_fpn_lsj_3x_fcmae_coco.py',
}
PATHS = ['export-static', 'export-dim', 'ts', 'dyn-static', 'dyn-dim', 'dyn-auto',
         'mmdeploy-static', 'mmdeploy-dynamic', 'mmdeploy-ts-static', 'mmdeploy-ts-dynamic']
SIZES = [(320, 320), (256, 384)]
ATTO = [40, 80, 160, 320]


def load_cfg(name):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[name]))
    m = cfg.model
    m.backbone.init_cfg = None
    m.backbone.arch = 'atto'
    if name == 'upernet':
        m.decode_head.in_channels = ATTO
        m.test_cfg = dict(mode='whole')
    else:
        m.neck.in_channels = ATTO
        m.test_cfg.rpn.nms_pre = 200
        m.test_cfg.rpn.max_per_img = 50
    return cfg


def build(name):
    import torch
    from mmengine.registry import init_default_scope
    import convnext_dense  # noqa: F401
    if name == 'upernet':
        import convnext_dense.segmentation  # noqa: F401
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
        scope = 'mmseg'
    else:
        import convnext_dense.detection  # noqa: F401
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        scope = 'mmdet'
    register_all_modules()
    init_default_scope(scope)
    torch.manual_seed(0)
    return MODELS.build(load_cfg(name).model).eval()  # PyTorch's default init: no log


def wrap(name, model):
    import torch

    class Det(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            from mmdet.structures import DetDataSample
            h, w = x.shape[-2:]
            meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                        batch_input_shape=(h, w), scale_factor=(1., 1.))
            ds = DetDataSample()
            for k, v in meta.items():  # set_metainfo deep-copies: fails on a SymInt
                ds._metainfo_fields.add(k)
                object.__setattr__(ds, k, v)
            res = self.model.predict(x, [ds], rescale=False)
            p = res[0].pred_instances
            return p.bboxes, p.scores, p.labels, p.masks

    class Seg(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            h, w = x.shape[-2:]
            meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
            return self.model.encode_decode(x, [meta])

    return (Seg if name == 'upernet' else Det)().eval()


def where(exc):
    """Innermost frame, and the innermost one in the mm* / torch.onnx/export code."""
    tb = traceback.extract_tb(exc.__traceback__)
    keys = ('mmdeploy', 'mmdet', 'mmseg', 'mmcv', 'mmengine', 'convnext_dense')
    ours = [f for f in tb if any(f'/{k}/' in f.filename for k in keys)]
    fmt = lambda f: f'{f.filename.split("site-packages/")[-1].replace(REPO + "/", "")}:{f.lineno} {f.name}'  # noqa: E731
    out = fmt(tb[-1]) if tb else '?'
    if ours and ours[-1] is not tb[-1]:
        out += f' (from {fmt(ours[-1])})'
    return out


def first_line(exc):
    msg = re.sub(r'\x1b\[[0-9;]*m', '', str(exc)).strip().splitlines()
    return f'{type(exc).__name__}: {msg[0][:300] if msg else ""}'


def describe(exc):
    """The exception, and the root of its chain (torch.onnx wraps torch.export's errors)."""
    root = exc
    while root.__cause__ is not None or (root.__context__ is not None
                                         and not root.__suppress_context__):
        root = root.__cause__ or root.__context__
    if root is exc:
        return f'{first_line(exc)} [{where(exc)}]'
    return f'{first_line(exc)} <- {first_line(root)} [{where(root)}]'


def run_ort(path, wrapper, onnx_file):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    try:
        sess = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    except Exception as e:  # noqa: BLE001
        return f'ORT load fails: {describe(e)}'
    dims = [d.dim_param or d.dim_value for d in
            onnx.load(onnx_file).graph.input[0].type.tensor_type.shape.dim]
    out = [f'input {dims}']
    for h, w in SIZES:
        torch.manual_seed(1)
        x = torch.rand(1, 3, h, w) * 255
        try:
            res = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
        except Exception as e:  # noqa: BLE001
            out.append(f'{h}x{w}: ORT run fails: {type(e).__name__}: '
                       f'{str(e).strip().splitlines()[0][:200]}')
            continue
        shapes = [tuple(r.shape) for r in res]
        note = ''
        if wrapper is not None:
            with torch.no_grad():
                ref = wrapper(x)
            ref = [ref] if torch.is_tensor(ref) else list(ref)
            ref_shapes = [tuple(r.shape) for r in ref]
            if ref_shapes != shapes:
                note = f' (PyTorch: {ref_shapes})'
            else:
                d = max((float(np.abs(r.detach().float().numpy() - o.astype(np.float32)).max())
                         if r.numel() else 0.0) for r, o in zip(ref, res))
                note = f' max|diff| {d:.1e}'
        out.append(f'{h}x{w}: {shapes}{note}')
    return 'ORT ' + '; '.join(out)


_BUILT = {}


def export_torch(name, path, tmp):
    import torch
    from torch.export import Dim
    if name not in _BUILT:
        _BUILT[name] = wrap(name, build(name))
    wrapper = _BUILT[name]
    torch.manual_seed(1)
    x = torch.rand(1, 3, 320, 320) * 255
    f = osp.join(tmp, f'{name}-{path}.onnx')
    with torch.no_grad():
        if path == 'ts':
            torch.onnx.export(wrapper, (x,), f, dynamo=False, opset_version=17,
                              input_names=['input'],
                              dynamic_axes={'input': {2: 'height', 3: 'width'}})
        elif path.startswith('export-'):  # torch.export alone: not in ONNX export mode
            kw = {}
            if path == 'export-dim':
                kw['dynamic_shapes'] = ({2: Dim('h', min=64, max=2048),
                                         3: Dim('w', min=64, max=2048)},)
            ep = torch.export.export(wrapper, (x,), strict=False, **kw)
            return None, f'ExportedProgram, {len(ep.graph.nodes)} nodes', wrapper
        else:
            kw = {}
            if path == 'dyn-dim':
                kw['dynamic_shapes'] = ({2: Dim('h', min=64, max=2048),
                                         3: Dim('w', min=64, max=2048)},)
            elif path == 'dyn-auto':
                kw['dynamic_shapes'] = ({2: Dim.AUTO, 3: Dim.AUTO},)
            torch.onnx.export(wrapper, (x,), f, dynamo=True, input_names=['input'],
                              report=False, verbose=False, **kw)
    return f, None, wrapper


def export_mmdeploy(name, path, tmp, cfg_dir):
    import numpy as np
    from mmengine.config import Config
    from mmdeploy.apis import torch2onnx
    kind = path.split('-')[-1]
    if path.startswith('mmdeploy-ts'):  # torch >= 2.9 exports with dynamo=True by default
        import functools
        import torch
        torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)
    deploy = (f'mmdet/instance-seg/instance-seg_onnxruntime_{kind}.py' if name != 'upernet'
              else 'mmseg/segmentation_onnxruntime_' + (
                  'dynamic.py' if kind == 'dynamic' else 'static-512x512.py'))  # 1.3.1 has no plain _static
    deploy_cfg = Config.fromfile(osp.join(cfg_dir, deploy))
    deploy_cfg.onnx_config.input_shape = [320, 320]  # the sample image's (W, H)
    if name == 'upernet':  # logits, not the label map: comparable with PyTorch's
        deploy_cfg.codebase_config.with_argmax = False
    import convnext_dense  # noqa: F401
    import convnext_dense.detection  # noqa: F401
    import convnext_dense.segmentation  # noqa: F401
    import torch
    model = build(name)  # the weights that PyTorch's reference below uses too
    ckpt = osp.join(tmp, 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    img = np.random.RandomState(0).randint(0, 255, (320, 320, 3), dtype=np.uint8)
    torch2onnx(img, tmp, f'{name}-{path}.onnx', deploy_cfg, load_cfg(name), ckpt, 'cpu')
    ref = wrap(name, model) if name == 'upernet' else None
    return osp.join(tmp, f'{name}-{path}.onnx'), None, ref


def one(name, path, mmdeploy_cfg_dir=None):
    t = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if path.startswith('mmdeploy'):
                f, note, wrapper = export_mmdeploy(name, path, tmp, mmdeploy_cfg_dir)
            else:
                f, note, wrapper = export_torch(name, path, tmp)
        except Exception as e:  # noqa: BLE001
            return f'export fails: {describe(e)}', time.time() - t
        if f is None:
            return f'exports: {note}', time.time() - t
        return 'exports; ' + run_ort(path, wrapper, f), time.time() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--configs', default='mask,upernet')
    ap.add_argument('--paths', default='ts,dyn-static')
    ap.add_argument('--mmdeploy', nargs=2, metavar=('PKG_DIR', 'CONFIG_DIR'))
    ap.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # one mmdeploy case, its own process (mmdeploy patches torch and mm*)
        name, path = args.child
        print(json.dumps(one(name, path, args.mmdeploy[1])))
        return
    rows = []
    for name in args.configs.split(','):
        for path in args.paths.split(','):
            if path.startswith('mmdeploy'):
                if not args.mmdeploy:
                    continue
                env = dict(os.environ, PYTHONPATH=args.mmdeploy[0])
                p = subprocess.run([sys.executable, __file__, '--child', name, path,
                                    '--mmdeploy', *args.mmdeploy],
                                   env=env, capture_output=True, text=True)
                lines = p.stdout.strip().splitlines()
                try:
                    res, sec = json.loads(lines[-1])
                except (IndexError, ValueError):
                    res, sec = f'child failed: {p.stderr.strip().splitlines()[-1:]}', 0
            else:
                res, sec = one(name, path)
            rows.append((name, path, res, sec))
            print(f'| {name} | {path} | {res} | {sec:.0f} s |', flush=True)
    print('\n| config | path | result | s |\n|---|---|---|---|')
    for r in rows:
        print(f'| {r[0]} | {r[1]} | {r[2]} | {r[3]:.0f} s |')


if __name__ == '__main__':
    main()
