"""The FLOPs/params table of tools/analysis/get_flops.py: measured beside published."""
import glob
import os.path as osp
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from .complexity import Complexity, model_complexity
from .models import load_config
from .paper import PaperNumbers, paper_numbers

PARAMS_TOLERANCE = 0.01
FLOPS_TOLERANCE = 0.05


@dataclass
class FlopsRow:
    config: str
    measured: Complexity
    paper: Optional[PaperNumbers]

    @property
    def params_ratio(self) -> Optional[float]:
        return self.measured.params / 1e6 / self.paper.params_m if self.paper else None

    @property
    def flops_ratio(self) -> Optional[float]:
        return self.measured.flops / 1e9 / self.paper.gflops if self.paper else None

    @property
    def within_tolerance(self) -> Optional[bool]:
        if not self.paper:
            return None
        return (abs(self.params_ratio - 1) <= PARAMS_TOLERANCE
                and abs(self.flops_ratio - 1) <= FLOPS_TOLERANCE)


def default_configs(config_dir: str) -> List[str]:
    """Every model config directly in ``config_dir`` (not ``demo/`` or ``_base_/``)."""
    return sorted(p for p in glob.glob(osp.join(config_dir, '*.py')))


def measure(paths: Iterable[str], size: Optional[Tuple[int, int]] = None,
            shortcut: bool = True, on_row=None) -> List[FlopsRow]:
    rows = []
    for path in paths:
        name = osp.splitext(osp.basename(path))[0]
        row = FlopsRow(name, model_complexity(load_config(path), size, shortcut),
                       paper_numbers(name))
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def _fmt(value: Optional[float], pattern: str) -> str:
    return '-' if value is None else pattern.format(value)


HEADER = ('| config | input (WxH) | params (M) | paper | ratio | FLOPs (G) | paper | ratio '
          '| backbone FLOPs (G) | ok | time (s) |\n'
          '|---|---|---|---|---|---|---|---|---|---|---|')


def format_row(row: FlopsRow) -> str:
    m = row.measured
    paper_size_differs = row.paper and (row.paper.width, row.paper.height) != (m.width, m.height)
    ok = {None: '-', True: 'yes', False: 'NO'}[row.within_tolerance]
    if paper_size_differs:
        ok = 'other size'
    return (f'| {row.config} | {m.width}x{m.height} | {m.params / 1e6:.2f} '
            f'| {_fmt(row.paper and row.paper.params_m, "{:.0f}")} '
            f'| {_fmt(row.params_ratio, "{:.3f}")} | {m.flops / 1e9:.1f} '
            f'| {_fmt(row.paper and row.paper.gflops, "{:.0f}")} '
            f'| {_fmt(row.flops_ratio, "{:.3f}")} '
            f'| {m.flops_by_part.get("backbone", 0) / 1e9:.1f} | {ok} | {m.seconds:.0f} |')


def format_table(rows: List[FlopsRow]) -> str:
    return '\n'.join([HEADER] + [format_row(r) for r in rows])
