"""The notice-and-action registry: rights holders file notices, scans and verifications honour them.

A notice is filed with the work's video: the video is decoded once for its
content fingerprint (``watermark.contentid``), which the search by picture
files under the notice's id, and for its SHA-256; the video itself is not
kept. A video checked later is searched for every registered work at once
through the index (``watermark.contentindex``), so a re-encoded, downscaled,
centre-cropped, excerpted or retimed copy still finds its notice.

The notices and the fingerprints live in the manifest repository's
database, an SQLite file by default or a PostgreSQL server, as two more
migrated components (``manifests.noticeregistry``, ``manifests.contentstore``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from manifests.contentstore import DatabaseContentStore, check_file
from manifests.database import SQLiteDatabase, is_postgres_url, open_database
from manifests.noticeregistry import Choice, DatabaseNoticeStore, NoticeError, RightsNotice, new_notice_id
from manifests.media import sha256_file
from manifests.repository import default_path
from watermark import contentid
from watermark.contentindex import ContentIndex

#: Most notices one video is reported to match.
MAX_MATCHES = 10


@dataclass(frozen=True)
class NoticeMatch:
    """A notice whose work a video shows: the notice, and where and how surely its pictures appear."""

    notice: RightsNotice
    match: contentid.ContentMatch

    def to_dict(self) -> dict[str, Any]:
        """The notice's id, claimant, choice, terms and contact, the matched spans and the score."""
        n, m = self.notice, self.match
        return {"id": n.id, "claimant": n.claimant, "choice": n.choice.value, "terms": n.terms,
                "contact": n.contact, "work": n.work,
                "query_span": [round(t, 2) for t in m.query_span], "work_span": [round(t, 2) for t in m.work_span],
                "score": round(m.score, 2), "false_match_probability": float(f"{m.false_match_probability:.3g}")}

    def describe(self) -> str:
        """One line: which seconds show which registered work, and how surely."""
        m = self.match
        return (f"seconds {m.query_span[0]:g}-{m.query_span[1]:g} show seconds {m.work_span[0]:g}-"
                f"{m.work_span[1]:g} of '{self.notice.work}' ({self.notice.id}, filed by {self.notice.claimant}); "
                f"false-match probability {m.false_match_probability:.1e}")


class NoticeRegistry:
    """Rights holders' notices and their works' fingerprints, searchable by picture.

    Parameters
    ----------
    location : path-like or str, optional
        The SQLite file or the ``postgresql://`` URL of the manifest repository
        the notices live beside; default ``<aimark home>/repository.sqlite``.
        Notices and fingerprints are two more migrated components of its
        database (``manifests.noticeregistry``, ``manifests.contentstore``).

    Examples
    --------
    >>> with NoticeRegistry() as registry:  # doctest: +SKIP
    ...     notice = registry.add("film.mp4", claimant="Studio A", choice="opt-out")
    ...     registry.search(contentid.sample_file("upload.mp4").query())
    [NoticeMatch(notice=RightsNotice(id='notice-...', ...), match=ContentMatch(...))]
    """

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        if location is not None and is_postgres_url(str(location)):
            database = open_database(str(location))
        else:
            path = Path(location) if location is not None else default_path()
            check_file(path, "notice registry", NoticeError)
            database = SQLiteDatabase(path)
        self.database = database
        self.location = database.location
        try:
            self.notices = DatabaseNoticeStore(database)
            self.index = ContentIndex(DatabaseContentStore(database))
        except BaseException:
            database.close()
            raise

    def add(self, work: str | os.PathLike[str], *, claimant: str, choice: Choice | str, terms: str | None = None,
            contact: str | None = None, progress: Callable[[int], None] | None = None) -> RightsNotice:
        """File a notice for the work in the video file ``work``: its fingerprint and hash, never the video.

        Everything given is checked before the video is decoded.

        Raises
        ------
        NoticeError
            A claimant, choice, terms URL or contact that cannot be used.
        watermark.WatermarkError
            A video that cannot be read, or whose pictures are too flat to recognise.
        """
        path = Path(work)
        notice = RightsNotice(id=new_notice_id(), claimant=claimant, choice=choice, terms=terms, contact=contact,
                              work=path.name, sha256="0" * 64, duration=0.0,
                              registered=datetime.now(timezone.utc).replace(microsecond=0))
        sampler = contentid.sample_file(path, progress=progress)
        notice = replace(notice, sha256=sha256_file(path), duration=sampler.end)
        self.index.add(notice.id, sampler.fingerprint())
        try:
            self.notices.add(notice)
        except BaseException:
            self.index.remove(notice.id)  # no fingerprint without its notice
            raise
        return notice

    def notice(self, notice_id: str) -> RightsNotice:
        """The notice with this id.

        Raises
        ------
        NoticeError
            If no notice has this id.
        """
        found = self.notices.get(notice_id)
        if found is None:
            raise NoticeError(f"no notice {notice_id} in '{self.location}'; see `aimark notice list`")
        return found

    def remove(self, notice_id: str) -> RightsNotice:
        """Withdraw a notice and its work's fingerprint; the notice as it was.

        Raises
        ------
        NoticeError
            If no notice has this id.
        """
        notice = self.notice(notice_id)
        self.notices.remove(notice_id)
        self.index.remove(notice_id)
        return notice

    def list(self, *, limit: int | None = None) -> list[RightsNotice]:
        """Notices, newest first."""
        return self.notices.notices(limit=limit)

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: contentid.Query) -> list[NoticeMatch]:
        """The notices whose works the searched video shows, most certain first (empty when none)."""
        found = []
        for match in self.index.search(query, limit=MAX_MATCHES):
            notice = self.notices.get(match.work)
            if notice is not None:  # a work filed by another user of the index is not a notice
                found.append(NoticeMatch(notice, match))
        return found

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> NoticeRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def registry_beside(repository: str | os.PathLike[str] | None) -> str | None:
    """The notice registry beside a manifest repository: the same SQLite file or PostgreSQL database
    (None for the default one, and for a resolution service, which keeps no notices for others)."""
    if repository is None or str(repository).startswith(("http://", "https://")):
        return None
    return str(repository)


def open_registry(path: str | os.PathLike[str] | None) -> NoticeRegistry | None:
    """The registry to check videos against, or None when there is nothing to check.

    A default file that does not exist has no notices; a named one must exist.

    Raises
    ------
    NoticeError
        If a named registry file does not exist.
    """
    if path is None or not is_postgres_url(str(path)):
        location = Path(path) if path is not None else default_path()
        if not location.is_file():
            if path is None:
                return None
            raise NoticeError(f"notice registry '{location}' does not exist; give the file `aimark notice add` "
                              "filed the notices in")
    registry = NoticeRegistry(path)
    if not len(registry):
        registry.close()
        return None
    return registry
