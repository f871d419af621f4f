"""Many inferences with one model keep resident memory flat (no leak per image)."""
import os.path as osp
import resource
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from helpers import REPO, SEG_DEMO


def resident_mib() -> float:
    """This process's resident set size now (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc/self/statm')
def test_resident_memory_flat_over_repeated_inference(tmp_path):
    from mmseg.apis import inference_model, init_model
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, SEG_DEMO))
    cfg.model.backbone.init_cfg = None  # the demo's pretraining checkpoint is not needed
    init_default_scope('mmseg')
    torch.manual_seed(0)
    meta = dict(classes=cfg.metainfo['classes'], palette=cfg.metainfo['palette'])
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict(),
                'meta': {'dataset_meta': meta}}, tmp_path / 'model.pth')
    model = init_model(cfg, str(tmp_path / 'model.pth'), device='cpu')
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'scene.png'), image)

    samples = []  # RSS after every 10 inferences, after 10 to warm the allocator up
    for i in range(1, 71):
        result = inference_model(model, str(tmp_path / 'scene.png'))
        if i % 10 == 0:
            samples.append(resident_mib())
    assert result.pred_sem_seg.data.shape == (1, 96, 128)
    # a leak raises the floor of the later samples; the allocator's transient bumps (some
    # MiB that come and go) do not. The floors are 30 inferences apart: a leak of 150 KiB
    # per inference shows as 4.4 MiB.
    earlier, later = samples[1:4], samples[4:]
    assert min(later) - min(earlier) < 4.0, samples
