"""Find the checkpoint to resume from, skipping files that were cut off mid-write.

MMEngine writes checkpoints in place with ``torch.save``; a process killed during the write
leaves a partial file that ``--resume`` would otherwise pick and crash on. torch's zip
format keeps its central directory at the end of the file, so a cut-off file fails to
open as a zip archive: a cheap, exact test.
"""
import glob
import os.path as osp
import re
from typing import List, Optional

from mmengine.logging import print_log

from ..checkpoint import is_cut_off_zip


def is_intact_checkpoint(path: str) -> bool:
    try:
        return osp.getsize(path) > 0 and not is_cut_off_zip(path)
    except OSError:
        return False


def _progress(path: str) -> int:
    match = re.search(r'(?:epoch|iter)_(\d+)\.pth$', path)
    return int(match[1]) if match else -1


def candidate_checkpoints(work_dir: str) -> List[str]:
    """Checkpoints in ``work_dir``, newest (highest epoch/iteration, then mtime) first."""
    paths = glob.glob(osp.join(work_dir, '*.pth'))
    return sorted(paths, key=lambda p: (_progress(p), osp.getmtime(p)), reverse=True)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    for path in candidate_checkpoints(work_dir):
        if is_intact_checkpoint(path):
            return path
        print_log(f'--resume: {path} is incomplete (the write was cut off); skipping it',
                  logger='current', level=30)
    return None
