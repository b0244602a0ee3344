"""Key-independent evidence: what a provider needs to find its private mark, without the video.

The detector whitens every frame (:func:`watermark.frame_evidence`) before
any key is involved, and detection with a key works on the sum of those
whitened frames. A platform can compute that sum, send it (a few hundred
kilobytes: one 288-line array in float16) to a provider's resolver, and the
provider's keys search it exactly as they would search the video. The
platform's user's video never leaves the platform.

What it reveals: a high-passed, contrast-normalised average of the pictures
at 288 lines. Moving scenes average out; a static scene stays recognisable
as an edge map. Sending it is the platform's choice (``--send-evidence``).

Vendor extension of the SBR API: ``POST /vendor/org.aimark/matches/byEvidence``
with the body in :data:`MEDIA_TYPE` (a NumPy ``.npy`` file: 2-D float16, no
pickles). The format is versioned by :data:`ALGORITHM`; a new signal design
gets a new name.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from aimark.errors import AimarkError

#: Name of the evidence format: the sum of ``watermark.frame_evidence`` over the video.
ALGORITHM = "org.aimark.evidence.1"
#: Media type of the body: a NumPy .npy file of a 2-D float16 array.
MEDIA_TYPE = "application/vnd.aimark.evidence+npy"
#: Largest body accepted, bytes (a 288 x 4096 float16 array and its header).
MAX_BYTES = 288 * 4096 * 2 + 1024
#: Each side must lie in this range (the working resolution's shorter side is 288).
SIDES = (32, 4096)


class EvidenceError(AimarkError, ValueError):
    """A body that is not evidence in :data:`ALGORITHM`'s format."""


class Accumulator:
    """The running sum of whitened frames, at the first frame's size (as the detector keeps it)."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.frames = 0

    def add(self, evidence: np.ndarray) -> None:
        if self.total is None:
            self.total = evidence.astype(np.float32, copy=True)
        else:
            if evidence.shape != self.total.shape:
                evidence = cv2.resize(evidence, self.total.shape[::-1], interpolation=cv2.INTER_LINEAR)
            self.total += evidence
        self.frames += 1

    def encode(self) -> bytes:
        """The evidence as the resolver takes it (raises if no frame was added)."""
        if self.total is None:
            raise EvidenceError("no frames were analysed, so there is no evidence to send")
        buffer = io.BytesIO()
        # float16 keeps ~3 significant digits; the sum's scale is the frame count, so normalise first.
        np.save(buffer, (self.total / max(1, self.frames)).astype(np.float16), allow_pickle=False)
        return buffer.getvalue()


def decode(body: bytes) -> np.ndarray:
    """The evidence array of a request body, checked.

    Raises
    ------
    EvidenceError
        Not an .npy file, not 2-D float16 of a plausible size, or values that are not finite.
    """
    if len(body) > MAX_BYTES:
        raise EvidenceError(f"evidence is at most {MAX_BYTES:,} bytes")
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise EvidenceError(f"the body is not a NumPy .npy array ({' '.join(str(error).split())[:120]})") from None
    if not isinstance(array, np.ndarray) or array.dtype != np.float16 or array.ndim != 2:
        raise EvidenceError(f"evidence must be a 2-D float16 array, not {getattr(array, 'dtype', '?')} "
                            f"with shape {getattr(array, 'shape', '?')}")
    if not all(SIDES[0] <= side <= SIDES[1] for side in array.shape):
        raise EvidenceError(f"evidence of shape {array.shape} is outside {SIDES[0]}-{SIDES[1]} per side")
    if not np.isfinite(array).all():
        raise EvidenceError("evidence holds values that are not finite")
    return array.astype(np.float32)
