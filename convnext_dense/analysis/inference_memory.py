"""Resident memory over many consecutive inferences with one model (a leak check).

A service that keeps one model and predicts image after image must not grow: this runs the
same predictor as ``tools/infer.py`` N times and samples the process's resident set size.
"""
import os
import tempfile
from dataclasses import dataclass
from typing import List, Tuple


def resident_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS in /proc/self/status')


@dataclass
class MemoryTrace:
    samples: List[Tuple[int, float]]  # (inferences done, RSS MiB)
    warmup: int

    @property
    def growth_mib(self) -> float:
        """RSS growth after warm-up: the lowest RSS of the later half of the samples minus
        the lowest of the earlier half. A leak raises the floor; the allocator's transient
        bumps (tens of MiB that come and go) do not."""
        after_warmup = [rss for n, rss in self.samples if n >= self.warmup]
        half = max(1, len(after_warmup) // 2)
        return min(after_warmup[half:] or after_warmup) - min(after_warmup[:half])

    def table(self) -> str:
        rows = ['| inferences | RSS (MiB) |', '|---:|---:|']
        rows += [f'| {n} | {rss:.1f} |' for n, rss in self.samples]
        return '\n'.join(rows)


def trace_inference_memory(config: str, checkpoint: str, image: str, repeats: int = 200,
                           warmup: int = 20, every: int = 20, device: str = 'cpu') -> MemoryTrace:
    """Run ``repeats`` tools/infer.py-style predictions of ``image`` (pictures and JSON
    written each time) with one model and sample RSS every ``every`` inferences."""
    import convnext_dense  # noqa: F401
    from mmengine.config import Config
    from ..apis.infer import DetectionPredictor, SegmentationPredictor
    if Config.fromfile(config).get('default_scope') == 'mmdet':
        predictor = DetectionPredictor(config, checkpoint, device, score_thr=0.3)
    else:
        predictor = SegmentationPredictor(config, checkpoint, device)
    samples = []
    with tempfile.TemporaryDirectory() as out_dir:
        for i in range(1, repeats + 1):
            predictor(image, out_dir)
            if i == warmup or i % every == 0 or i == repeats:
                samples.append((i, resident_mib()))
    return MemoryTrace(sorted(set(samples)), warmup)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--repeats', type=int, default=200)
    parser.add_argument('--warmup', type=int, default=20)
    args = parser.parse_args()
    trace = trace_inference_memory(args.config, args.checkpoint, args.image, args.repeats,
                                   args.warmup)
    print(trace.table())
    print(f'\nRSS growth after {args.warmup} warm-up inferences: {trace.growth_mib:+.1f} MiB '
          f'over {args.repeats - args.warmup} inferences (pid {os.getpid()})')


if __name__ == '__main__':
    main()
