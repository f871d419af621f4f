#!/usr/bin/env python
"""Convert a ConvNeXt(-V2) checkpoint or model directory of any layout (FAIR, FCMAE, timm,
transformers, open_clip, mmpretrain, a detector/segmentor) to an official-layout backbone
checkpoint; a transformers UperNetForSemanticSegmentation to an mmseg checkpoint for our UperNet
configs; with --to hf, our UperNet checkpoint to a transformers model directory.

    python tools/convert_checkpoint.py SRC DST [--to hf] [--trust-checkpoint]
"""
import argparse
import json
import os
import os.path as osp
import re
from typing import Optional, Tuple

import torch

from convnext_dense.archs import arch_name
from convnext_dense.checkpoint import CheckpointError, load_checkpoint_file, set_trust_checkpoints
from convnext_dense.checkpoint_layouts import (convert_to_official, infer_arch, is_v2,
                                               model_name, official_name, unwrap_state_dict,
                                               weights_file)
from cli_helpers import user_errors


def convert_checkpoint(src: str, dst: str, loaded: Optional[dict] = None) -> Tuple[str, str, int]:
    """Convert ``src`` (file or model directory, any layout; ``loaded``: it, read) to backbone
    weights at ``dst`` (.pth or .safetensors); returns (layout, model name, tensor count)."""
    try:
        state_dict, layout = convert_to_official(
            loaded or unwrap_state_dict(load_checkpoint_file(weights_file(src))))
    except ValueError as exc:
        raise CheckpointError(f'{src}: {exc}') from None
    state_dict = {k: v.contiguous() for k, v in state_dict.items() if torch.is_tensor(v)}
    arch, v2 = arch_name(*infer_arch(state_dict)), is_v2(state_dict)
    meta = {'layout': 'official', 'arch': arch, 'version': 'V2' if v2 else 'V1'}
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    if dst.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(state_dict, dst, metadata=meta)
        umask = os.umask(0)  # safetensors writes 0600; give it the mode torch.save would
        os.umask(umask)
        os.chmod(dst, 0o666 & ~umask)
    else:
        torch.save({'state_dict': state_dict, 'meta': dict(meta, source_layout=layout)}, dst)
    return layout, model_name(arch, v2), len(state_dict)


def ours_from_hf(key: str, value: torch.Tensor):
    """A transformers UperNet tensor as our UperNet configs (mmseg's heads) name it."""
    if key.startswith('backbone.'):
        key, value = official_name(key[len('backbone.'):], value)
        return 'backbone.' + key, value
    return key.replace('.batch_norm.', '.bn.').replace('.classifier.', '.conv_seg.'), value


def upernet_from_hf(src: str, dst: str, state: dict) -> None:
    from mmseg.datasets import ADE20KDataset
    config = osp.join(src, 'config.json')
    labels = json.load(open(config)).get('id2label', {}) if osp.isfile(config) else {}
    state = dict(ours_from_hf(k, v) for k, v in state.items())
    classes = [labels.get(str(i), str(i)) for i in range(len(state['decode_head.conv_seg.bias']))]
    torch.save({'state_dict': state, 'meta': {'dataset_meta': {'classes': classes}}}, dst)
    differ = [(i, name) for i, name in enumerate(classes)
              if name != dict(enumerate(ADE20KDataset.METAINFO['classes'])).get(i)]
    print(f'{src}: transformers UperNet; wrote {dst} for our UperNet ConvNeXt-'
          f'{arch_name(*infer_arch(convert_to_official(state)[0]))} configs, {len(classes)} '
          f'classes from {"id2label" if labels else "numbers"}' + (
              f'; note: {len(differ)} differ from the ADE20K configs\' (first: {differ[:3]})'
              if differ else ''))


def upernet_to_hf(src: str, out_dir: str, checkpoint: dict, ours: dict) -> None:
    import transformers as hf
    if 'decode_head.conv_seg.bias' not in ours:
        raise CheckpointError(f'{src} is not a UperNet: --to hf takes our UperNet checkpoints')
    depths, dims = infer_arch(convert_to_official(ours)[0])
    v2 = any('.grn.' in k for k in ours)
    classes = checkpoint.get('meta', {}).get('dataset_meta', {}).get('classes') or [
        str(i) for i in range(len(ours['decode_head.conv_seg.bias']))]
    aux = len([k for k in ours if re.match(r'auxiliary_head\.convs\.\d+\.conv\.weight', k)])
    model = hf.UperNetForSemanticSegmentation(hf.UperNetConfig(
        backbone_config=(hf.ConvNextV2Config if v2 else hf.ConvNextConfig)(
            depths=list(depths), hidden_sizes=list(dims), out_features=[
                f'stage{i}' for i in (1, 2, 3, 4)]),
        hidden_size=len(ours['decode_head.bottleneck.bn.weight']), use_auxiliary_head=aux > 0,
        auxiliary_num_convs=aux, auxiliary_channels=len(ours.get(
            'auxiliary_head.convs.0.bn.weight', range(256))),
        auxiliary_concat_input='auxiliary_head.conv_cat.conv.weight' in ours,
        num_labels=len(classes), id2label=dict(enumerate(classes))))
    model.load_state_dict({key: ours[ours_from_hf(key, like)[0]].reshape(like.shape)
                           for key, like in model.state_dict().items()})
    model.save_pretrained(out_dir)
    print(f'{src}: UperNet ConvNeXt{"-V2" if v2 else ""}-{arch_name(depths, dims)}, {len(classes)}'
          f' classes; wrote {out_dir} for UperNetForSemanticSegmentation.from_pretrained')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint (path or URL) or model directory to convert')
    parser.add_argument('dst', help='output .pth or .safetensors (--to hf: a directory)')
    parser.add_argument('--to', choices=['official', 'hf'], default='official',
                        help='hf: our UperNet checkpoint as a transformers model directory')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle SRC (only for files you trust)')
    parser.add_argument('--debug', action='store_true')
    args = parser.parse_args()
    with user_errors(args.debug):
        set_trust_checkpoints(args.trust_checkpoint)
        checkpoint = load_checkpoint_file(weights_file(args.src))
        try:
            state = unwrap_state_dict(checkpoint)
        except ValueError as exc:
            raise CheckpointError(f'{args.src}: {exc}') from None
        if args.to == 'hf':
            return upernet_to_hf(args.src, args.dst, checkpoint, state)
        if 'decode_head.classifier.weight' in state:
            return upernet_from_hf(args.src, args.dst, state)
        layout, name, count = convert_checkpoint(args.src, args.dst, state)
        print(f'{args.src}: {layout} layout, {name}; wrote {count} tensors to {args.dst}')


if __name__ == '__main__':
    main()
