"""Compatibility with setuptools >= 81, which no longer ships ``pkg_resources``.

torch 2.14 requires setuptools >= 77.0.3, and current setuptools has dropped
``pkg_resources``; MMEngine 0.10.7's ``is_installed`` / ``get_installed_path`` import it to
resolve ``_base_ = 'mmdet::...'`` / ``'mmseg::...'`` in configs, so every config that
inherits from mmdet or mmseg failed with ``No module named 'pkg_resources'``. The same two
functions are provided here on ``importlib.metadata`` and installed into MMEngine unconditionally (importing
``convnext_dense`` does it): where setuptools still has a deprecated ``pkg_resources``,
MMEngine's ``importlib.reload(pkg_resources)`` fails as well ("spec not found").
"""
import importlib.metadata
import importlib.util
import os.path as osp


def is_installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The top-level module of a distribution (``mmsegmentation`` -> ``mmseg``)."""
    top_level = importlib.metadata.distribution(package).read_text('top_level.txt') or ''
    if not top_level.strip():
        raise ValueError(f'can not infer the module name of {package}')
    return top_level.split()[0]


def get_installed_path(package: str) -> str:
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise
        if spec.origin is None:
            raise RuntimeError(f'{package} is a namespace package, which is invalid for '
                               '`get_install_path`')
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))
    possible_path = osp.join(location, package)
    if osp.exists(possible_path):
        return possible_path
    return osp.join(location, package2module(package))


def patch_mmengine_package_utils() -> None:
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils
    import mmengine.utils.package_utils as package_utils
    for module in (package_utils, utils, config_module, hub_module):
        module.is_installed = is_installed
        module.get_installed_path = get_installed_path


patch_mmengine_package_utils()
