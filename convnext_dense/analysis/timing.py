"""Timing and peak memory of benchmark cases.

The machine this project runs on is shared, so timings drift with other people's load.
Cases are therefore timed *interleaved* (A B C A B C ...) after a warm-up of each, and the
median per case is reported: a burst of load hits every case alike instead of one of them.

Peak memory is measured in a fresh process per case (``python -m
convnext_dense.analysis.memory_probe``): on CPU the high-water mark of the resident set
(``VmHWM``, reset just before the call) minus the resident set before it, on GPU
``torch.cuda.max_memory_allocated`` minus the memory allocated before it. A fresh process
is needed on CPU because the high-water mark of a process never goes down.
"""
import json
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import torch


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def time_interleaved(cases: Dict[str, Callable[[], object]], device: str, warmup: int,
                     repeats: int, on_round: Optional[Callable[[int], None]] = None
                     ) -> Dict[str, List[float]]:
    """Seconds per call of every case, ``repeats`` rounds of A B C ... after warm-up."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    synchronize(device)
    times = {name: [] for name in cases}
    for round_index in range(repeats):
        for name, fn in cases.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
        if on_round:
            on_round(round_index)
    return times


def median(values: List[float]) -> float:
    return statistics.median(values) if values else float('nan')


def current_rss_bytes() -> int:
    """Resident set size now (Linux ``/proc/self/statm``)."""
    import resource
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize()


def _status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise OSError(f'{field} not in /proc/self/status')


def reset_peak_rss() -> bool:
    """Reset the process's resident-set high-water mark (Linux >= 4.0: ``5`` into
    ``/proc/self/clear_refs``), so that importing and building do not hide the peak of
    the measured call. False where that is not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """High-water mark of the resident set (since the last :func:`reset_peak_rss`)."""
    try:
        return _status_kib('VmHWM') * 1024
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def measure_peak_memory(fn: Callable[[], object], device: str) -> int:
    """Bytes the call ``fn()`` needs at its peak beyond what was allocated before it.

    Run it in a process that has done nothing but build the case (see module docstring)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    reset_peak_rss()
    before = current_rss_bytes()
    fn()
    return max(0, peak_rss_bytes() - before)


def peak_memory_in_subprocess(spec: dict, threads: int, timeout: float = 900) -> Optional[int]:
    """Peak memory of one case (described by a JSON-able ``spec``) in a fresh process;
    None if that process failed (its error is printed)."""
    cmd = [sys.executable, '-m', 'convnext_dense.analysis.memory_probe', json.dumps(spec),
           '--threads', str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('{'):
            return json.loads(line)['peak_bytes']
    tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
    print(f'memory probe for {spec.get("name")} failed: {tail}', file=sys.stderr)
    return None
