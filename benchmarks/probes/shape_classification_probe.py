"""How many steps does a from-scratch network need to tell the synthetic shapes apart?

A diagnostic, not a test: it isolates the one skill the CPU demos need (class = shape) from
detection and segmentation. Single-object scenes from ``render_scene`` are classified by a
backbone + global average pool + linear layer, trained with AdamW (batch 32, 50 warm-up
steps, one math thread); validation accuracy on held-out scenes is printed every 50
steps (3000 training and 500 validation scenes by default). Results and what they mean:
``benchmarks/from_scratch_learning.md``.

    python benchmarks/probes/shape_classification_probe.py --model convnext --ls 1e-6 \
        --style "size_range=(0.5,0.8), clutter=(0,0), texture_contrast=0.0, max_rotation=0"
"""
import argparse
import ast
import os.path as osp
import sys
import time

import numpy as np
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # cpu_demo/
from cpu_demo.synthetic_data import SCENE_STYLES, SceneStyle, render_scene  # noqa: E402


def plain_cnn(stem_stride: int) -> nn.Sequential:
    """VGG-like BN/ReLU CNN; ``stem_stride=4`` replaces its first stage by a 4x4 patchify conv."""
    def stage(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2)]
    if stem_stride == 4:
        return nn.Sequential(nn.Conv2d(3, 64, 4, stride=4), nn.BatchNorm2d(64), nn.ReLU(),
                             *stage(64, 128), *stage(128, 128))
    return nn.Sequential(*stage(3, 32), *stage(32, 64), *stage(64, 128), *stage(128, 128))


def build(name: str, layer_scale: float) -> nn.Module:
    if name == 'convnext':
        body = timm.create_model('convnext_atto', num_classes=0, global_pool='',
                                 ls_init_value=layer_scale)
    elif name == 'resnet18':
        body = nn.Sequential(*list(torchvision.models.resnet18().children())[:-2])
    else:
        body = plain_cnn(4 if name == 'plain_s4' else 1)
    with torch.no_grad():
        dim = body(torch.zeros(1, 3, 64, 64)).shape[1]
    return nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(dim, 5))


def scenes(n: int, seed: int, size: int, style: SceneStyle):
    images, labels = [], []
    for i in range(n):
        img, objects = render_scene(np.random.default_rng([seed, i]), size, size,
                                    max_objects=1, style=style)
        images.append(img)
        labels.append(objects[0].label)
    x = torch.tensor(np.stack(images)).permute(0, 3, 1, 2).float()
    return (x - 127.) / 60., torch.tensor(labels)


def parse_style(text: str) -> SceneStyle:
    """A ``SCENE_STYLES`` name, or ``SceneStyle`` keyword arguments as literals
    (``"size_range=(0.5,0.8), max_rotation=0"``), read without evaluating code."""
    if text in SCENE_STYLES:
        return SCENE_STYLES[text]
    try:
        call = ast.parse(f'SceneStyle({text})', mode='eval').body
        if call.args:
            raise ValueError('not keyword=value')
        return SceneStyle(**{kw.arg: ast.literal_eval(kw.value) for kw in call.keywords})
    except (SyntaxError, ValueError, TypeError) as e:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected one of {", ".join(SCENE_STYLES)} or SceneStyle '
            f'keyword arguments such as "size_range=(0.5,0.8), max_rotation=0" ({e})')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='convnext', choices=['convnext', 'resnet18', 'plain',
                                                           'plain_s4'])
    p.add_argument('--ls', type=float, default=1e-6, help='ConvNeXt layer-scale init')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--iters', type=int, default=400)
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--num-train', type=int, default=3000)
    p.add_argument('--num-val', type=int, default=500)
    p.add_argument('--style', default='demo', type=parse_style,
                   help="a SCENE_STYLES name or SceneStyle keyword arguments")
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x_train, y_train = scenes(args.num_train, 1, args.size, args.style)
    x_val, y_val = scenes(args.num_val, 2, args.size, args.style)
    model = build(args.model, args.ls)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / 50))
    g = torch.Generator().manual_seed(0)
    start, running = time.time(), 0.0
    for it in range(args.iters):
        idx = torch.randint(0, len(x_train), (32,), generator=g)
        x = x_train[idx].flip(3) if it % 2 else x_train[idx]
        loss = F.cross_entropy(model(x), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = 0.9 * running + 0.1 * loss.item()
        if (it + 1) % 50 == 0:
            model.eval()
            with torch.no_grad():
                acc = (model(x_val).argmax(1) == y_val).float().mean().item()
            model.train()
            print(f'step {it + 1}: loss {running:.3f}  val acc {acc:.3f}  '
                  f'{time.time() - start:.0f} s', flush=True)


if __name__ == '__main__':
    main()
