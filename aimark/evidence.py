"""Key-independent evidence: what a provider needs to find its private mark, without the video.

The detector turns every frame into key-independent evidence
(:class:`watermark.EvidenceStream`: whitened, and moved back along the
content's motion) before any key is involved, and detection with a key
works on the sums of that evidence, one per wrap (the whole tiles taken off
the motion, see :mod:`watermark.detect`). A platform can compute those
sums, send them (a few hundred kilobytes a wrap: 288-line arrays in
float16) to a provider's resolver, and the provider's keys search them
exactly as they would search the video. The platform's user's video never
leaves the platform.

What it reveals: a high-passed, contrast-normalised average of the pictures
at 288 lines. Moving scenes average out; a static scene stays recognisable
as an edge map. Sending it is the platform's choice (``--send-evidence``).

Vendor extension of the SBR API: ``POST /vendor/org.aimark/matches/byEvidence``
with the body in :data:`MEDIA_TYPE` (a NumPy ``.npz`` file, no pickles: an
``evidence`` array, 3-D float16, one image per wrap, and a ``wraps`` array
of int16 pairs). The format is versioned by :data:`ALGORITHM`; a new signal
design gets a new name.
"""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np

import watermark
from aimark.errors import AimarkError

#: Name of the evidence format: the sums of ``watermark.EvidenceStream`` evidence over the video, per wrap.
ALGORITHM = "org.aimark.evidence.2"
#: Media type of the body: a NumPy .npz file of ``evidence`` (W x H x W float16) and ``wraps`` (W x 2 int16).
MEDIA_TYPE = "application/vnd.aimark.evidence+npz"
#: Most wraps sent: a pan that crosses more tiles than this keeps its best-filled ones.
MAX_WRAPS = 8
#: Largest body accepted, bytes (eight 288 x 1024 or two 288 x 4096 float16 arrays, and the archive's headers).
MAX_BYTES = 2 * 288 * 4096 * 2 + 4096
#: Each side must lie in this range (the working resolution's shorter side is 288).
SIDES = (32, 4096)


class EvidenceError(AimarkError, ValueError):
    """A body that is not evidence in :data:`ALGORITHM`'s format."""


class Accumulator:
    """The running sums of a video's frame evidence, one per wrap, at the first frame's size."""

    def __init__(self) -> None:
        self.sums: dict[tuple[int, int], np.ndarray] = {}
        self.counts: dict[tuple[int, int], int] = {}
        self._shape: tuple[int, int] | None = None
        self.frames = 0

    def add(self, evidence: watermark.FrameEvidence) -> None:
        image = evidence.image
        if self._shape is None:
            self._shape = image.shape
        elif image.shape != self._shape:
            image = cv2.resize(image, self._shape[::-1], interpolation=cv2.INTER_LINEAR)
        if evidence.wrap in self.sums:
            self.sums[evidence.wrap] += image
        else:
            self.sums[evidence.wrap] = image.astype(np.float32, copy=True)
        self.counts[evidence.wrap] = self.counts.get(evidence.wrap, 0) + 1
        self.frames += 1

    def encode(self) -> bytes:
        """The evidence as the resolver takes it (raises if no frame was added)."""
        if not self.sums:
            raise EvidenceError("no frames were analysed, so there is no evidence to send")
        wraps = sorted(self.counts, key=self.counts.get, reverse=True)[:MAX_WRAPS]
        # float16 keeps ~3 significant digits; the sums' scale is the frame count, so normalise first.
        stack = np.stack([self.sums[wrap] / max(1, self.frames) for wrap in wraps]).astype(np.float16)
        buffer = io.BytesIO()
        np.savez(buffer, evidence=stack, wraps=np.array(wraps, np.int16).reshape(-1, 2))
        return buffer.getvalue()


def decode(body: bytes) -> list[watermark.FrameEvidence]:
    """The evidence of a request body, checked, as frame evidence a detector adds.

    Raises
    ------
    EvidenceError
        Not an .npz file of the two arrays, arrays of the wrong type or an
        implausible size, or values that are not finite.
    """
    if len(body) > MAX_BYTES:
        raise EvidenceError(f"evidence is at most {MAX_BYTES:,} bytes")
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            stack, wraps = archive["evidence"], archive["wraps"]
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise EvidenceError("the body is not a NumPy .npz archive of 'evidence' and 'wraps' "
                            f"({' '.join(str(error).split())[:120]})") from None
    if stack.dtype != np.float16 or stack.ndim != 3:
        raise EvidenceError(f"evidence must be a 3-D float16 array, not {stack.dtype} with shape {stack.shape}")
    if not 1 <= stack.shape[0] <= MAX_WRAPS:
        raise EvidenceError(f"evidence holds {stack.shape[0]} wraps; 1 to {MAX_WRAPS} are accepted")
    if not all(SIDES[0] <= side <= SIDES[1] for side in stack.shape[1:]):
        raise EvidenceError(f"evidence of shape {stack.shape[1:]} is outside {SIDES[0]}-{SIDES[1]} per side")
    if wraps.dtype != np.int16 or wraps.shape != (stack.shape[0], 2) or len({tuple(w) for w in wraps}) != len(wraps):
        raise EvidenceError(f"wraps must be {stack.shape[0]} distinct int16 pairs, one per evidence image")
    if not np.isfinite(stack).all():
        raise EvidenceError("evidence holds values that are not finite")
    return [watermark.FrameEvidence(image.astype(np.float32), (int(wrap[0]), int(wrap[1])), 0.0)
            for image, wrap in zip(stack, wraps)]
