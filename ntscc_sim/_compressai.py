"""Import CompressAI without torchvision.

CompressAI 1.2.8 imports ``torchvision.transforms`` at import time only to fill
its registry of data-augmentation transforms, which ntscc_sim never uses. The
PyPI torchvision wheels do not import beside the CPU build of torch 2.13, so
when ``torchvision`` cannot be imported we register an empty placeholder module
before importing CompressAI. A real torchvision, when present, is used as is.
See docs/install.md.

Usage::

    from ntscc_sim._compressai import compressai
    from compressai.entropy_models import EntropyBottleneck
"""

import importlib.machinery
import sys
import types


def _install_torchvision_placeholder() -> None:
    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # absent, or present but broken against this torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    root = types.ModuleType("torchvision")
    root.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    root.__ntscc_placeholder__ = True
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
    root.transforms = transforms
    sys.modules["torchvision"] = root
    sys.modules["torchvision.transforms"] = transforms


_install_torchvision_placeholder()

import compressai  # noqa: E402

__all__ = ["compressai"]
