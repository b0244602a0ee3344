"""The search by picture among stamped videos: who registered these pictures, whatever the file says.

A mark can be removed and a manifest stripped and re-signed by anyone (issue
11's laundering attack), so the identifier a file carries cannot be the only
way into the repository. ``aimark stamp`` files each stamped video's content
fingerprint (``watermark.contentid``) in the content index beside the
manifest repository, under the video's identifier: the same index, tables
and search the notice registry uses (``watermark.contentindex``), so a
notice and a stamped video are two kinds of work in one index (a notice is
named ``notice-...``, a stamped video by its 16 hex digits).

``verify`` then asks two questions of the pictures:

- :func:`identifier_match`: do they positively match the pictures registered
  for the identifier their mark (or manifest) carries? The comparison
  searches centre crops, mirror images and time offsets, so a cut, zoomed or
  re-encoded copy still matches; a record is credited only then.
- :func:`registered_matches`: which stamped videos do they show at all? A
  copy of a registered video that carries someone else's identity, or none,
  is found this way.

Only a repository in a database has the index; a resolution service
(``https://``) answers by identifier alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manifests.contentstore import DatabaseContentStore
from manifests.reading import format_time
from manifests.repository import DatabaseRepository, ManifestRepository, Record
from watermark import contentid
from watermark.contentindex import ContentIndex

#: Most stamped videos one video is reported to show.
MAX_MATCHES = 5


@dataclass(frozen=True)
class RegisteredMatch:
    """A stamped video whose pictures a checked video shows: its record, and where and how surely."""

    record: Record
    match: contentid.ContentMatch

    def to_dict(self) -> dict[str, Any]:
        """The record's identifier, manifest and maker, the matched spans and the score."""
        r, m = self.record, self.match
        return {"identifier": r.identifier, "manifest_id": r.manifest_id, "author": r.author, "model": r.model,
                "created": r.created.isoformat(), "registered": r.registered.isoformat(),
                "query_span": [round(t, 2) for t in m.query_span], "work_span": [round(t, 2) for t in m.work_span],
                "scale": m.scale, "mirrored": m.mirrored, "score": round(m.score, 2),
                "false_match_probability": float(f"{m.false_match_probability:.3g}")}

    def describe(self) -> str:
        """One line: which seconds show which stamped video, whose, and how surely."""
        r, m = self.record, self.match
        return (f"seconds {m.query_span[0]:g}-{m.query_span[1]:g} show seconds {m.work_span[0]:g}-"
                f"{m.work_span[1]:g} of the video stamped with identifier {r.identifier} ({r.manifest_id}, made by "
                f"{r.author}, registered {format_time(r.registered)}); false-match probability "
                f"{m.false_match_probability:.1e}")


def picture_index(repository: ManifestRepository | None) -> ContentIndex | None:
    """The content index beside a repository in a database (None for a resolution service or no repository)."""
    if not isinstance(repository, DatabaseRepository):
        return None
    return ContentIndex(DatabaseContentStore(repository.database))


def file_pictures(index: ContentIndex | None, identifier: str, fingerprint: contentid.Fingerprint | None) -> bool:
    """File a stamped video's content fingerprint under its identifier; False when there is no index
    (then none was sampled), or when the pictures are too flat to be recognised (there is nothing to
    search them by)."""
    if index is None or fingerprint is None or not fingerprint.usable.any():
        return False
    index.add(identifier, fingerprint)
    return True


def identifier_match(index: ContentIndex | None, identifier: str | None,
                     query: contentid.Query | None) -> contentid.ContentMatch | None:
    """The pictures against those filed for ``identifier`` (None when nothing is filed or nothing matches)."""
    if index is None or identifier is None or query is None:
        return None
    registered = index.get(identifier)
    return contentid.compare(registered, query) if registered is not None else None


def registered_matches(index: ContentIndex | None, repository: ManifestRepository | None,
                       query: contentid.Query | None) -> tuple[RegisteredMatch, ...]:
    """The stamped videos whose pictures the query shows, most certain first (notices are left out)."""
    if index is None or repository is None or query is None:
        return ()
    found = []
    for match in index.search(query, limit=MAX_MATCHES + 10):  # room for notices among the best
        record = repository.get(match.work) if match.work else None
        if record is not None:
            found.append(RegisteredMatch(record, match))
    return tuple(found[:MAX_MATCHES])
