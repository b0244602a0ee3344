"""Refusing to mark a video that already carries a mark, inside the marking pass.

Marking over a mark hides who marked first: the new identifier mostly wins
the detector's search, and the old one's owner loses the trace (issue 11's
re-marking attack). So the marking commands look for a mark, with every key
they hold and the public default key, before they publish anything.

The check costs no second decode: :class:`ExistingMarks` is the first frame
transform of the marking pass, and sees the source pictures before they are
marked. It whitens the first :data:`CHECK_SECONDS` of them (what the scan
reads the mark from too), then searches every key's alignments once, in the
pass (a thread gains nothing: the search holds the interpreter, and on a
busy machine it delayed the refusal to the end of the video). A mark found
aborts the pass there, and the caller's temporary output is removed
unpublished; a video shorter than the search is searched at
:meth:`ExistingMarks.finish`, before publication.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable

from watermark.detect import Detector
from watermark.errors import WatermarkError
from watermark.keys import DEFAULT_KEY, Key
from watermark.video import FrameTransform, Picture, chain

#: Seconds of source pictures searched for an existing mark (as ``aimark scan`` reads the mark).
CHECK_SECONDS = 3.0
#: Scales searched: a copy at its stamped framing, rescaled to any size (the
#: cell follows the shorter side) or cropped by up to a fifth, not mirrored:
#: a fraction of the full search's cost. Reframed and mirrored copies get past
#: it, and verify's 'remarked' and 'laundered' verdicts catch those.
CHECK_SCALES = (0.9, 1.25)
#: Peaks of the key-independent statistic the check's keyed search tries: a mark at its stamped
#: framing is the highest (two thirds of the check's search, 0.5 s of a 6-second 720p clip's pass, saved).
CHECK_PEAKS = 2


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
    >>> check = ExistingMarks([key], "in.mp4")                                  # doctest: +SKIP
    >>> transcode("in.mp4", "out.mp4", chain(check, mark), finished=check.finish)  # doctest: +SKIP
    """

    def __init__(self, keys: Iterable[Key], source: str | os.PathLike[str], *,
                 seconds: float = CHECK_SECONDS) -> None:
        unique = {key.key_id: key for key in [*keys, DEFAULT_KEY]}
        self._detector: Detector | None = Detector(list(unique.values()), scale_range=CHECK_SCALES,
                                                   scale_peaks=CHECK_PEAKS, mirrored=False)
        self._source = source
        self._seconds = seconds

    def __call__(self, picture: Picture) -> None:
        if self._detector is None:
            return
        if picture.time >= self._seconds:
            self.finish()
            return
        self._detector.add_picture(picture)  # whitened once for every key

    def finish(self) -> None:
        """Search what was gathered, once, and raise :class:`MarkedError` if a key finds a mark."""
        detector, self._detector = self._detector, None
        found = [d for d in (detector.results() if detector is not None else []) if d.detected]
        if found:
            d = max(found, key=lambda d: (d.identifier is not None, d.score))
            what = f"identifier {d.identifier}" if d.identifier else "an identifier too damaged to read"
            who = "the public default key" if d.key_id == DEFAULT_KEY.key_id else f"key {d.key_id}"
            raise MarkedError(f"'{self._source}' already carries a watermark ({what}, found with {who}, "
                              f"false-alarm bound {d.false_alarm_probability:.0e}); marking it again would hide "
                              "the first mark: mark the unmarked original, or pass --force to mark it anyway")


def refusing_marked(transform: FrameTransform, keys: Iterable[Key], source: str | os.PathLike[str], *,
                    force: bool) -> tuple[FrameTransform, Callable[[], None] | None]:
    """A marking pass's frame transform with :class:`ExistingMarks` in front (it must see the source
    pictures), and the check :func:`watermark.video.transcode` runs before publishing (its ``finished``);
    ``transform`` alone and None when ``force``."""
    if force:
        return transform, None
    check = ExistingMarks(keys, source)
    return chain(check, transform), check.finish
