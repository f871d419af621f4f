"""The benchmark's markdown: machine, load, one table per group, and the targets."""
from typing import Dict, List, Optional

from .machine import format_load

GROUP_TITLES = {
    'reference': 'Machine reference: fp32 matrix product',
    'backbone': 'Backbone inference (same weights, same input)',
    'detector': 'Whole detector, tensor mode (backbone, neck, RPN, RoI heads; '
                'no post-processing), same weights',
    'segmentor': 'Whole segmentor, tensor mode (backbone and decode head, one window), '
                 'same weights',
    'train': 'Backbone training step (forward + backward)',
}


def _mib(n: Optional[int]) -> str:
    return '-' if n is None else f'{n / 2 ** 20:.0f}'


def _ratio(a: float, b: float) -> str:
    return f'{a / b:.2f}' if b else '-'


def achieved_fraction(result, matmul_rate: float) -> Optional[float]:
    if not result.flops or not matmul_rate:
        return None
    return result.flops / result.seconds / matmul_rate


def _shape(spec: dict) -> str:
    if spec['kind'] == 'matmul':
        return f"{spec['size']}x{spec['size']}"
    return f"{spec['batch']}x3x{spec['height']}x{spec['width']}"


def group_table(results: List, matmul_rate: float) -> str:
    reference = results[0].seconds
    lines = ['| case | input | median s | images/s | time / first row | GFLOP/s (1 FLOP = 1 '
             'multiply-add) | of matmul rate | peak memory (MiB) | max abs diff vs ours | '
             'all runs (s) |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in results:
        spec = r.spec
        rate = r.flops / r.seconds / 1e9 if r.flops else None
        frac = achieved_fraction(r, matmul_rate)
        name = spec['name'] + (f' (compile {r.first_call:.0f} s)' if r.first_call else '')
        lines.append(
            f"| {name} | {_shape(spec)} | {r.seconds:.3f} "
            f"| {spec['batch'] / r.seconds:.2f} | {_ratio(r.seconds, reference)} "
            f"| {'-' if rate is None else f'{rate:.1f}'} "
            f"| {'-' if frac is None else f'{100 * frac:.0f}%'} | {_mib(r.peak_bytes)} "
            f"| {'-' if r.max_diff is None else f'{r.max_diff:.1e}'} "
            f"| {' '.join(f'{t:.3f}' for t in r.all_seconds)} |")
    return '\n'.join(lines)


def _find(results, group, name_start) -> Optional[object]:
    for r in results:
        if r.spec['group'] == group and r.spec['name'].startswith(name_start):
            return r
    return None


def targets(results: List, matmul_rate: float) -> List[str]:
    """The project's speed targets, each with its measured value and a verdict."""
    lines = []
    ours = [r for r in results if r.spec['group'] == 'backbone' and r.spec['impl'] == 'ours'
            and not r.spec.get('compile')]
    if ours:
        best_ours = min(ours, key=lambda r: r.seconds)
        default = _find(results, 'backbone', 'ours NCHW')
        for impl in ('timm', 'mmpretrain'):
            theirs = [r for r in results if r.spec['group'] == 'backbone'
                      and r.spec['impl'] == impl]
            if theirs and default:
                best = min(theirs, key=lambda r: r.seconds)
                ratio = best.seconds / default.seconds
                lines.append(f"- ours (default, NCHW) {default.seconds:.3f} s vs {impl}'s "
                             f"fastest ({best.spec['name']}) {best.seconds:.3f} s: ours is "
                             f"{ratio:.2f}x as fast -> "
                             f"{'met' if ratio >= 1.0 else 'NOT met'}")
        frac = achieved_fraction(best_ours, matmul_rate)
        if frac is not None:
            lines.append(f'- achieved compute of ours ({best_ours.spec["name"]}): '
                         f'{100 * frac:.0f}% of the measured matmul rate (aim 60%) -> '
                         f"{'met' if frac >= 0.6 else 'NOT met'}")
    compiled = _find(results, 'backbone', 'ours NCHW torch.compile')
    if compiled and ours:
        frac = achieved_fraction(compiled, matmul_rate)
        lines.append(f'- ours under torch.compile: {compiled.seconds:.3f} s '
                     f'({_find(results, "backbone", "ours NCHW").seconds / compiled.seconds:.2f}x '
                     f'eager NCHW), {100 * frac:.0f}% of the matmul rate; compiling took '
                     f'{compiled.first_call:.0f} s')
    plain, cp = _find(results, 'train', 'ours, with_cp=False'), _find(results, 'train', 'ours, with_cp=True')
    if plain and cp:
        line = (f'- training step {plain.spec["arch"]} {_shape(plain.spec)}: with_cp '
                f'{cp.seconds:.3f} s vs {plain.seconds:.3f} s ({cp.seconds / plain.seconds:.2f}x time)')
        if plain.peak_bytes and cp.peak_bytes:
            cut = 1 - cp.peak_bytes / plain.peak_bytes
            line += (f', peak memory {_mib(cp.peak_bytes)} vs {_mib(plain.peak_bytes)} MiB: '
                     f'{100 * cut:.0f}% less (target >= 40%) -> '
                     f"{'met' if cut >= 0.4 else 'NOT met'}")
        lines.append(line)
    det = [r for r in results if r.spec['group'] == 'detector']
    if len(det) == 2:
        ratio = det[1].seconds / det[0].seconds
        lines.append(f'- whole Mask R-CNN: ours {det[0].seconds:.3f} s vs {det[1].spec["name"]} '
                     f'{det[1].seconds:.3f} s: ours is {ratio:.2f}x as fast -> '
                     f"{'met' if ratio >= 1.0 else 'NOT met'} (no slower)")
    return lines


def markdown(run: Dict) -> str:
    s, results, loads = run['settings'], run['results'], run['loads']
    matmul = _find(results, 'reference', 'matmul')
    matmul_rate = matmul.flops / matmul.seconds if matmul else 0.0
    machine = '\n'.join(f'- {k}: {v}' for k, v in run['machine'].items())
    one_minute = [load[0] for load in loads]
    out = [f"# Benchmark, {run['started']:%Y-%m-%d %H:%M}", '', machine,
           f'- load average (1/5/15 min) at start {format_load(loads[0])}, at end '
           f'{format_load(loads[-1])}; 1-minute load during the rounds: '
           f'min {min(one_minute):.2f}, max {max(one_minute):.2f}',
           f'- {s.warmup} warm-up call(s) per case, then {s.repeats} interleaved rounds '
           f'(A B C ... A B C); medians reported. fp32.',
           f'- matmul rate: {matmul_rate / 1e9:.1f} G multiply-adds/s '
           f'= {2 * matmul_rate / 1e9:.1f} GFLOP/s counting multiply and add separately',
           '', '## Targets', ''] + targets(results, matmul_rate)
    for group, title in GROUP_TITLES.items():
        rows = [r for r in results if r.spec['group'] == group]
        if rows:
            out += ['', f'## {title}', '', group_table(rows, matmul_rate)]
    return '\n'.join(out) + '\n'
