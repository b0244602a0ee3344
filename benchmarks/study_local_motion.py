"""Design study: a pattern that follows the content's local motion, against the shipped one.

The shipped pattern follows the content only where it moves as one piece (a
clean pan); under anything else (people, bikes, parallax, text scrolling
beside a still sidebar) it stays still, and x264 codes its residual again in
every predicted frame: the bikes clip is 1.95x and the screen recording 3.1x
the plain encode's bits at CRF 18, where issue 7 allows 1.25x. The candidate
studied here moves the pattern with a dense optical flow (OpenCV's DIS, on a
272-line copy, smoothed where the picture has texture), beyond the global
translation the shipped tracker follows, for every pixel: the pattern's
coordinates are carried along the flow from frame to frame, and put back where
the shipped mark has them at every scene cut (where the encoder codes an
intra frame anyway) and, in the second design, every 16 frames too. A local
step under half a pixel a frame is left out, so that the flow's own noise does
not make the pattern jitter (that cost a still pan 1.07x -> 1.27x).

Three designs, side by side:

- ``shipped``: ``watermark.embed_file`` as it is, read by ``detect_file``;
- ``local, refresh 16``: local following, refreshed at cuts and every 16
  frames, read by the shipped detector (which sees the refreshed frames, and
  the first frames after them, where the shipped mark would be);
- ``local, tracked``: local following refreshed at cuts only, read by a
  detector that measures the same local motion on the pictures it receives and
  moves its evidence back along it (the shipped detector does that for the
  global translation).

What it measures per clip: marked/plain video bitrate at x264 CRF 18 medium,
PSNR-Y of the marked encode against the plain one (the mark's own cost), and
the exact identifier with its score on the marked file, after the 480p
platform rendition and after x264 CRF 35. Nothing here changes the shipped
mark.

    python benchmarks/study_local_motion.py [--quick]
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from clips import made_clips
from common import WORK_DIR, Run, load_clips, load_watermark, parser
from design_study import MARKED_FILE, measure, tables

detect_module = importlib.import_module("watermark.detect")
from watermark import embed_file  # noqa: E402  (after the module handle above)
from watermark.mask import amplitude  # noqa: E402
from watermark.motion import CENTRE, DETECTOR_CENTRE, MotionTracker  # noqa: E402
from watermark.pattern import TILE_CELLS, cell_size, render  # noqa: E402
from watermark.video import EncoderSettings, Picture, read_pictures, transcode  # noqa: E402

DESIGNS = ("shipped", "local, refresh 16", "local, tracked")
INTRO = ("Design study (issue 7's bits): the shipped pattern, which stays still under anything but a clean pan, "
         "against one carried along the content's local motion (see the script's docstring). Nothing shipped "
         "changes.")
ATTACKS = ("platform_480p", "h264_crf35")
#: Shorter side of the copy the flow is measured on; smoothing (share of that side); the local step (pixels a
#: frame) under which a pixel is taken as following the global motion; the correlation of two successive
#: small pictures under which a frame starts a new shot.
FLOW_SIDE, SMOOTHING, DEAD_ZONE, CUT = 272, 0.03, 0.5, 0.35
REFRESH_FRAMES = 16


class LocalMotion:
    """How far each pixel's content has moved, beyond the followed global motion, since the last refresh.

    ``update`` returns, on a grid of :data:`FLOW_SIDE` lines, the pattern
    coordinate's deviation (in the picture's pixels) from where the shipped
    mark has it; a scene cut, or ``refresh_frames`` frames, put it back to 0.
    """

    def __init__(self, refresh_frames: int | None) -> None:
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._refresh = refresh_frames
        self._previous: np.ndarray | None = None
        self._offset: np.ndarray | None = None
        self._deviation: np.ndarray | None = None
        self._age = 0

    def update(self, luma: np.ndarray, offset: np.ndarray) -> np.ndarray:
        factor = min(1.0, FLOW_SIDE / min(luma.shape))
        small = luma if factor == 1.0 else cv2.resize(luma, (round(luma.shape[1] * factor),
                                                             round(luma.shape[0] * factor)),
                                                      interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small if small.dtype == np.uint8 else (small >> 2).astype(np.uint8))
        step = offset - (self._offset if self._offset is not None else offset)
        self._offset = offset.copy()
        new_shot = self._previous is None or self._previous.shape != small.shape or self._cut(small)
        if new_shot or (self._refresh is not None and self._age >= self._refresh):
            self._deviation = np.zeros((*small.shape, 2), np.float32)
            self._age = 0
        else:
            back = self._smoothed(self._flow.calc(small, self._previous, None), small)
            local = back / factor + step.astype(np.float32)  # content motion the global offset does not explain
            local[np.hypot(local[..., 0], local[..., 1]) < DEAD_ZONE] = 0.0
            rows, cols = np.mgrid[0:small.shape[0], 0:small.shape[1]].astype(np.float32)
            self._deviation = cv2.remap(self._deviation, cols + back[..., 0], rows + back[..., 1], cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE) + local
        self._previous = small
        self._age += 1
        return self._deviation

    def _cut(self, small: np.ndarray) -> bool:
        a, b = small.astype(np.float32), self._previous.astype(np.float32)
        a -= a.mean()
        b -= b.mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9)) < CUT

    @staticmethod
    def _smoothed(flow: np.ndarray, small: np.ndarray) -> np.ndarray:
        """The flow averaged over ~3 % of the picture, weighted by texture (flat areas take their neighbours')."""
        picture = small.astype(np.float32)
        weight = cv2.GaussianBlur(cv2.Sobel(picture, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(picture, cv2.CV_32F, 0, 1) ** 2,
                                  (0, 0), 2.0) + 1e-3
        sigma = SMOOTHING * min(small.shape)
        total = cv2.GaussianBlur(weight, (0, 0), sigma)
        return np.dstack([cv2.GaussianBlur(flow[..., k] * weight, (0, 0), sigma) / total for k in range(2)])


def local_marker(key: Any, identifier: int, refresh_frames: int | None) -> Callable[[Picture], None]:
    """The shipped mark (same mask, pattern and global following), its pattern carried along the local motion."""
    tracker, local = MotionTracker(CENTRE), LocalMotion(refresh_frames)

    def mark(picture: Picture) -> None:
        luma = picture.luma
        height, width = luma.shape
        offset = tracker.update_picture(picture)
        deviation = cv2.resize(local.update(luma, offset), (width, height), interpolation=cv2.INTER_LINEAR)
        period = TILE_CELLS * cell_size(height, width)
        canvas = render(key, identifier, height, width, margin=int(np.ceil(2 * period)) + 4)
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        x = (np.mod(cols - offset[0] + deviation[..., 0], period) + period).astype(np.float32)
        y = (np.mod(rows - offset[1] + deviation[..., 1], period) + period).astype(np.float32)
        pattern = cv2.remap(canvas, x, y, cv2.INTER_CUBIC)
        luma[...] = cv2.add(luma, cv2.multiply(amplitude(luma), pattern), dtype=cv2.CV_8U)

    return mark


def tracked_evidence(tracker: MotionTracker, local: LocalMotion, picture: Picture) -> Any:
    """The shipped detector's evidence of a picture, its moved view also carried back along the local motion."""
    white = detect_module.whiten(picture.luma, bit_depth=picture.bit_depth)
    white *= detect_module.CODING_WEIGHTS.get(picture.coding, 1.0)
    offset = tracker.update_picture(picture)
    scale = white.shape[0] / picture.luma.shape[0]
    travel = offset * scale
    wrap = np.round(travel / detect_module.TILE)
    rest = travel - wrap * detect_module.TILE
    deviation = cv2.resize(local.update(picture.luma, offset), white.shape[::-1], interpolation=cv2.INTER_LINEAR)
    rows, cols = np.mgrid[0:white.shape[0], 0:white.shape[1]].astype(np.float32)
    moved = cv2.remap(white, (cols + rest[0] - deviation[..., 0] * scale).astype(np.float32),
                      (rows + rest[1] - deviation[..., 1] * scale).astype(np.float32), cv2.INTER_LINEAR)
    return detect_module.FrameEvidence(((white, (0, 0)), (moved, (int(wrap[0]), int(wrap[1])))), picture.time)


def read(path: Path, key: Any, design: str) -> tuple[str | None, float]:
    """The identifier the design's detector reads (None when not detected) and its score."""
    if design != "local, tracked":
        found = detect_module.detect_file(path, key)
        return found.identifier, found.score
    detector, tracker, local = detect_module.Detector(key), MotionTracker(DETECTOR_CENTRE), LocalMotion(None)
    for picture in read_pictures(path):
        detector.add_evidence(tracked_evidence(tracker, local, picture))
    found = detector.result()
    return found.identifier, found.score


def mark_file(src: Path, dst: Path, key: Any, identifier: int, design: str) -> None:
    if design == "shipped":
        embed_file(src, dst, key, identifier, force=True)
        return
    refresh = REFRESH_FRAMES if design == "local, refresh 16" else None
    transcode(src, dst, local_marker(key, identifier, refresh), settings=EncoderSettings(), overwrite=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work = WORK_DIR / "study_local_motion"
    work.mkdir(parents=True, exist_ok=True)
    clips = load_clips(quick=args.quick, hd=False) + made_clips(quick=True)
    run = Run("study_local_motion", args, {"designs": DESIGNS, "attacks": ATTACKS, "flow_side": FLOW_SIDE,
                                           "smoothing": SMOOTHING, "dead_zone_px": DEAD_ZONE, "cut": CUT,
                                           "refresh_frames": REFRESH_FRAMES}, wm)
    reads = (MARKED_FILE, *ATTACKS)
    rows = measure(clips, DESIGNS, reads, lambda src, dst, identifier, design: mark_file(src, dst, key, identifier,
                                                                                         design),
                   lambda path, design: read(path, key, design), work, 0x10CA_0000_0000_0000)
    run.write({"rows": rows}, tables(rows, DESIGNS, reads, INTRO))


if __name__ == "__main__":
    main()
