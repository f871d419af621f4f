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


NOTES = """\
How these were counted (tools/analysis/get_flops.py, convnext_dense/analysis/):
- counter: MMEngine's FlopAnalyzer (the analyzer of `mmengine.analysis.get_model_complexity_info`),
  one multiply-add = one FLOP, on the model's tensor-mode forward `model._forward(inputs,
  data_samples)` with random weights, SyncBN reverted to BN, eval mode, batch 1;
- detection at 1280x800 (1x3x800x1280): backbone, FPN, RPN (1000 proposals after NMS),
  RoI heads; the mask head runs on the first 100 RoIs. mmdet 3's own tensor mode runs each
  cascade stage's mask head on all 1000 proposals, which would give e.g. 2395G instead of
  965G for Cascade B; the paper's numbers come from mmdet 2's `forward_dummy` (100 RoIs),
  so cascades are counted that way here (`paper_convention=True`);
- segmentation at 2048x512 (2560x640 for the `_640` configs): the whole image in one pass
  ("whole" mode, not sliding windows), backbone and UperHead; the auxiliary FCN head is
  not run at test time and adds no FLOPs, but its parameters are counted (the paper's
  params include it);
- params: every parameter of the model as built (auxiliary head included, SyncBN as BN has
  the same parameters);
- the 27-block stage of S/B/L/XL is traced with 3 blocks and the other 24 are added as
  copies of a traced one (every block of a stage sees the same shapes, so this is exact;
  `--exact` traces all of them, tests check both agree).
"""


def format_table(rows: List[FlopsRow], notes: bool = False) -> str:
    table = '\n'.join([HEADER] + [format_row(r) for r in rows])
    return f'{table}\n\n{NOTES}' if notes else table
