"""Refusing to mark a video that already carries a mark, inside the marking pass.

Marking over a mark hides who marked first: the new identifier mostly wins
the detector's search, and the old one's owner loses the trace (issue 11's
re-marking attack). So the marking commands look for a mark, with every key
they hold and the public default key, before they publish anything.

The check costs no second decode: :class:`ExistingMarks` is the first frame
transform of the marking pass, and sees the source pictures before they are
marked. It whitens the first :data:`CHECK_SECONDS` of them (what the scan
reads the mark from too) and then searches every key's alignments in a
background thread while the encoder carries on; a mark found aborts the pass
at the next frame (or at :meth:`ExistingMarks.finish`, for a video shorter
than the search), and the caller's temporary output is removed unpublished.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable

from watermark.detect import Detection, Detector, frame_evidence
from watermark.errors import WatermarkError
from watermark.keys import DEFAULT_KEY, Key
from watermark.video import Picture

#: Seconds of source pictures searched for an existing mark (as ``aimark scan`` reads the mark).
CHECK_SECONDS = 3.0


class MarkedError(WatermarkError, ValueError):
    """The video to mark already carries a mark (pass ``force=True``, ``--force``, to mark it anyway)."""


class ExistingMarks:
    """A frame transform that raises :class:`MarkedError` when the source already carries a mark.

    Parameters
    ----------
    keys : iterable of Key
        The keys the caller holds; the public default key is always searched too.
    source : path-like
        The video being marked, named in the error.
    seconds : float
        Seconds of pictures searched.

    Examples
    --------
    >>> check = ExistingMarks([key], "in.mp4")                              # doctest: +SKIP
    >>> transcode("in.mp4", "out.mp4", lambda p: (check(p), mark(p)))       # doctest: +SKIP
    >>> check.finish()  # before publishing: a short video is searched here  # doctest: +SKIP
    """

    def __init__(self, keys: Iterable[Key], source: str | os.PathLike[str], *,
                 seconds: float = CHECK_SECONDS) -> None:
        unique = {key.key_id: key for key in [*keys, DEFAULT_KEY]}
        self._detectors = [Detector(key) for key in unique.values()]
        self._source = source
        self._seconds = seconds
        self._search: Future[list[Detection]] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._settled = False

    def __call__(self, picture: Picture) -> None:
        if self._settled:
            return
        if self._search is not None:
            if self._search.done():
                self._settle()
            return
        if picture.time >= self._seconds:
            self._start()
            return
        evidence = frame_evidence(picture)  # whitened once for every key
        for detector in self._detectors:
            detector.add_evidence(evidence, time=picture.time)

    def _start(self) -> None:
        """Search the evidence gathered in a thread, so the encoder does not wait for it."""
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="existing-marks")
        self._search = self._pool.submit(lambda: [detector.result() for detector in self._detectors])

    def finish(self) -> None:
        """Wait for the search (start it, for a video shorter than the search) and raise if a mark was found."""
        if self._settled:
            return
        if self._search is None:
            self._start()
        self._settle()

    def close(self) -> None:
        """Stop waiting for a search still running (after an error elsewhere)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self) -> None:
        self._settled = True
        found = [d for d in self._search.result() if d.detected]
        self.close()
        self._detectors = []
        if found:
            d = max(found, key=lambda d: (d.identifier is not None, d.score))
            what = f"identifier {d.identifier}" if d.identifier else "an identifier too damaged to read"
            who = "the public default key" if d.key_id == DEFAULT_KEY.key_id else f"key {d.key_id}"
            raise MarkedError(f"'{self._source}' already carries a watermark ({what}, found with {who}, "
                              f"false-alarm bound {d.false_alarm_probability:.0e}); marking it again would hide "
                              "the first mark: mark the unmarked original, or pass --force to mark it anyway")

    def __enter__(self) -> ExistingMarks:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
