"""tools/install.sh's choice of CUDA compiler, stopped before the build (INSTALL_DRY_RUN=1): a
system toolkit is used only with an nvcc of torch's CUDA major version and the cuBLAS/cuSPARSE/
cuSOLVER headers that torch's own CUDA headers include (a compiler-only toolkit used to fail
minutes into the mmcv build)."""
import os
import subprocess
import sys

import pytest
import torch

from helpers import REPO

pytestmark = pytest.mark.skipif(torch.version.cuda is None, reason='a CPU-only torch build')
HEADERS = ('cuda_runtime.h', 'cublas_v2.h', 'cusparse.h', 'cusolverDn.h')


def fake_toolkit(root, release, headers=HEADERS):
    (root / 'bin').mkdir(parents=True)
    (root / 'include').mkdir()
    nvcc = root / 'bin' / 'nvcc'
    nvcc.write_text(f'#!/bin/sh\necho "Cuda compilation tools, release {release}, V{release}.88"\n')
    nvcc.chmod(0o755)
    for header in headers:
        (root / 'include' / header).touch()
    return root


def dry_run(cuda_home) -> str:
    env = dict(os.environ, FORCE_CUDA='1', INSTALL_DRY_RUN='1', CUDA_HOME=str(cuda_home),
               VENV=sys.prefix, TORCH_VERSION='installed', PIP_NO_INDEX='1')
    result = subprocess.run(['bash', 'tools/install.sh'], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


def test_matching_system_toolkit_is_used(tmp_path):
    toolkit = fake_toolkit(tmp_path / 'cuda', torch.version.cuda)
    log = dry_run(toolkit)
    assert f'(system, CUDA_HOME={toolkit})' in log, log[-2000:]
    assert 'dry run: mmcv wheel' in log and f'-cu{torch.version.cuda.replace(".", "")}-sm80_90' in log


def test_toolkit_of_another_major_version_is_not_used(tmp_path):
    major = int(torch.version.cuda.split('.')[0])
    toolkit = fake_toolkit(tmp_path / 'cuda', f'{major - 1}.4')
    log = dry_run(toolkit)
    assert f'note: {toolkit}/bin/nvcc is CUDA {major - 1}.4, torch' in log, log[-2000:]
    assert f'CUDA_HOME={toolkit})' not in log


def test_compiler_only_toolkit_is_not_used(tmp_path):
    toolkit = fake_toolkit(tmp_path / 'cuda', torch.version.cuda, headers=HEADERS[:2])
    log = dry_run(toolkit)
    assert (f'note: {toolkit} (CUDA {torch.version.cuda}) lacks cusparse.h cusolverDn.h '
            "(torch's CUDA headers include them): not used") in log, log[-2000:]
    assert f'CUDA_HOME={toolkit})' not in log
