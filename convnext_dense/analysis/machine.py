"""What a benchmark ran on: CPU model, cores, torch version, threads, load average, GPU."""
import os
import platform
from typing import Dict, Tuple

import torch


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def load_average() -> Tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float('nan'),) * 3


def machine_info(device: str) -> Dict[str, str]:
    info = {
        'CPU': cpu_model(),
        'logical cores': str(os.cpu_count()),
        'torch': torch.__version__,
        'torch threads': str(torch.get_num_threads()),
        'device': device,
    }
    if device.startswith('cuda') and torch.cuda.is_available():
        info['GPU'] = torch.cuda.get_device_name(torch.device(device))
    return info


def format_load(load: Tuple[float, float, float]) -> str:
    return '{:.2f} / {:.2f} / {:.2f}'.format(*load)
