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

from aimark.settings import Settings  # noqa: E402  (after the version, which they report)
from aimark.stamp import Stamper, StampResult, stamp  # noqa: E402
from aimark.verify import Verification, verify  # noqa: E402

__all__ = ["Settings", "StampResult", "Stamper", "Verification", "__version__", "stamp", "verify"]
