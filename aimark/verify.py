"""Verification: read every layer of one video in one decode, and cross-check them.

The manifest is validated (offline); the pictures are decoded once, and each
picture feeds the watermark detector of every key given (the public default
key always among them), the fingerprint, and, for the forensic report, a few
key frames. The identifier found is looked up in the manifest repository, the
pictures are compared with the fingerprints registered for it (the stamped
framing's, and the content fingerprint that tolerates crops), and searched
among every stamped video's pictures (:mod:`aimark.pictures`, in the content
index beside a repository in a database), and :func:`aimark.verdict.decide`
names the verdict.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

import manifests
import watermark
from aimark.evidence import Accumulator
from aimark.notices import NoticeMatch, NoticeRegistry, open_registry
from aimark.pictures import RegisteredMatch, identifier_match, picture_index, registered_matches
from aimark.resolution import Resolution, Resolvers, accepted, resolve
from aimark.timeline import Timeline, timeline_of
from aimark.verdict import Evidence, Verdict, decide
from manifests.database import is_postgres_url
from manifests.media import sha256_file
from manifests.reading import load_trust_anchors, manifest_store
from manifests.repository import (ManifestRepository, Record, RepositoryError, SQLiteRepository, default_path,
                                  open_repository, stored_claims)
from watermark import contentid, fingerprint
from watermark.fingerprint import FingerprintMatch
from watermark.video import Picture, read_pictures

#: Longest side of key frames kept for the report, in pixels.
KEYFRAME_SIDE = 640
#: Largest change of aspect ratio, and of the mark's apparent size, (as a natural log) for a
#: copy to count as the stamped framing, merely resized: beyond it the copy is cropped or
#: reframed, and a fingerprint that does not match says nothing about other pictures.
FRAMING_TOLERANCE = 0.03


@dataclass(frozen=True)
class FileFacts(watermark.VideoInfo):
    """What the file is, for the record: the video's facts plus its size and hash."""

    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class KeyFrame:
    """A picture kept for the report: its time and a small RGB copy."""

    time: float
    rgb: np.ndarray


@dataclass(frozen=True)
class Verification:
    """Everything :func:`verify` learnt about one file, with the verdict.

    Attributes
    ----------
    verdict : Verdict
    file : FileFacts
    manifest : manifests.Report, optional
        None when the container cannot carry a C2PA manifest.
    aigc : manifests.AigcLabel, optional
    detections : tuple of watermark.Detection
        One per key tried.
    detection : watermark.Detection, optional
        The watermark found (None if no key found one).
    record : Record, optional
        The repository's record for the identifier found (or claimed).
    recovered : manifests.Claims, optional
        The claims of the registered manifest, when the file itself carries none.
    fingerprint : FingerprintMatch, optional
        The pictures against that record's fingerprint.
    timeline : Timeline, optional
        Marked and unmarked spans, when a mark was found.
    keyframes : tuple of KeyFrame
        Kept only when asked (for the HTML report); not in :meth:`to_dict`.
    repository : str, optional
        Where identifiers were looked up.
    seconds : float
    resolutions : tuple of Resolution
        What each resolver asked said, and whether it was believed.
    notices : tuple of NoticeMatch
        Rights holders' notices whose works the pictures show.
    pictures : watermark.contentid.ContentMatch, optional
        The pictures against the content fingerprint filed at stamping for
        ``record`` (over crops, mirror images and time offsets).
    registered : tuple of RegisteredMatch
        The stamped videos the search by picture found the pictures to show.
    """

    verdict: Verdict
    file: FileFacts
    manifest: manifests.Report | None
    aigc: manifests.AigcLabel | None
    detections: tuple[watermark.Detection, ...]
    detection: watermark.Detection | None
    record: Record | None
    recovered: manifests.Claims | None
    fingerprint: FingerprintMatch | None
    timeline: Timeline | None
    keyframes: tuple[KeyFrame, ...]
    repository: str | None
    seconds: float
    resolutions: tuple[Resolution, ...] = ()
    notices: tuple[NoticeMatch, ...] = ()
    pictures: contentid.ContentMatch | None = None
    registered: tuple[RegisteredMatch, ...] = ()

    def to_dict(self) -> dict:
        """Plain values, for JSON: one object per file."""
        return {
            "file": self.file.path, **self.verdict.to_dict(),
            "facts": self.file.to_dict(),
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "aigc": self.aigc.to_dict() if self.aigc else None,
            "watermark": self.detection.to_dict() if self.detection else None,
            "keys_tried": [{"key_id": d.key_id, "detected": d.detected, "score": round(d.score, 2),
                            "false_alarm_probability": d.false_alarm_probability} for d in self.detections],
            "repository": self.repository,
            "resolutions": [resolution.to_dict() for resolution in self.resolutions],
            "record": self.record.to_dict() if self.record else None,
            "recovered_claims": asdict(self.recovered) if self.recovered else None,
            "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None,
            "pictures": self.pictures.to_dict() if self.pictures else None,
            "registered_pictures": [match.to_dict() for match in self.registered],
            "timeline": self.timeline.to_dict() if self.timeline else None,
            "notices": [match.to_dict() for match in self.notices],
            "seconds": round(self.seconds, 3),
        }


def _file_facts(path: Path) -> FileFacts:
    info = watermark.probe(path)  # first: it names a missing or unreadable file
    return FileFacts(**asdict(info), size_bytes=path.stat().st_size, sha256=sha256_file(path))


def _rgb(picture: Picture) -> np.ndarray:
    """A small RGB copy of a picture (BT.601 limited range, as the notice is drawn)."""
    scale = 1.0 / (1 << (picture.bit_depth - 8))
    y = picture.planes[0].astype(np.float32) * scale
    height, width = y.shape
    if len(picture.planes) >= 3:
        u, v = (cv2.resize(p.astype(np.float32) * scale, (width, height), interpolation=cv2.INTER_LINEAR) - 128
                for p in picture.planes[1:3])
    else:
        u = v = np.zeros_like(y)
    y = 1.164 * (y - 16)
    rgb = np.stack([y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u], axis=-1)
    factor = min(1.0, KEYFRAME_SIDE / max(width, height))
    if factor < 1:
        rgb = cv2.resize(rgb, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def keyframe_times(duration: float) -> tuple[float, ...]:
    """Where the report shows the video: in the notice's first seconds, then at a quarter, half and three quarters."""
    return (min(0.5, duration / 2),) + tuple(duration * share for share in (0.25, 0.5, 0.75))


@contextmanager
def _repository(repository: ManifestRepository | str | os.PathLike[str] | None
                ) -> Iterator[ManifestRepository | None]:
    """The repository to look identifiers up in (closed afterwards if opened here).

    A default file that does not exist yet has no records; a named one must exist.
    """
    if repository is not None and not isinstance(repository, (str, os.PathLike)):
        yield repository
        return
    if isinstance(repository, str) and repository.startswith(("http://", "https://")):
        raise RepositoryError(f"{repository} is a resolution service, not a repository; ask it with --resolver")
    if is_postgres_url(repository):
        with open_repository(repository) as opened:
            yield opened
        return
    path = Path(repository) if repository is not None else default_path()
    if repository is None and not path.exists():
        yield None
        return
    if not path.is_file():
        raise RepositoryError(f"manifest repository '{path}' does not exist; give the file `aimark stamp` "
                              "registers in, or a postgresql:// URL")
    with SQLiteRepository(path) as opened:
        yield opened


@contextmanager
def _registry(notices: NoticeRegistry | str | os.PathLike[str] | None) -> Iterator[NoticeRegistry | None]:
    """The notice registry to search (closed afterwards if opened here); None when it holds no notice."""
    if isinstance(notices, NoticeRegistry):
        yield notices
        return
    registry = open_registry(notices)
    try:
        yield registry
    finally:
        if registry is not None:
            registry.close()


def _reframing(record: Record | None, facts: FileFacts, detection: watermark.Detection | None) -> str | None:
    """How the copy's framing differs from the stamped video's, or None when it is only resized."""
    if record is None:
        return None
    changes = []
    stamped, observed = record.width / record.height, facts.width / facts.height
    if abs(math.log(observed / stamped)) > FRAMING_TOLERANCE:
        changes.append(f"aspect ratio {observed:.3f}, stamped {stamped:.3f} ({record.width}x{record.height})")
    if detection is not None and abs(math.log(detection.scale)) > FRAMING_TOLERANCE:
        changes.append(f"the mark appears at {detection.scale:.2f}x its stamped size")
    return "; ".join(changes) or None


def _recorded(record: Record | None, frames: tuple[np.ndarray, np.ndarray], flipped: bool) -> FingerprintMatch | None:
    """The video's frames (signatures, times) against the fingerprint registered in ``record``.

    A video the detector found mirrored is compared mirrored back.
    """
    if record is None:
        return None
    signatures, times = frames
    reference = np.frombuffer(record.fingerprint, np.uint8).reshape(-1, signatures.shape[1])
    return fingerprint.match(reference, fingerprint.mirrored(signatures) if flipped else signatures, times)


def verify(path: str | os.PathLike[str], *, keys: Iterable[watermark.Key] = (),
           trust_anchors: str | os.PathLike[str] | None = None,
           repository: ManifestRepository | str | os.PathLike[str] | None = None,
           keyframes: bool = False, notices: NoticeRegistry | str | os.PathLike[str] | None = None,
           progress: Callable[[int], None] | None = None,
           resolvers: Resolvers | None = None) -> Verification:
    """Check one video's manifest, watermark and registration, and cross-check them.

    Parameters
    ----------
    path : path-like
        Any video FFmpeg reads; manifests are read from MP4 and MOV.
    keys : iterable of watermark.Key
        Keys to detect with; the public default key is always tried as well.
    trust_anchors : path-like, optional
        PEM root certificates whose signatures count as trusted.
    repository : ManifestRepository or path-like, optional
        Where to resolve identifiers. Default: ``<aimark home>/repository.sqlite`` if it exists.
    keyframes : bool
        Keep a few pictures for a report (see :func:`keyframe_times`).
    notices : NoticeRegistry or path-like, optional
        Rights holders' notices to search the pictures for. Default: those
        filed beside the default repository, if any.
    progress : callable, optional
        Called with 1 after each decoded frame.
    resolvers : Resolvers, optional
        Resolution services to ask when the file carries no manifest and the
        repository does not hold the identifier (or no key here reads the mark
        and ``send_evidence`` or ``send_content`` allows asking anyway). Their manifests count only
        when trusted (``trust_anchors``), bound to what was looked up, and
        matching the pictures (see :mod:`aimark.resolution`).

    Returns
    -------
    Verification

    Examples
    --------
    >>> result = verify("upload.mp4", keys=[watermark.Key.load("provider.key")])  # doctest: +SKIP
    >>> result.verdict.kind.title, result.verdict.author  # doctest: +SKIP
    ('AI-generated: manifest stripped, recovered from the watermark', 'Ada Li')
    """
    started = time.perf_counter()
    path = Path(path)
    facts = _file_facts(path)
    with _repository(repository) as repo, _registry(notices) as registry:  # first: fail before any decoding
        report, labels, aigc = _manifest_layer(path, trust_anchors)
        accumulator = Accumulator() if resolvers is not None and resolvers.send_evidence else None
        index = picture_index(repo)
        sampler = contentid.ContentSampler() if registry is not None or index is not None else None
        detections, frames, kept = _picture_layer(path, keys, keyframe_times(facts.duration) if keyframes else (),
                                                    progress, accumulator, sampler)
        query = sampler.query() if sampler is not None else None
        matched = tuple(registry.search(query)) if registry is not None else ()
        registered = registered_matches(index, repo, query)
        records = {d.identifier: repo.get(d.identifier) for d in detections if d.identifier and repo is not None}
        # A readable id first, then one the repository holds (of two marks, the one its records speak of), then
        # a provider's key, then the stronger.
        found = sorted((d for d in detections if d.detected),
                       key=lambda d: (d.identifier is None, records.get(d.identifier) is None,
                                      d.key_id == watermark.DEFAULT_KEY.key_id, -d.score))
        detection = found[0] if found else None
        # Every further identifier: another key's (re-marked), or more of the same key's (spliced, or mixed).
        marks = {m.identifier: m for d in found for m in d.marks} if detection and detection.identifier else {}
        other_marks = tuple(m for identifier, m in marks.items() if identifier != detection.identifier)
        claimed = report.claims.watermark_identifier if report is not None and report.claims else None
        mark_id = detection.identifier if detection else None
        record = records.get(mark_id) if mark_id else None
        claimed_record = repo.get(claimed) if repo is not None and claimed and claimed != mark_id else None
        pictures = identifier_match(index, record.identifier if record else None, query)
        claimed_pictures = identifier_match(index, claimed_record.identifier if claimed_record else None, query)
        location = repo.location if repo is not None else None
    flipped = detection is not None and detection.flipped
    resolutions: tuple[Resolution, ...] = ()
    stripped = report is None or not report.manifest_present
    if resolvers is not None and resolvers.urls and stripped and record is None:
        resolutions = resolve(resolvers, identifier=mark_id, path=path,
                              trust_anchors=load_trust_anchors(trust_anchors) if trust_anchors else None,
                              compare=lambda candidate: _recorded(candidate, frames, flipped),
                              evidence=accumulator.encode if accumulator is not None else None)
        record = accepted(resolutions).record if accepted(resolutions) else None
        pictures = None  # a resolver's record has no content fingerprint here
    match, claimed_match = _recorded(record, frames, flipped), _recorded(claimed_record, frames, flipped)
    timeline = timeline_of(detection) if detection else None
    verdict = decide(Evidence(
        report=report, manifest_labels=labels, detection=detection, keys_tried=len(detections), record=record,
        match=match, claimed_record=claimed_record, claimed_match=claimed_match,
        unmarked_spans=timeline.unmarked if timeline else (), aigc=aigc,
        reframed=_reframing(record or claimed_record, facts, detection), resolutions=resolutions,
        notices=matched, pictures=pictures, claimed_pictures=claimed_pictures, registered=registered,
        other_marks=other_marks))
    recovered = stored_claims(record.store) if record is not None and stripped else None
    return Verification(verdict, facts, report, aigc, detections, detection, record or claimed_record, recovered,
                        match or claimed_match, timeline, kept, location, time.perf_counter() - started,
                        resolutions, matched, pictures or claimed_pictures, registered)


def _manifest_layer(path: Path, trust_anchors: str | os.PathLike[str] | None
                    ) -> tuple[manifests.Report | None, tuple[str, ...], manifests.AigcLabel | None]:
    """The manifest check (MP4 and MOV only), the labels of every manifest in the store, and the AIGC label."""
    if path.suffix.lower() not in manifests.SUPPORTED_TYPES:
        return None, (), _aigc(path)
    report = manifests.inspect_file(path, trust_anchors=trust_anchors)
    labels: tuple[str, ...] = ()
    if report.manifest_present:
        store = manifest_store(path)[0]
        active = store["active_manifest"]
        labels = (active, *(label for label in store["manifests"] if label != active))
    return report, labels, report.aigc


def _picture_layer(path: Path, keys: Iterable[watermark.Key], keyframes: Sequence[float],
                   progress: Callable[[int], None] | None, accumulator: Accumulator | None = None,
                   sampler: contentid.ContentSampler | None = None
                   ) -> tuple[tuple[watermark.Detection, ...], tuple[np.ndarray, np.ndarray], tuple[KeyFrame, ...]]:
    """The one decode: every key's detection, each frame's fingerprint signature and time, the key frames
    (and, into ``accumulator``, the key-independent evidence a resolver's keys can search; into
    ``sampler``, the content fingerprint the notice search compares)."""
    unique = {key.key_id: key for key in [*keys, watermark.DEFAULT_KEY]}
    detector = watermark.Detector(list(unique.values()))
    signatures, times, kept = [], [], []
    wanted = sorted(keyframes)
    stream = watermark.EvidenceStream()
    for picture in read_pictures(path, progress=progress):
        evidence = stream.add(picture)  # whitened once, for every key and the accumulator
        detector.add_evidence(evidence)
        if accumulator is not None:
            accumulator.add(evidence)
        signatures.append(fingerprint.frame_signature(picture.luma, bit_depth=picture.bit_depth))
        times.append(picture.time)
        if sampler is not None:
            sampler.add(picture.luma, picture.time, bit_depth=picture.bit_depth)
        if wanted and picture.time >= wanted[0]:
            kept.append(KeyFrame(picture.time, _rgb(picture)))
            wanted = [t for t in wanted if t > picture.time]
    frames = (np.array(signatures, np.float32).reshape(-1, fingerprint.GRID[0] * fingerprint.GRID[1]),
              np.array(times))
    return tuple(detector.results()), frames, tuple(kept)


def _aigc(path: Path) -> manifests.AigcLabel | None:
    """The AIGC label of a container that cannot carry C2PA (a damaged label reads as none)."""
    try:
        return manifests.read_aigc(path)
    except manifests.ManifestError:
        return None
