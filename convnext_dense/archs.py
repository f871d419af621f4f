"""ConvNeXt sizes: the ``arch`` table and names (no torch modules, so checkpoint tools and
error messages can use it without the backbone)."""
from typing import Dict, Sequence, Tuple, Union

from .errors import ConfigError

# name: (depths, dims). tiny..xlarge are the paper's; atto..nano and huge come from V2.
ARCH_SETTINGS: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {
    'atto': ((2, 2, 6, 2), (40, 80, 160, 320)),
    'femto': ((2, 2, 6, 2), (48, 96, 192, 384)),
    'pico': ((2, 2, 6, 2), (64, 128, 256, 512)),
    'nano': ((2, 2, 8, 2), (80, 160, 320, 640)),
    'tiny': ((3, 3, 9, 3), (96, 192, 384, 768)),
    'small': ((3, 3, 27, 3), (96, 192, 384, 768)),
    'base': ((3, 3, 27, 3), (128, 256, 512, 1024)),
    'large': ((3, 3, 27, 3), (192, 384, 768, 1536)),
    'xlarge': ((3, 3, 27, 3), (256, 512, 1024, 2048)),
    'huge': ((3, 3, 27, 3), (352, 704, 1408, 2816)),
}
ARCH_ALIASES = {'a': 'atto', 'f': 'femto', 'p': 'pico', 'n': 'nano', 't': 'tiny',
                's': 'small', 'b': 'base', 'l': 'large', 'xl': 'xlarge', 'h': 'huge'}


def resolve_arch(arch: Union[str, dict]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(depths, dims)`` for an arch name or an explicit ``dict(depths, dims)``."""
    if isinstance(arch, str):
        name = ARCH_ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_SETTINGS:
            raise ConfigError(f'unknown ConvNeXt arch {arch!r}; choose one of '
                             f'{", ".join(ARCH_SETTINGS)} or pass dict(depths=[...], dims=[...])')
        return ARCH_SETTINGS[name]
    if isinstance(arch, dict):
        depths, dims = arch.get('depths'), arch.get('dims', arch.get('channels'))
        if depths is None or dims is None or len(depths) != 4 or len(dims) != 4:
            raise ConfigError(f'a custom ConvNeXt arch needs 4 depths and 4 dims, got {arch!r}')
        return tuple(int(d) for d in depths), tuple(int(c) for c in dims)
    raise ConfigError(f'arch must be a name or dict(depths=..., dims=...), got {type(arch).__name__}')


def arch_name(depths: Sequence[int], dims: Sequence[int]) -> str:
    """The table name of ``(depths, dims)``, or a readable description of a custom one."""
    for name, (d, c) in ARCH_SETTINGS.items():
        if tuple(d) == tuple(depths) and tuple(c) == tuple(dims):
            return name
    return f'custom(depths={list(depths)}, dims={list(dims)})'
