"""Export to ONNX with PyTorch's exporter (``torch.export`` + ``torch.onnx``; the ``export``
extra), and exported files opened with onnxruntime and checked against their config."""
import json
import os.path as osp
import re
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError, one_line

METADATA_KEY = 'convnext_dense'


def pool_matrix(size, bins: int, like: Tensor) -> Tensor:
    """(bins, size) averaging weights of adaptive pooling: bin i spans
    ``[floor(i * size / bins), ceil((i + 1) * size / bins))``."""
    i = torch.arange(bins, device=like.device)[:, None]
    start, end = (i * size) // bins, ((i + 1) * size + bins - 1) // bins
    pos = torch.arange(size, device=like.device)[None]
    weights = ((pos >= start) & (pos < end)).to(like.dtype)
    return weights / weights.sum(dim=1, keepdim=True)


class AdaptiveAvgPool2dByShape(nn.Module):
    """``nn.AdaptiveAvgPool2d`` as two matrix products whose bins follow the input's size.
    ONNX has no adaptive pooling, and torch's decomposition fixes the bins at the size the
    graph was traced with (a pyramid pooling module then fails on other sizes)."""

    def __init__(self, output_size):
        super().__init__()
        size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        self.bins = tuple(size)

    def forward(self, x: Tensor) -> Tensor:
        rows = pool_matrix(x.shape[-2], self.bins[0], x)
        cols = pool_matrix(x.shape[-1], self.bins[1], x)
        return rows @ x @ cols.T


def replace_adaptive_pools(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.AdaptiveAvgPool2d):
            setattr(module, name, AdaptiveAvgPool2dByShape(child.output_size))
        else:
            replace_adaptive_pools(child)


def pad_to_divisor(image: Tensor, d: int) -> Tensor:
    """Zero rows and columns at the bottom and right up to multiples of ``d``, as mmdet's
    data preprocessor pads (written so that torch.export sees d * ceil(h / d))."""
    h, w = image.shape[-2:]
    return F.pad(image, (0, (w + d - 1) // d * d - w, 0, (h + d - 1) // d * d - h))


def failing_module(exc: BaseException, graph: nn.Module) -> str:
    """The innermost module of ``graph`` whose ``forward`` is on the exception's traceback."""
    names = {id(m): n for n, m in graph.named_modules()}
    found, tb = '', exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get('self')
        if id(owner) in names and names[id(owner)]:
            found = f'{names[id(owner)].removeprefix("detector.").removeprefix("segmentor.")} ' \
                    f'({type(owner).__name__})'
        tb = tb.tb_next
    return found


def untranslated_node(exc: BaseException, program) -> str:
    """The op the ONNX translation stopped at and the module it belongs to."""
    message = str(exc)
    for node in program.graph.nodes:
        parts = str(node.target).split('.')  # e.g. aten.grid_sampler_2d.default
        if node.op == 'call_function' and len(parts) > 1 and \
                re.search(rf'\b{re.escape(parts[1])}\b', message):
            path, kind = (list(node.meta.get('nn_module_stack', {}).values()) or [('', '')])[-1]
            kind = getattr(kind, '__name__', str(kind)).rsplit('.', 1)[-1]
            module = f'{path} ({kind})' if path else 'the model'
            return f'op {node.target} in {module}'
    return 'an op'


def export_onnx(graph: nn.Module, example: Tensor, path: str, metadata: Dict,
                output_names: Sequence[str], dynamic: bool = True, opset: int = None) -> None:
    """Trace ``graph(example)`` with ``torch.export`` (height and width symbolic unless
    ``dynamic`` is off), translate it to ONNX and save it with ``metadata``. Whatever cannot
    be exported becomes one UserError naming the module."""
    graph.eval()
    shapes = {'image': {2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}} if dynamic else None
    try:
        with torch.no_grad():
            program = torch.export.export(graph, (example,), dynamic_shapes=shapes, strict=False)
    except UserError:
        raise
    except Exception as exc:
        where = failing_module(exc, graph) or 'the model'
        raise UserError(f'cannot export {where}: {one_line(exc)[:300]}; it has no ONNX '
                        f'counterpart here (replace it in the config or export without it)') from exc
    try:
        onnx_program = torch.onnx.export(program, (example,), input_names=['image'],
                                         output_names=list(output_names), opset_version=opset,
                                         dynamo=True, verbose=False)
    except Exception as exc:
        raise UserError(f'cannot translate {untranslated_node(exc, program)} to ONNX: '
                        f'{one_line(exc)[:300]}') from exc
    onnx_program.model.metadata_props[METADATA_KEY] = json.dumps(metadata)
    onnx_program.save(path)


class OnnxModelFile:
    """An exported file opened by onnxruntime (CPU), refused unless it was exported for the
    task and classes the config names."""

    def __init__(self, path: str, task: str, classes: Sequence[str]):
        try:
            import onnxruntime
        except ImportError as exc:
            raise UserError('onnxruntime is not installed; run bash tools/install.sh (or pip '
                            'install "convnext-dense[export]")') from exc
        if not osp.isfile(path):
            raise UserError(f'{path} does not exist; write it with tools/export.py')
        try:
            self.session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
        except Exception as exc:
            raise UserError(f'{path} is not an ONNX model onnxruntime can load: '
                            f'{one_line(exc)[:200]}') from exc
        meta = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if meta is None:
            raise UserError(f'{path} was not written by tools/export.py (it has no '
                            f'{METADATA_KEY} metadata); export the checkpoint with it')
        self.metadata = json.loads(meta)
        if self.metadata['task'] != task:
            raise UserError(f"{path} is a {self.metadata['task']} model but the config is a "
                            f'{task} config; pass the config it was exported from')
        if list(self.metadata['classes']) != list(classes):
            raise UserError(f"{path} predicts {len(self.metadata['classes'])} classes "
                            f"({', '.join(self.metadata['classes'][:4])}, ...) but the config's "
                            f"dataset has {len(classes)} ({', '.join(list(classes)[:4])}, ...); "
                            f'pass the config it was exported from')
        self.input = self.session.get_inputs()[0].name

    def run(self, image: Tensor) -> List:
        return self.session.run(None, {self.input: image.detach().float().contiguous().numpy()})
