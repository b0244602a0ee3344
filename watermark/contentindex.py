"""Search registered works by picture: an inverted index over hashed segment features.

A query is never compared with every registered work. Each registered
segment is filed under :data:`~watermark.contentid.BANDS` keys (the signs of
interleaved feature coefficients); a query looks up its own keys, for every
phase, crop and mirror it tries and with its least certain signs flipped
(:func:`~watermark.contentid.probe_keys`), counts the hits per work and
alignment, and verifies only the best-voted works with the aligned
comparison of :func:`~watermark.contentid.compare`.

Storage is behind :class:`ContentStore`: works are numbers, fingerprints
bytes and keys integers, so a database of the provenance layer can hold them
without knowing the signal (``manifests.contentstore.SQLiteContentStore``);
:class:`MemoryStore` keeps them in numpy arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Protocol, Sequence

import numpy as np

from watermark.contentid import (
    ContentMatch,
    Fingerprint,
    MAX_FALSE_MATCH,
    Query,
    compare,
    keys,
    probe_keys,
)
from watermark.errors import WatermarkError

#: Works verified per search, best-voted first.
CANDIDATES = 40
#: Alignments verified per candidate work, best-voted first.
ALIGNMENTS = 6


class ContentIndexError(WatermarkError, ValueError):
    """A work that is already registered, or bytes that are not a fingerprint."""


class ContentStore(Protocol):
    """Where an index keeps its works, fingerprints and postings.

    ``number`` is the index's 63-bit number for a work (:func:`work_number`),
    ``keys`` and ``segments`` are parallel arrays: each registered segment
    filed under each of its keys.
    """

    location: str

    def add(self, number: int, work: str, fingerprint: bytes, keys: np.ndarray, segments: np.ndarray) -> None:
        """Store a work; raise the store's user error if ``work`` is already registered."""

    def remove(self, work: str) -> bool:
        """Forget a work and its postings; False if it was not registered."""

    def get(self, work: str) -> bytes | None:
        """A work's fingerprint bytes, or None."""

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Postings filed under any of ``keys``: parallel (key, number, segment) arrays."""

    def fingerprints(self, numbers: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        """Work name and fingerprint bytes by number, for those registered."""

    def counts(self) -> tuple[int, int]:
        """(works, indexed segments) registered."""

    def close(self) -> None:
        """Release the storage."""


def work_number(work: str) -> int:
    """The 63-bit number a work is filed under (BLAKE2b of its name).

    Examples
    --------
    >>> work_number("notice-1") == work_number("notice-1") != work_number("notice-2")
    True
    """
    return int.from_bytes(hashlib.blake2b(work.encode(), digest_size=8).digest(), "big") >> 1


class MemoryStore:
    """Postings in sorted numpy arrays, fingerprints in a dict: for tests, benchmarks and one process.

    About 14 bytes per posting; a million ten-second works take about 300 MB.
    """

    location = ":memory:"

    def __init__(self) -> None:
        self._keys = np.zeros(0, np.int64)
        self._numbers = np.zeros(0, np.int64)
        self._segments = np.zeros(0, np.int32)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._works: dict[int, tuple[str, bytes]] = {}
        self._by_name: dict[str, int] = {}
        self._indexed = 0

    def add(self, number: int, work: str, fingerprint: bytes, keys: np.ndarray, segments: np.ndarray) -> None:
        if work in self._by_name:
            raise ContentIndexError(f"work '{work}' is already registered; remove it first to replace it")
        if number in self._works:
            raise ContentIndexError(f"work '{work}' has the number of '{self._works[number][0]}'; rename it")
        self._works[number] = (work, fingerprint)
        self._by_name[work] = number
        self._pending.append((np.asarray(keys, np.int64), np.full(len(keys), number, np.int64),
                              np.asarray(segments, np.int32)))
        self._indexed += len(np.unique(segments))

    def remove(self, work: str) -> bool:
        number = self._by_name.pop(work, None)
        if number is None:
            return False
        del self._works[number]
        self._merge()
        keep = self._numbers != number
        self._indexed -= len(np.unique(self._segments[~keep]))
        self._keys, self._numbers, self._segments = self._keys[keep], self._numbers[keep], self._segments[keep]
        return True

    def get(self, work: str) -> bytes | None:
        number = self._by_name.get(work)
        return None if number is None else self._works[number][1]

    def _merge(self) -> None:
        if not self._pending:
            return
        keys_, numbers, segments = zip(*self._pending)
        self._pending = []
        all_keys = np.concatenate((self._keys, *keys_))
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        self._numbers = np.concatenate((self._numbers, *numbers))[order]
        self._segments = np.concatenate((self._segments, *segments))[order]

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._merge()
        keys = np.unique(np.asarray(keys, np.int64))
        low = np.searchsorted(self._keys, keys, "left")
        high = np.searchsorted(self._keys, keys, "right")
        positions = _ranges(low, high)
        return self._keys[positions], self._numbers[positions], self._segments[positions]

    def fingerprints(self, numbers: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        return {n: self._works[n] for n in numbers if n in self._works}

    def counts(self) -> tuple[int, int]:
        return len(self._works), self._indexed

    def close(self) -> None:
        self.__init__()


def _ranges(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(low[i], high[i])`` for every i, without a Python loop."""
    lengths = high - low
    if not lengths.sum():
        return np.zeros(0, np.int64)
    starts = np.repeat(low - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return starts + np.arange(lengths.sum())


class ContentIndex:
    """Registered works' fingerprints, searchable by picture.

    Parameters
    ----------
    store : ContentStore, optional
        Where works and postings are kept; default a new :class:`MemoryStore`.

    Examples
    --------
    >>> index = ContentIndex()  # doctest: +SKIP
    >>> index.add("notice-17", contentid.sample_file("work.mp4").fingerprint())  # doctest: +SKIP
    >>> index.search(contentid.sample_file("upload.mp4").query())  # doctest: +SKIP
    [ContentMatch(work='notice-17', false_match_probability=3e-21, ...)]
    """

    def __init__(self, store: ContentStore | None = None) -> None:
        self.store: ContentStore = store if store is not None else MemoryStore()

    def add(self, work: str, fingerprint: Fingerprint) -> None:
        """Register ``fingerprint`` as ``work`` (a notice id, a manifest identifier: any unique name)."""
        if not work:
            raise ContentIndexError("a work needs a non-empty name")
        usable = np.nonzero(fingerprint.usable)[0]
        if not len(usable):
            raise ContentIndexError(f"work '{work}' has no segment with picture detail to recognise it by "
                                    "(its pictures are flat or it has no frames)")
        filed = keys(fingerprint.vectors[usable])  # (segments, BANDS)
        self.store.add(work_number(work), work, fingerprint.to_bytes(), filed.ravel(),
                       np.repeat(usable, filed.shape[1]))

    def remove(self, work: str) -> bool:
        """Forget ``work``; False if it was not registered."""
        return self.store.remove(work)

    def get(self, work: str) -> Fingerprint | None:
        """The registered fingerprint of ``work``, or None."""
        data = self.store.get(work)
        return None if data is None else Fingerprint.from_bytes(data)

    def __len__(self) -> int:
        return self.store.counts()[0]

    def search(self, query: Query, *, limit: int = 10,
               max_false_match: float = MAX_FALSE_MATCH) -> list[ContentMatch]:
        """The registered works whose pictures the query shows, most certain first.

        Parameters
        ----------
        query : Query
            The video searched (:meth:`watermark.contentid.ContentSampler.query`).
        limit : int
            Most matches returned.
        max_false_match : float
            Largest false-match probability reported (it accounts for every
            registered segment, so it grows with the index).

        Returns
        -------
        list of ContentMatch
            Empty when nothing matches.
        """
        votes, variants = self._votes(query)
        if not len(votes):
            return []
        _, indexed = self.store.counts()
        matches = []
        for number, alignments in _candidates(votes, variants):
            found = self.store.fingerprints([number]).get(number)
            if found is None:
                continue
            work, data = found
            match = compare(Fingerprint.from_bytes(data), query, searched_segments=indexed, alignments=alignments)
            if match is not None and match.false_match_probability <= max_false_match:
                matches.append(replace(match, work=work))
        matches.sort(key=lambda m: (m.false_match_probability, -m.similarity))
        return matches[:limit]

    def _votes(self, query: Query) -> tuple[np.ndarray, list[tuple[int, int, bool]]]:
        """Distinct (number, variant, offset, query segment) hits of the query's probe keys, and the variants."""
        probes, owners = [], []
        variants = list(query.variants())
        for v, (*_, vectors, usable) in enumerate(variants):
            segments = np.nonzero(usable)[0]
            if not len(segments):
                continue
            found = probe_keys(vectors[segments]).reshape(len(segments), -1)
            probes.append(found.ravel())
            owners.append(np.stack([np.full(found.size, v), np.repeat(segments, found.shape[1])], axis=1))
        variants_named = [(p, s, m) for p, s, m, *_ in variants]
        if not probes:
            return np.zeros((0, 4), np.int64), variants_named
        probes_all, owners_all = np.concatenate(probes), np.concatenate(owners)
        hit_keys, numbers, segments = self.store.lookup(probes_all)
        order = np.argsort(probes_all, kind="stable")
        sorted_probes = probes_all[order]
        low = np.searchsorted(sorted_probes, hit_keys, "left")
        high = np.searchsorted(sorted_probes, hit_keys, "right")
        which = order[_ranges(low, high)]
        repeats = high - low
        hits = np.stack([np.repeat(numbers, repeats), owners_all[which, 0],
                         np.repeat(segments, repeats) - owners_all[which, 1], owners_all[which, 1]], axis=1)
        return np.unique(hits, axis=0), variants_named

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> ContentIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _candidates(votes: np.ndarray, variants: list[tuple[int, int, bool]]
                ) -> list[tuple[int, list[tuple[int, int, bool, int]]]]:
    """The best-voted works and, for each, its best-voted alignments (phase, scale, mirrored, offset).

    A vote is one query segment of one variant whose key finds a segment of
    the work; an alignment's votes are its distinct query segments.
    """
    alignments, counts = np.unique(votes[:, :3], axis=0, return_counts=True)
    numbers, first = np.unique(alignments[:, 0], return_index=True)
    best = np.maximum.reduceat(counts, first)
    chosen = set(numbers[np.argsort(-best, kind="stable")[:CANDIDATES]].tolist())
    rows = [i for i in np.argsort(-counts, kind="stable") if int(alignments[i, 0]) in chosen]
    found: dict[int, list[tuple[int, int, bool, int]]] = {}
    for i in rows:
        number, variant, offset = (int(x) for x in alignments[i])
        wanted = found.setdefault(number, [])
        if len(wanted) < ALIGNMENTS:
            wanted.append((*variants[variant], offset))
    return list(found.items())
