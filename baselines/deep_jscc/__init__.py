"""Deep JSCC baseline (Bourtsoulatze, Kurka, Gündüz, IEEE TCCN 2019).

* :mod:`.model`  — :class:`DeepJSCC`, the encoder / channel / decoder module
* :mod:`.task`   — :class:`DeepJSCCTask`, training task ``model.kind: deep-jscc``
* :mod:`.scheme` — :class:`DeepJSCCScheme`, sweep scheme ``kind: deep-jscc``

See docs/deep_jscc.md.
"""

from .model import DeepJSCC

__all__ = ["DeepJSCC"]
