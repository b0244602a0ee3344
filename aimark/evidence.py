"""Key-independent evidence: what a provider needs to find its private mark, without the video.

The detector turns every frame into key-independent evidence
(:class:`watermark.EvidenceStream`: whitened, where it is and moved back
along the content's motion as it measured it) before any
key is involved, and detection with a key works on the sums of that
evidence, one per view and wrap (the whole tiles taken off the motion, see
:mod:`watermark.detect`). A platform can compute those sums, send them (a
few hundred kilobytes an image: 288-line arrays in float16) to a provider's
resolver, and the provider's keys search them exactly as they would search
the video. The platform's user's video never leaves the platform.

What it reveals: a high-passed, contrast-normalised average of the pictures
at 288 lines. Moving scenes average out; a static scene stays recognisable
as an edge map. Sending it is the platform's choice (``--send-evidence``).

Vendor extension of the SBR API: ``POST /vendor/org.aimark/matches/byEvidence``
with the body in :data:`MEDIA_TYPE` (a NumPy ``.npz`` file, no pickles:
``images``, 3-D float16, and ``keys``, one int16 triple a image: its view,
0 for the still one, and its wrap). The format is versioned by
:data:`ALGORITHM`; a new signal design gets a new name.
"""

from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np

import watermark
from aimark.errors import AimarkError

#: Name of the evidence format: sums of ``watermark.EvidenceStream`` evidence over the video, per view and wrap.
ALGORITHM = "org.aimark.evidence.2"
#: Media type of the body: a NumPy .npz file of ``images`` (N x H x W float16) and ``keys`` (N x 3 int16).
MEDIA_TYPE = "application/vnd.aimark.evidence+npz"
#: Most images sent: a pan that crosses more tiles than this allows keeps the best-filled wraps.
MAX_IMAGES = 12
#: Views a body may name (0, the still one, and 1, moved back along the content's motion; room to grow).
MAX_VIEWS = 8
#: Largest body accepted, bytes (twelve 288 x 1024 float16 images, and the archive's headers).
MAX_BYTES = MAX_IMAGES * 288 * 1024 * 2 + 8192
#: Each side must lie in this range (the working resolution's shorter side is 288).
SIDES = (32, 4096)

Views = list[dict[tuple[int, int], np.ndarray]]


class EvidenceError(AimarkError, ValueError):
    """A body that is not evidence in :data:`ALGORITHM`'s format."""


class Accumulator:
    """The running sums of a video's frame evidence, per view and wrap, at the first frame's size."""

    def __init__(self) -> None:
        self.views: Views = []
        self.counts: dict[tuple[int, int, int], int] = {}
        self.moved: list[bool] = []
        self._shape: tuple[int, int] | None = None
        self.frames = 0

    def add(self, evidence: watermark.FrameEvidence) -> None:
        still = evidence.views[0][0]
        if self._shape is None:
            self._shape = still.shape
            self.views = [{} for _ in evidence.views]
            self.moved = [False] * len(evidence.views)
        for number, (image, wrap) in enumerate(evidence.views):
            self.moved[number] = self.moved[number] or image is not still
            if image.shape != self._shape:
                image = cv2.resize(image, self._shape[::-1], interpolation=cv2.INTER_LINEAR)
            sums = self.views[number]
            if wrap in sums:
                sums[wrap] += image
            else:
                sums[wrap] = image.astype(np.float32, copy=True)
            self.counts[(number, *wrap)] = self.counts.get((number, *wrap), 0) + 1
        self.frames += 1

    def encode(self) -> bytes:
        """The evidence as the resolver takes it (raises if no frame was added)."""
        if not self.views:
            raise EvidenceError("no frames were analysed, so there is no evidence to send")
        entries = [(0, 0, 0)] + sorted((key for key in self.counts if key[0] > 0 and self.moved[key[0]]),
                                       key=self.counts.get, reverse=True)[:MAX_IMAGES - 1]
        # float16 keeps ~3 significant digits; the sums' scale is the frame count, so normalise first.
        images = np.stack([self.views[view][(x, y)] / max(1, self.frames) for view, x, y in entries])
        buffer = io.BytesIO()
        np.savez(buffer, images=images.astype(np.float16), keys=np.array(entries, np.int16).reshape(-1, 3))
        return buffer.getvalue()


def decode(body: bytes) -> Views:
    """The evidence of a request body, checked: per view (the still one first), the sums per wrap,
    for :meth:`watermark.Detector.add_sums`.

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
            images, keys = archive["images"], archive["keys"]
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise EvidenceError("the body is not a NumPy .npz archive of 'images' and 'keys' "
                            f"({' '.join(str(error).split())[:120]})") from None
    if images.dtype != np.float16 or images.ndim != 3:
        raise EvidenceError(f"images must be a 3-D float16 array, not {images.dtype} with shape {images.shape}")
    if not 1 <= images.shape[0] <= MAX_IMAGES:
        raise EvidenceError(f"evidence holds {images.shape[0]} images; 1 to {MAX_IMAGES} are accepted")
    if not all(SIDES[0] <= side <= SIDES[1] for side in images.shape[1:]):
        raise EvidenceError(f"images of shape {images.shape[1:]} are outside {SIDES[0]}-{SIDES[1]} per side")
    entries = [tuple(int(v) for v in key) for key in keys] if keys.dtype == np.int16 and keys.ndim == 2 else []
    if (keys.shape != (images.shape[0], 3) or len(set(entries)) != len(entries) or (0, 0, 0) not in entries
            or any(not 0 <= view < MAX_VIEWS or (view == 0 and (x, y) != (0, 0)) for view, x, y in entries)):
        raise EvidenceError(f"keys must be {images.shape[0]} distinct int16 triples (view, wrap x, wrap y), "
                            f"views 0 to {MAX_VIEWS - 1}, one of them (0, 0, 0)")
    if not np.isfinite(images).all():
        raise EvidenceError("evidence holds values that are not finite")
    views: Views = [{} for _ in range(max(view for view, _, _ in entries) + 1)]
    for image, (view, x, y) in zip(images, entries):
        views[view][(x, y)] = image.astype(np.float32)
    return views
