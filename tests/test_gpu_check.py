"""benchmarks/gpu_check.py --cpu-dry-run: the GPU check's code path (synthetic data, MMEngine's Runner
on both real configs under the AMP wrapper, the table, benchmark.py) on the CPU with ConvNeXt-atto
and small images; on a GPU the same code runs the full-size configs in fp16 and bf16."""
import re

import pytest

from helpers import run_tool

pytestmark = pytest.mark.slow


def test_cpu_dry_run_trains_both_configs_with_finite_losses():
    result = run_tool('benchmarks/gpu_check.py', '--cpu-dry-run', timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    rows = re.findall(r'^\| (\S+\.py) \| (\w+) \| ([\d.]+) \| ([\d.]+) \| - \| (\w+) \|$',
                      result.stdout, re.M)
    assert {row[0] for row in rows} == {'mask_rcnn_convnext_t_fpn_1x_coco.py',
                                        'upernet_convnext_t_ade20k.py'}, result.stdout
    for config, dtype, s_per_iter, images_per_s, finite in rows:
        assert dtype in ('bfloat16', 'float32')  # the CPU AMP wrapper's choice
        assert float(s_per_iter) > 0 and finite == 'yes', (config, dtype)
        assert abs(float(images_per_s) - 2 / float(s_per_iter)) < 0.1  # batch 2
    assert '## Whole model in tensor mode' in result.stdout  # benchmark.py ran
    assert 'failed' not in result.stdout
