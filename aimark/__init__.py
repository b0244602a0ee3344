"""aimark: label AI-generated videos and check them later.

The command line, the one-pass pipeline and the service live here, on top of
the two layers: :mod:`watermark` (the invisible signal) and :mod:`manifests`
(signed provenance). Neither layer imports this package.
"""

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("aimark")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

# Classes only: re-exporting the functions ``stamp`` and ``verify`` here would hide the
# submodules of the same names (``aimark.verify.verify`` would fail). Loaded on first use
# (PEP 562), so that ``aimark embed`` does not import the provenance layer and the resolvers.
_EXPORTS = {"Settings": "aimark.settings", "Stamper": "aimark.stamp", "StampResult": "aimark.stamp",
            "Verification": "aimark.verify"}

__all__ = ["Settings", "StampResult", "Stamper", "Verification", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule, as an eager import made it
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'aimark' has no attribute {name!r}")
