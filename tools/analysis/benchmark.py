"""Inference throughput, latency and peak memory of the ConvNeXt backbone (beside timm's and
mmpretrain's with the same weights) and of whole detectors/segmentors; training-step time
and memory with and without with_cp. Writes a markdown table to benchmarks/.

    python tools/analysis/benchmark.py                       # CPU, tiny, 1x3x800x1216
    python tools/analysis/benchmark.py --quick               # seconds: atto, demo configs
    python tools/analysis/benchmark.py --device cuda --batch 8 --compile
"""
import argparse
import os
import os.path as osp
import sys
import warnings

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import torch  # noqa: E402

import convnext_dense  # noqa: E402,F401
from convnext_dense.analysis.benchmark import Settings, quick_settings, run  # noqa: E402
from convnext_dense.analysis.report import markdown  # noqa: E402
from convnext_dense.apis.common import user_errors  # noqa: E402
from convnext_dense.errors import UserError  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='tiny settings for tests')
    p.add_argument('--arch', help='backbone arch (default tiny; quick: atto)')
    p.add_argument('--batch', type=int)
    p.add_argument('--size', nargs=2, type=int, metavar=('W', 'H'),
                   help='backbone and detector input (default 1216 800)')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    p.add_argument('--threads', type=int, help='torch CPU threads (default: all cores)')
    p.add_argument('--repeats', type=int, help='interleaved timing rounds (default 5)')
    p.add_argument('--warmup', type=int)
    p.add_argument('--compile', action='store_true', help='also time ours under torch.compile')
    p.add_argument('--no-channels-last', action='store_true')
    p.add_argument('--no-detector', action='store_true')
    p.add_argument('--no-segmentor', action='store_true')
    p.add_argument('--no-train', action='store_true', help='skip the with_cp training pair')
    p.add_argument('--no-memory', action='store_true', help='skip the peak-memory processes')
    p.add_argument('--train-size', type=int, help='training-step input side (default 512)')
    p.add_argument('--train-batch', type=int)
    p.add_argument('--out', help='markdown file (default benchmarks/<device>_<arch>_<W>x<H>.md)')
    p.add_argument('--debug', action='store_true')
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    with user_errors(args.debug):
        if args.device.startswith('cuda') and not torch.cuda.is_available():
            raise UserError(f'--device {args.device} asked for a GPU but torch sees none; '
                            f'use --device cpu')
        s = quick_settings() if args.quick else Settings()
        s.device = args.device
        s.threads = args.threads or os.cpu_count() or 1
        for name, value in [('arch', args.arch), ('batch', args.batch), ('repeats', args.repeats),
                            ('warmup', args.warmup), ('train_size', args.train_size),
                            ('train_batch', args.train_batch)]:
            if value is not None:
                setattr(s, name, value)
        if args.size:
            s.width, s.height = args.size
        s.compile = args.compile
        s.channels_last = not args.no_channels_last
        if args.no_detector:
            s.detector = None
        if args.no_segmentor:
            s.segmentor = None
        if args.no_train:
            s.train = False
        if args.no_memory:
            s.memory_groups = ()
        report = markdown(run(s, log=lambda msg: print(msg, flush=True)))
        out = args.out or osp.join(REPO, 'benchmarks',
                                   f'{s.device.replace(":", "")}_{s.arch}_{s.width}x{s.height}'
                                   f'{"_quick" if args.quick else ""}.md')
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            f.write(report)
        print(report)
        print(f'written to {out}')


if __name__ == '__main__':
    main()
