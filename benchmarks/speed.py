#!/usr/bin/env python
"""Time the ConvNeXt backbone beside timm's and mmpretrain's, a whole detector or segmentor,
and a backbone training step with and without with_cp (and its peak memory).

    python benchmarks/speed.py [--quick] [--device cuda] [--out FILE.md]

Times: medians of torch.utils.benchmark's blocked_autorange over --rounds interleaved rounds,
divided by the first row's ("ours") in each table. Shared machines are noisy: compare ratios
within one run. Targets and past results are in benchmarks/README.md.
"""
import argparse
import copy
import datetime
import os
import platform
import subprocess
import sys
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.utils.benchmark as tbench

from convnext_dense import ConvNeXt, convert_to_official
from convnext_dense.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tools'), os.path.join(REPO, 'tools', 'analysis')]
from cli_helpers import read_config, user_errors  # noqa: E402
from get_flops import build_model, data_samples  # noqa: E402  (get_flops.py's model building)

Case = Tuple[str, Callable[[], object]]


def inference(call: Callable, x: torch.Tensor) -> Callable[[], object]:
    def run():
        with torch.inference_mode():
            return call(x)
    return run


def backbone_cases(args, x: torch.Tensor) -> Tuple[List[Case], List[str]]:
    """Ours, timm's and (if installed) mmpretrain's ConvNeXt with the same random weights,
    and the largest difference of each one's outputs from ours."""
    import timm
    torch.manual_seed(0)
    timm_model = timm.create_model(f'convnext_{args.arch}', num_classes=0)
    for param in timm_model.parameters():  # weights far from the init, so that diffs show
        param.data.normal_(0, 0.05)
    ours = ConvNeXt(args.arch)  # its output norms norm0..3 are not in timm's model
    ours.load_state_dict(convert_to_official(timm_model.state_dict())[0], strict=False)
    models = {'ours': ours, 'timm': timm_model}
    try:
        from mmpretrain.models import ConvNeXt as MMPretrainConvNeXt
        models['mmpretrain'] = MMPretrainConvNeXt(
            dict(depths=list(ours.depths), channels=list(ours.dims)), gap_before_final_norm=False,
            out_indices=(0, 1, 2, 3))
        # mmpretrain names three layers of a block differently; every other key is ours
        models['mmpretrain'].load_state_dict({
            k.replace('dwconv', 'depthwise_conv').replace('pwconv', 'pointwise_conv'): v
            for k, v in ours.state_dict().items()})
    except ImportError:
        print('mmpretrain is not installed: no mmpretrain row (it needs a venv without '
              'transformers: VENV=.venv-bench EXTRAS=bench bash tools/install.sh)', file=sys.stderr)
    for model in models.values():
        model.to(args.device).eval()  # not chained: mmpretrain's train() returns None
    calls = dict(models)
    # the stage outputs timm's features_only returns
    calls['timm'] = lambda x: timm_model.forward_intermediates(x, intermediates_only=True)
    # timm in channels-last (weights and input), faster than NCHW on some CPUs (AMX)
    timm_cl = copy.deepcopy(timm_model).to(memory_format=torch.channels_last)
    calls['timm channels-last'] = lambda x: timm_cl.forward_intermediates(
        x.contiguous(memory_format=torch.channels_last), intermediates_only=True)
    with torch.inference_mode():
        # ours normalises each stage output, timm does not: compare after our norms
        outputs = {name: call(x) for name, call in calls.items()}
        for name in ('timm', 'timm channels-last'):
            outputs[name] = [getattr(ours, f'norm{i}')(y) for i, y in enumerate(outputs[name])]
        diffs = [max((a - b).abs().max().item() for a, b in zip(outs, outputs['ours']))
                 for outs in outputs.values()]
    cases = [(f'{name} ConvNeXt-{args.arch}', inference(call, x)) for name, call in calls.items()]
    return cases, [f'{diff:.1e}' for diff in diffs]


def whole_model_case(args, x: torch.Tensor) -> Case:
    cfg = read_config(args.config)
    torch.manual_seed(0)
    model = build_model(cfg).to(args.device)
    samples = data_samples(cfg.default_scope, x.shape[3], x.shape[2], x.shape[0])
    return 'ours', inference(lambda x: model._forward(x, samples), x)


def training_step(args, with_cp: bool) -> Callable[[], None]:
    model = ConvNeXt(args.arch, with_cp=with_cp).to(args.device).train()
    x = torch.randn(args.batch, 3, args.size[1], args.size[0], device=args.device)

    def step():
        sum(out.mean() for out in model(x)).backward()
        model.zero_grad(set_to_none=True)
    return step


def step_peak_mib(args, with_cp: bool) -> float:
    """Memory one training step adds at its peak, in a fresh process: on CPU the peak of the
    resident set, which freed memory that the allocator keeps would hide in a used one."""
    command = [sys.executable, __file__, '--peak-of-step', str(int(with_cp)), '--arch',
               args.arch, '--batch', str(args.batch), '--device', args.device,
               '--size', *map(str, args.size)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def peak_of_step(args, with_cp: bool) -> float:
    step = training_step(args, with_cp)
    if args.device == 'cuda':
        before = torch.cuda.memory_allocated()
        step()
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    with open('/proc/self/clear_refs', 'w') as f:  # peak RSS := RSS: imports do not count
        f.write('5')
    before = status_kib('VmRSS')
    step()
    return (status_kib('VmHWM') - before) / 1024


def table(title: str, cases: List[Case], args, extra_name: str = '',
          extra: Sequence[str] = ()) -> str:
    # rounds of A B C ...: a burst of load on the machine then hits every case alike
    rounds: Dict[str, list] = {name: [] for name, _ in cases}
    for _ in range(args.rounds):
        for name, call in cases:
            timer = tbench.Timer('call()', globals={'call': call}, label=name,
                                 num_threads=args.threads)
            rounds[name].append(timer.blocked_autorange(min_run_time=args.min_run_time))
    times = [tbench.Measurement.merge(rounds[name])[0] for name, _ in cases]
    header = ['case', 'median (ms)', 'IQR (ms)', 'time / ours'] + [extra_name] * bool(extra)
    lines = [f'## {title}', '', '| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for i, ((name, _), m) in enumerate(zip(cases, times)):
        cells = [name, f'{1e3 * m.median:.1f}', f'{1e3 * m.iqr:.1f}',
                 f'{m.median / times[0].median:.2f}'] + list(extra[i:i + 1])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def machine(device: str) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    with open('/proc/cpuinfo') as f:
        return next((line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')), platform.machine())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='tiny', help='backbone arch (also trained)')
    parser.add_argument('--size', nargs=2, type=int, default=[1216, 800], metavar=('W', 'H'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--config', default='configs/mask_rcnn_convnext_t_fpn_3x_coco.py',
                        help='the detector or segmentor to time whole')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--min-run-time', type=float, default=2.0, help='seconds per round')
    parser.add_argument('--quick', action='store_true', help='atto, 160x128, demo config')
    parser.add_argument('--out', help='also write the markdown to this file')
    parser.add_argument('--peak-of-step', type=int, choices=[0, 1], help=argparse.SUPPRESS)
    parser.add_argument('--debug', action='store_true', help='show full tracebacks')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.peak_of_step is not None:  # the fresh process of step_peak_mib
        print(peak_of_step(args, bool(args.peak_of_step)))
        return
    if args.quick:
        args.arch, args.size, args.rounds, args.min_run_time = 'atto', [160, 128], 1, 0.2
        args.config = 'configs/demo/mask_rcnn_convnext_atto_synthetic.py'
    with user_errors(args.debug):
        if args.device == 'cuda' and not torch.cuda.is_available():
            raise UserError('--device cuda, but torch sees no GPU; use --device cpu')
        shape = f'{args.batch}x3x{args.size[1]}x{args.size[0]}'
        x = torch.randn(args.batch, 3, args.size[1], args.size[0], device=args.device)
        backbones, diffs = backbone_cases(args, x)
        steps = [(f'with_cp={cp}', training_step(args, cp)) for cp in (False, True)]
        peaks = [f'{step_peak_mib(args, cp):.0f}' for cp in (False, True)]
        report = '\n'.join([
            f'# Benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}', '',
            f'- {machine(args.device)}, {os.cpu_count()} logical cores, torch {torch.__version__}'
            f', {args.threads} threads, fp32; load average '
            '{:.2f} / {:.2f} / {:.2f}'.format(*os.getloadavg()),
            f'- `benchmarks/speed.py {" ".join(sys.argv[1:])}`', '',
            table(f'Backbone inference, {shape}, same weights', backbones, args,
                  'max abs diff vs ours', diffs), '',
            table(f'Whole model in tensor mode: {args.config}, {shape}',
                  [whole_model_case(args, x)], args), '',
            table(f'Backbone training step (forward + backward), {shape}', steps, args,
                  'peak memory of a step (MiB)', peaks), ''])
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)


if __name__ == '__main__':
    main()
