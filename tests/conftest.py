import os

import pytest
import torch

from helpers import REPO

# two test processes (make test: pytest -n 2) share the 2 cores: one math thread each
torch.set_num_threads(1 if os.environ.get('PYTEST_XDIST_WORKER') else
                      max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def repo_root() -> str:
    return REPO
