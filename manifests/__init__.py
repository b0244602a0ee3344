"""Provenance layer: signed C2PA manifests and AI labels for generated videos.

Treats the watermark identifier as an opaque value; knows nothing of the signal.
"""

from manifests.errors import ManifestError

__all__ = ["ManifestError"]
