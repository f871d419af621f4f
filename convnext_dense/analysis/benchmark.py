"""Inference and training speed of the backbone and whole models, beside timm and mmpretrain.

Used by ``tools/analysis/benchmark.py``. Every implementation gets the same weights and the
same input in the same process; cases are timed interleaved and reported as medians (see
:mod:`.timing`), together with achieved FLOP/s against the machine's own matrix-product
rate measured in the same rounds, and peak memory from a fresh process per case.
"""
import datetime
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

from .backbones import IMPLEMENTATIONS, build_same_weights, max_abs_difference
from .cases import build_call, first_call_seconds
from .complexity import count_flops
from .machine import format_load, load_average, machine_info
from .models import TensorModeForward, dummy_data_samples, load_config, task_of
from .timing import median, peak_memory_in_subprocess, time_interleaved

MMDET_MASK_RCNN_T = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
MATMUL_SIZE = 4096


@dataclass
class Settings:
    arch: str = 'tiny'
    batch: int = 1
    width: int = 1216
    height: int = 800
    device: str = 'cpu'
    warmup: int = 1
    repeats: int = 5
    channels_last: bool = True      # also time every implementation in channels_last
    compile: bool = False           # also time ours under torch.compile
    detector: Optional[str] = 'configs/mask_rcnn_convnext_t_fpn_3x_coco.py'
    detector_reference: Optional[str] = MMDET_MASK_RCNN_T  # None: our config with
    segmentor: Optional[str] = 'configs/upernet_convnext_t_ade20k.py'  # mmpretrain swapped in
    seg_size: int = 512             # one sliding window of the segmentor
    train: bool = True              # the with_cp training-step pair
    train_arch: str = 'tiny'
    train_batch: int = 2
    train_size: int = 512
    memory_groups: tuple = ('backbone', 'detector', 'segmentor', 'train')  # () for none
    matmul_size: int = MATMUL_SIZE
    threads: int = field(default_factory=lambda: torch.get_num_threads())


def quick_settings(**overrides) -> Settings:
    """Seconds, not minutes: atto, small inputs, the CPU demo configs (mmpretrain swapped
    into our config as the reference), 2 rounds, memory only for the training pair."""
    settings = Settings(arch='atto', width=160, height=128, warmup=1, repeats=2,
                        detector='configs/demo/mask_rcnn_convnext_atto_synthetic.py',
                        detector_reference=None,
                        segmentor='configs/demo/upernet_convnext_atto_synthetic.py',
                        seg_size=128, train_arch='atto', train_size=128,
                        memory_groups=('train',), matmul_size=512)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def _base(s: Settings, **kw) -> dict:
    spec = dict(batch=s.batch, height=s.height, width=s.width, device=s.device)
    spec.update(kw)
    return spec


def make_specs(s: Settings) -> List[dict]:
    """Every case of a run, in the order they are interleaved and reported."""
    specs = [dict(name=f'matmul {s.matmul_size}', group='reference', kind='matmul',
                  size=s.matmul_size, device=s.device, batch=1)]
    formats = [False, True] if s.channels_last else [False]
    for impl in IMPLEMENTATIONS:
        for cl in formats:
            specs.append(_base(s, name=f'{impl} {"channels_last" if cl else "NCHW"}',
                               group='backbone', kind='backbone', impl=impl, arch=s.arch,
                               channels_last=cl))
    if s.compile:
        specs.append(_base(s, name='ours NCHW torch.compile', group='backbone',
                           kind='backbone', impl='ours', arch=s.arch, compile=True))
    if s.detector:
        specs.append(_base(s, name='ours (this config)', group='detector', kind='model',
                           config=s.detector))
        if s.detector_reference:
            specs.append(_base(s, name='mmdet config (mmpretrain backbone)', group='detector',
                               kind='model', config=s.detector_reference,
                               copy_from=s.detector))
        else:
            specs.append(_base(s, name='same config, mmpretrain backbone', group='detector',
                               kind='model', config=s.detector, swap_backbone='mmpretrain',
                               copy_from=s.detector))
    if s.segmentor:
        size = dict(height=s.seg_size, width=s.seg_size)
        specs.append(_base(s, name='ours (this config)', group='segmentor', kind='model',
                           config=s.segmentor, **size))
        specs.append(_base(s, name='same config, mmpretrain backbone', group='segmentor',
                           kind='model', config=s.segmentor, swap_backbone='mmpretrain',
                           copy_from=s.segmentor, **size))
    train = dict(batch=s.train_batch, height=s.train_size, width=s.train_size,
                 device=s.device, group='train', kind='backbone', impl='ours',
                 arch=s.train_arch, train=True)
    if s.train:
        specs.append(dict(train, name='ours, with_cp=False', with_cp=False))
        specs.append(dict(train, name='ours, with_cp=True', with_cp=True))
    return specs


def _flops_of(spec: dict, shared: dict) -> Optional[int]:
    """Multiply-adds of one call (counted once per network; the same for every
    implementation of it)."""
    if spec['kind'] == 'matmul':
        return spec['size'] ** 3
    if spec['kind'] == 'backbone':
        from mmengine.analysis import FlopAnalyzer
        x = torch.randn(spec['batch'], 3, spec['height'], spec['width'], device=spec['device'])
        analyzer = FlopAnalyzer(shared['ours'], (x,))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        with torch.no_grad():
            flops = analyzer.total()
        return flops * (3 if spec.get('train') else 1)  # backward ~ 2x forward
    model = shared.get(f"model:{spec['config']}")
    if model is None:
        return None
    task = task_of(load_config(spec['config']))
    flops, _, _ = count_flops(model, task, spec['width'], spec['height'],
                              paper_convention=False)  # what the timed call runs
    return flops * spec['batch']


@dataclass
class Result:
    spec: dict
    seconds: float
    all_seconds: List[float]
    flops: Optional[int] = None
    peak_bytes: Optional[int] = None
    max_diff: Optional[float] = None
    first_call: Optional[float] = None


def run(s: Settings, log=print) -> Dict[str, object]:
    torch.set_num_threads(s.threads)
    started = datetime.datetime.now()
    loads = [load_average()]
    specs = make_specs(s)
    log(f'building {len(specs)} cases (arch {s.arch}, {s.batch}x3x{s.height}x{s.width}, '
        f'{s.device}, {s.threads} threads)')
    shared = build_same_weights(s.arch)
    for model in shared.values():
        model.to(s.device)
    x = torch.randn(1, 3, 64, 64, device=s.device)
    diffs = max_abs_difference(shared, x)
    calls, first = {}, {}
    for spec in specs:
        key = f'{spec["group"]}: {spec["name"]}'
        if spec.get('copy_from'):  # same weights as our model of that config
            shared.setdefault(f"model:{spec['config']}",
                              shared.get(f"model:{spec['copy_from']}"))
        calls[key] = build_call(spec, shared)
        if spec.get('compile'):
            first[key] = first_call_seconds(calls[key])
    # the reference models were registered under the copied config's key; count those
    log('counting FLOPs')
    flops = {}
    for spec in specs:
        key = (spec['kind'], spec.get('arch'), spec.get('copy_from') or spec.get('config'),
               spec.get('size'), spec['batch'], spec.get('height'), spec.get('width'),
               bool(spec.get('train')))
        if key not in flops:
            count_spec = dict(spec, config=spec.get('copy_from') or spec.get('config'))
            flops[key] = _flops_of(count_spec, shared)
        spec['_flops_key'] = key
    log(f'timing: {s.warmup} warm-up and {s.repeats} interleaved rounds')
    times = time_interleaved(calls, s.device, s.warmup, s.repeats,
                             on_round=lambda i: (loads.append(load_average()),
                                                 log(f'  round {i + 1}/{s.repeats} done, '
                                                     f'load {format_load(loads[-1])}')))
    results = []
    for spec, (key, seconds) in zip(specs, times.items()):
        result = Result(spec=spec, seconds=median(seconds), all_seconds=seconds,
                        flops=flops[spec.pop('_flops_key')], first_call=first.get(key))
        if spec['group'] == 'backbone':
            result.max_diff = diffs.get(spec['impl'])
        results.append(result)
    if s.memory_groups:
        log('peak memory: one fresh process per case')
        for result in results:
            if result.spec['group'] in s.memory_groups:
                probe = {k: v for k, v in result.spec.items() if k != 'copy_from'}
                result.peak_bytes = peak_memory_in_subprocess(probe, s.threads)
    loads.append(load_average())
    return dict(settings=s, results=results, loads=loads, started=started,
                machine=machine_info(s.device))
