import os

import pytest
import torch

from helpers import REPO

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def repo_root() -> str:
    return REPO
