"""Peak memory of one benchmark case, in a process of its own (see timing.py for why).

    python -m convnext_dense.analysis.memory_probe '<spec as JSON>' [--threads N]

Prints one JSON line ``{"peak_bytes": N}``.
"""
import argparse
import json
import warnings

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('spec')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(args.threads)
    import convnext_dense  # noqa: F401  (registers the backbone, safe loading)
    from .cases import build_call
    from .timing import measure_peak_memory
    spec = json.loads(args.spec)
    call = build_call(spec)
    if spec.get('compile'):
        call()  # compile first: the compiler's own memory is not the model's
    print(json.dumps({'peak_bytes': measure_peak_memory(call, spec['device'])}))


if __name__ == '__main__':
    main()
