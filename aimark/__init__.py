"""aimark: label AI-generated videos and check them later.

The command line, the one-pass pipeline and the service live here, on top of
the two layers: :mod:`watermark` (the invisible signal) and :mod:`manifests`
(signed provenance). Neither layer imports this package.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aimark")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

# Classes only: re-exporting the functions ``stamp`` and ``verify`` here would hide the
# submodules of the same names (``aimark.verify.verify`` would fail).
from aimark.settings import Settings  # noqa: E402  (after the version, which they report)
from aimark.stamp import Stamper, StampResult  # noqa: E402
from aimark.verify import Verification  # noqa: E402

__all__ = ["Settings", "StampResult", "Stamper", "Verification", "__version__"]
