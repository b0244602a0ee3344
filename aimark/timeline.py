"""Which time spans of a video carry the mark: the one drawing of a timeline, for every command.

Kept apart from :mod:`aimark.verify` so that ``aimark detect`` draws it
without importing the provenance layer and the resolvers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

import watermark

#: A span scoring at least this at the video's alignment still carries the mark, weakly:
#: without the mark, P(score >= 3) <= 0.4 % (the detector's bound, ``watermark.detect``, one
#: hypothesis per span), while footage without the mark scores near 0. Below it, a span
#: counts as unmarked.
WEAK_SCORE = 3.0
#: Timeline characters per span state, and their legend (the one drawing of a timeline, for every command).
SPAN_SYMBOLS = {"marked": "█", "weak": "▒", "unmarked": "·", "short": "?"}
SPAN_LEGEND = "█ marked  ▒ weak  · unmarked  ? too short to tell"


@dataclass(frozen=True)
class Timeline:
    """Which time spans carry the mark, at the alignment found for the whole video.

    Each span is marked (strong enough to detect on its own), weak (above
    :data:`WEAK_SCORE`: present but damaged, e.g. by a low bit rate) or
    unmarked (replaced or inserted footage). The mark carries no time code
    yet, so the order of spans (cuts, moved scenes) cannot be checked; only
    presence per span can.
    """

    span_seconds: float
    spans: tuple[watermark.Span, ...]
    unmarked: tuple[tuple[float, float], ...]
    order_checked: bool = False

    def states(self) -> list[str]:
        """Per span: 'marked', 'weak', 'unmarked' or 'short' (too few frames to tell)."""
        return [_state(span, self.spans) for span in self.spans]

    def bar(self) -> str:
        """One character per span: '█' marked, '▒' weak, '·' unmarked, '?' too few frames to tell."""
        return "".join(SPAN_SYMBOLS[state] for state in self.states())

    def pieces(self) -> list[tuple[str, float, float]]:
        """Consecutive marked spans that read the same identifier: (identifier, start, end), in time order.
        More than one identifier means a splice, or marked copies combined (:attr:`watermark.Detection.others`)."""
        pieces: list[tuple[str, float, float]] = []
        for span in self.spans:
            if not span.marked or span.identifier is None:
                continue
            if pieces and pieces[-1][0] == span.identifier and abs(pieces[-1][2] - span.start) < 1e-9:
                pieces[-1] = (span.identifier, pieces[-1][1], span.end)
            else:
                pieces.append((span.identifier, span.start, span.end))
        return pieces

    def to_dict(self) -> dict:
        return {"span_seconds": self.span_seconds, "bar": self.bar(), "order_checked": self.order_checked,
                "unmarked": [list(span) for span in self.unmarked],
                "spans": [{**asdict(span), "state": state} for span, state in zip(self.spans, self.states())]}


def _state(span: watermark.Span, spans: Sequence[watermark.Span]) -> str:
    """'marked', 'weak', 'unmarked' or 'short' (a tail with too few frames for its score to tell)."""
    if span.frames < 0.5 * float(np.median([s.frames for s in spans])):
        return "short"
    if span.marked:
        return "marked"
    return "weak" if span.score >= WEAK_SCORE else "unmarked"


def timeline_of(detection: watermark.Detection) -> Timeline:
    """The detection's spans as a :class:`Timeline` (marked, weak, unmarked, too short)."""
    spans = tuple(detection.spans)
    unmarked: list[tuple[float, float]] = []
    for span in spans:
        if _state(span, spans) != "unmarked":
            continue
        if unmarked and abs(unmarked[-1][1] - span.start) < 1e-9:
            unmarked[-1] = (unmarked[-1][0], span.end)
        else:
            unmarked.append((span.start, span.end))
    width = spans[0].end - spans[0].start if spans else 0.0
    return Timeline(width, spans, tuple(unmarked))
