"""Scanning a dataset: is each video machine-generated, may it be trained on, has a rights holder objected?

One row per file (:class:`ScanRow`) from :func:`scan_file`, the same
function whether it runs in this process, a local pool or on Ray
(:mod:`aimark.scaleout`). It reads only what each signal needs, cheapest
first:

- **Manifest and metadata, without decoding**: the file's facts and SHA-256,
  the C2PA manifest (validated offline) and the AIGC label, read by the same
  readers ``aimark verify`` uses. A valid manifest that states how the
  content was made answers 'is it generated' and the training choices, and
  the mark is not read at all.
- **The mark, from the first seconds**: otherwise the first
  :data:`MARK_SECONDS` of pictures feed the watermark detector of each key
  (whitened once per frame, at the detector's 288-line working resolution);
  the rest of the video is read for the mark only when those seconds leave it
  in doubt (an identifier that does not decode yet, or a score above every
  score unmarked video reached, see :data:`DOUBT_SCORE`). A mark whose
  identifier is registered in the manifest repository recovers the stripped
  manifest, and with it the training choices.
- **Rights holders' notices**: when the registry holds any, every picture is
  sampled for the content fingerprint (a 96 x 96 thumbnail a frame, in the
  same decode) and searched through the index.

:func:`decide` turns the evidence into ``use``, ``exclude`` or ``review``
(see its docstring for the rule).
"""

from __future__ import annotations

import enum
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

import manifests
import watermark
from aimark.errors import AimarkError
from aimark.notices import NoticeMatch, NoticeRegistry, open_registry
from aimark.resolution import Resolvers, accepted, resolve
from aimark.verify import _file_facts as file_facts  # the one reading of a file's facts and hash
from aimark.verify import _manifest_layer as manifest_layer  # the one reading of the manifest and label
from aimark.verify import _recorded as recorded  # the one comparison of pictures with a record
from aimark.verify import _repository as opened_repository  # the one check of a repository path
from manifests.noticeregistry import Choice
from manifests.reading import load_trust_anchors
from manifests.repository import ManifestRepository, stored_claims
from watermark import contentid, fingerprint
from watermark.video import read_pictures

#: Seconds of pictures the mark is read from first.
MARK_SECONDS = 3.0
#: A score at which the first seconds leave the mark in doubt, so the whole video is read: above the
#: highest score unmarked videos reached with any key in the false-alarm benchmark (5.86 over 2,000
#: windows of 1-2 s, 5.28 over whole files), below the 7.7 a detection without an identifier needs.
DOUBT_SCORE = 6.0
#: IPTC digital source types that say a trained model made the content, in full or in part.
AI_SOURCE_TYPES = {
    manifests.manifest.TRAINED_ALGORITHMIC_MEDIA: "trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia":
        "compositeWithTrainedAlgorithmicMedia",
}
#: The training uses a dataset builder must respect (CAWG entry names without ``cawg.``).
TRAINING_USES = ("ai_training", "ai_generative_training")
#: What a row says of a use the file's manifest does not mention.
UNSPECIFIED = "unspecified"


class Policy(str, enum.Enum):
    """What to do with human-made content nobody gave notice about."""

    STRICT = "strict"          # review it
    PERMISSIVE = "permissive"  # use it


class Decision(str, enum.Enum):
    """What the row says to do with the file."""

    USE = "use"
    EXCLUDE = "exclude"
    REVIEW = "review"


@dataclass(frozen=True)
class ScanSettings:
    """How to scan: keys, trust anchors, repository, notice registry, policy (picklable, for workers).

    Attributes
    ----------
    key_paths : tuple of str
        Watermark key files; the public default key is always tried.
    trust_anchors : str, optional
        PEM roots whose signatures count as trusted.
    repository : str, optional
        Manifest repository to recover stripped manifests from (default: ``<aimark home>``'s, if any).
    notices : str, optional
        Notice registry (default: the one beside the repository, if it holds notices).
    policy : Policy
    mark_seconds : float
        Seconds of pictures the mark is read from before deciding whether to read more.
    resolvers : Resolvers, optional
        Providers' resolution services, asked (``byBinding``: the identifier only, never the video)
        for a watermark identifier the repository does not hold; their manifest is believed only
        when it chains to ``trust_anchors`` and matches the pictures (:mod:`aimark.resolution`).
    """

    key_paths: tuple[str, ...] = ()
    trust_anchors: str | None = None
    repository: str | None = None
    notices: str | None = None
    policy: Policy = Policy.STRICT
    mark_seconds: float = MARK_SECONDS
    resolvers: Resolvers | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_paths", tuple(str(p) for p in self.key_paths))
        try:
            object.__setattr__(self, "policy", Policy(self.policy))
        except ValueError:
            raise AimarkError(f"policy {self.policy!r} is not one of strict, permissive") from None

    def check(self) -> None:
        """Open every key, the repository and the registry once, so a wrong one fails before any file."""
        for path in self.key_paths:
            watermark.Key.load(path)
        if self.trust_anchors is not None:
            load_trust_anchors(self.trust_anchors)
        with opened_repository(self.repository):
            pass
        registry = open_registry(self.notices)
        if registry is not None:
            registry.close()


@dataclass(frozen=True)
class ScanRow:
    """One file of the dataset: what it is, who made it, what its rights say, and what to do with it.

    ``to_dict`` gives the row as written (see :data:`aimark.rows.FIELDS` and ``docs/datasets.md``).
    """

    path: str
    sha256: str | None = None
    size_bytes: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    manifest_state: str | None = None
    ai_generated: bool | None = None
    ai_evidence: tuple[str, ...] = ()
    identifier: str | None = None
    provider: str | None = None
    model: str | None = None
    model_version: str | None = None
    author: str | None = None
    created: str | None = None
    ai_training: str = UNSPECIFIED
    ai_generative_training: str = UNSPECIFIED
    terms: str | None = None
    rights_holder: str | None = None
    rights_statement: str | None = None
    rights_terms: str | None = None
    notice: dict[str, Any] | None = None
    decision: Decision = Decision.REVIEW
    reasons: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON Lines, CSV and Parquet alike."""
        data = asdict(self)
        data.update(ai_evidence=list(self.ai_evidence), reasons=list(self.reasons), decision=self.decision.value,
                    seconds=round(self.seconds, 3))
        return data


@dataclass
class _Evidence:
    """What the signals of one file said, gathered as they are read."""

    generated: bool | None = None
    signals: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    claims: manifests.Claims | None = None       # from a valid manifest, or recovered through the mark
    reservations: manifests.Claims | None = None  # an invalid manifest's: only its reservations count


def training_use(claims: manifests.Claims | None, use: str) -> tuple[str, str | None]:
    """A use's permission in the claims, ``allowed``, ``notAllowed``, ``constrained`` or ``unspecified``,
    and the constraint's conditions.

    Examples
    --------
    >>> training_use(None, "ai_training")
    ('unspecified', None)
    """
    value = (claims.training_mining.get(use) if claims is not None else None) or UNSPECIFIED
    permission, _, conditions = value.partition(":")
    permission = permission.strip()
    if permission not in {u.value for u in manifests.Use}:
        return UNSPECIFIED, None
    return permission, conditions.strip() or None


def decide(generated: bool | None, claims: manifests.Claims | None, reservations: manifests.Claims | None,
           notices: Sequence[NoticeMatch], policy: Policy) -> tuple[Decision, list[str], str | None]:
    """The decision for one file, its reasons, and the terms a use is subject to.

    The rule, in order:

    1. A rights holder's opt-out notice matches the pictures: **exclude**
       (also for generated content: it reproduces a reserved work).
    2. The file's manifest (or one recovered through its mark; an invalid one
       too) reserves a training use: ``notAllowed``, or ``constrained``
       without conditions (CAWG counts that as not allowed): **exclude**.
    3. It allows the use only under conditions (``constrained`` with
       ``constraint_info``): **review**, the conditions in ``terms``.
    4. Machine-generated content: **use**.
    5. A license notice matches: **use**, its terms in ``terms``.
    6. A valid manifest allows both training uses: **use**.
    7. Otherwise (human-made or unknown, nobody gave notice): **review** under
       the strict policy, **use** under the permissive one.
    """
    reasons: list[str] = []
    opted_out = [m for m in notices if m.notice.choice is Choice.OPT_OUT]
    licensed = [m for m in notices if m.notice.choice is Choice.LICENSE]
    if opted_out:
        return Decision.EXCLUDE, [f"{m.notice.claimant} opted the work out ({m.describe()})" for m in opted_out], None
    uses = {use: training_use(claims, use) for use in TRAINING_USES}
    reserved = {use: training_use(reservations, use) for use in TRAINING_USES}
    for use in TRAINING_USES:
        for source, (permission, conditions) in (("the manifest", uses[use]),
                                                 ("the invalid manifest", reserved[use])):
            if permission == manifests.Use.NOT_ALLOWED.value or (permission == "constrained" and not conditions):
                return Decision.EXCLUDE, [f"{source} reserves {use}: {permission}"
                                          + (" without conditions (counts as notAllowed)" if conditions is None
                                             and permission == "constrained" else "")], None
    constrained = [(use, c) for use, (p, c) in uses.items() if p == "constrained"]
    if constrained:
        terms = "; ".join(dict.fromkeys(c for _, c in constrained))
        return Decision.REVIEW, [f"the manifest allows {use} only under conditions: {c}" for use, c in constrained], \
            terms
    if generated:
        return Decision.USE, ["machine-generated, and no training use is reserved"], None
    if licensed:
        best = licensed[0]
        return Decision.USE, [f"{best.notice.claimant} licenses the work under {best.notice.terms} "
                              f"({best.describe()})"], best.notice.terms
    if claims is not None and all(p == manifests.Use.ALLOWED.value for p, _ in uses.values()):
        return Decision.USE, ["the signed manifest allows ai_training and ai_generative_training"], None
    who = "human-made" if generated is False else "not known to be machine-generated"
    if policy is Policy.PERMISSIVE:
        reasons.append(f"{who}, and no rights holder gave notice (permissive policy)")
        return Decision.USE, reasons, None
    reasons.append(f"{who}, and no rights holder gave notice: a person should check (strict policy)")
    return Decision.REVIEW, reasons, None


class _MarkReader:
    """The mark from the first seconds of pictures; from all of them only for the keys left in doubt."""

    def __init__(self, keys: Iterable[watermark.Key], first_seconds: float) -> None:
        unique = {key.key_id: key for key in [*keys, watermark.DEFAULT_KEY]}
        self._detector: watermark.Detector | None = watermark.Detector(list(unique.values()))
        self._first = first_seconds
        self._extended = False
        self.results: list[watermark.Detection] = []

    @property
    def reading(self) -> bool:
        return self._detector is not None

    def add(self, picture: watermark.Picture) -> None:
        if not self._extended and picture.time >= self._first:
            self._settle()
            self._extended = True
        if self._detector is not None:
            self._detector.add_picture(picture)

    def _settle(self) -> None:
        """Keep reading for the keys whose result is still in doubt; record the others'."""
        detector, self._detector = self._detector, None
        if detector is None:
            return
        doubtful = []
        for key, result in zip(detector.keys, detector.results()):
            if _in_doubt(result):
                doubtful.append(key)
            else:
                self.results.append(result)
        if doubtful:
            detector.keys = tuple(doubtful)
            self._detector = detector

    def finish(self) -> list[watermark.Detection]:
        """Every key's detection."""
        if self._detector is not None:
            self.results += self._detector.results()
            self._detector = None
        return self.results


def _in_doubt(result: watermark.Detection) -> bool:
    """Detected without a readable identifier, or not detected with a score unmarked video never reached."""
    return (result.detected and result.identifier is None) or (not result.detected and result.score >= DOUBT_SCORE)


def _read_pictures(path: Path, marks: _MarkReader | None, sampler: contentid.ContentSampler | None,
                   frames: list[tuple[np.ndarray, float]] | None) -> None:
    """One decode, stopped as soon as neither the mark nor the fingerprint needs more pictures.

    ``frames`` collects the pictures' signatures (8 x 8 block means) that a
    resolver's manifest is compared with, for the pictures the mark reads.
    """
    if marks is None and sampler is None:
        return
    for picture in read_pictures(path):
        if sampler is not None:
            sampler.add(picture.luma, picture.time, bit_depth=picture.bit_depth)
        if marks is not None and marks.reading:
            marks.add(picture)
            if frames is not None:
                frames.append((fingerprint.frame_signature(picture.luma, bit_depth=picture.bit_depth), picture.time))
        elif sampler is None:
            break


@dataclass
class _Context:
    """What every file of a scan shares, opened once per process and kept for its life."""

    keys: list[watermark.Key]
    repository: ManifestRepository | None
    registry: NoticeRegistry | None
    trust_anchors: bytes | None
    stack: ExitStack


_CONTEXTS: dict[tuple, _Context] = {}


def _context(settings: ScanSettings) -> _Context:
    """The keys, repository, registry and trust anchors of ``settings``, opened on this process's first file."""
    opened = (settings.key_paths, settings.repository, settings.notices, settings.trust_anchors)
    if opened not in _CONTEXTS:
        stack = ExitStack()
        repository = stack.enter_context(opened_repository(settings.repository))
        registry = open_registry(settings.notices)
        if registry is not None:
            stack.callback(registry.close)
        anchors = load_trust_anchors(settings.trust_anchors) if settings.trust_anchors else None
        _CONTEXTS[opened] = _Context([watermark.Key.load(p) for p in settings.key_paths], repository, registry,
                                     anchors, stack)
    return _CONTEXTS[opened]


def close_contexts() -> None:
    """Close the repositories and registries this process opened for scanning."""
    while _CONTEXTS:
        _CONTEXTS.popitem()[1].stack.close()


USER_ERRORS = (watermark.WatermarkError, manifests.ManifestError, AimarkError, OSError)


def scan_file(path: str | os.PathLike[str], settings: ScanSettings = ScanSettings()) -> ScanRow:
    """Scan one file: its row, or a row with ``error`` when it cannot be read (never an exception for that).

    Parameters
    ----------
    path : path-like
        A video file.
    settings : ScanSettings

    Returns
    -------
    ScanRow

    Examples
    --------
    >>> row = scan_file("clip.mp4", ScanSettings(policy="permissive"))  # doctest: +SKIP
    >>> row.decision, row.ai_generated, row.ai_training  # doctest: +SKIP
    (<Decision.USE: 'use'>, True, 'notAllowed')
    """
    started = time.perf_counter()
    try:
        return _scan(Path(path), settings, _context(settings), started)
    except USER_ERRORS as error:
        message = str(error) if not isinstance(error, OSError) else f"cannot read '{path}' ({error.strerror})"
        return ScanRow(str(path), decision=Decision.EXCLUDE, reasons=(f"cannot be read: {message}",),
                       error=message, seconds=time.perf_counter() - started)


def _scan(path: Path, settings: ScanSettings, context: _Context, started: float) -> ScanRow:
    facts = file_facts(path)
    report, _, aigc = manifest_layer(path, settings.trust_anchors)
    evidence = _Evidence()
    state = None if report is None else report.state.value
    claims = report.claims if report is not None and report.manifest_present else None
    valid = claims is not None and report.state is not manifests.ValidationState.INVALID
    if valid:
        evidence.claims = claims
        _source_type(evidence, claims, "the signed manifest")
    elif claims is not None:
        evidence.reservations = claims
        evidence.reasons.append(f"the manifest no longer matches the file ({'; '.join(report.reasons)}): its claims "
                                "are not used, only its reservations")
    if aigc is not None:
        if aigc.label == "1":
            evidence.signals.append("aigc:1")
            evidence.generated = True
        evidence.reasons.append(f"AIGC label {aigc.label} ({manifests.labels.LABEL_MEANINGS[aigc.label]}), "
                                f"producer {aigc.content_producer or '?'}")

    answered = valid and claims.digital_source_type is not None
    marks = None if answered else _MarkReader(context.keys, settings.mark_seconds)
    sampler = contentid.ContentSampler() if context.registry is not None else None
    frames: list[tuple[np.ndarray, float]] | None = [] if settings.resolvers is not None else None
    _read_pictures(path, marks, sampler, frames)
    identifier = claims.watermark_identifier if valid else None
    found = _mark(evidence, marks.finish(), context.repository) if marks is not None else None
    if found is not None and found.identifier:
        identifier = found.identifier
        if evidence.claims is None and frames is not None:
            _resolve(evidence, found, path, settings.resolvers, context.trust_anchors, frames)
    notices = context.registry.search(sampler.query()) if sampler is not None else []

    decision, reasons, terms = decide(evidence.generated, evidence.claims, evidence.reservations, notices,
                                      settings.policy)
    c = evidence.claims
    ai_training, ai_generative_training = (training_use(c or evidence.reservations, use)[0] for use in TRAINING_USES)
    notice = next((m for m in notices if m.notice.choice is Choice.OPT_OUT), notices[0] if notices else None)
    return ScanRow(
        path=str(path), sha256=facts.sha256, size_bytes=facts.size_bytes, duration=round(facts.duration, 3),
        width=facts.width, height=facts.height, codec=facts.codec, manifest_state=state,
        ai_generated=evidence.generated, ai_evidence=tuple(evidence.signals), identifier=identifier,
        provider=c.organisation if c else None, model=c.model if c else None,
        model_version=c.model_version if c else None, author=c.author if c else None,
        created=c.created if c else None, ai_training=ai_training, ai_generative_training=ai_generative_training,
        terms=terms, rights_holder=c.rights_holder if c else None,
        rights_statement=c.rights_statement if c else None, rights_terms=c.rights_terms if c else None,
        notice=notice.to_dict() if notice else None, decision=decision,
        reasons=tuple(reasons + evidence.reasons + [f"also: {m.describe()}" for m in notices if m is not notice]),
        seconds=time.perf_counter() - started)


def _resolve(evidence: _Evidence, detection: watermark.Detection, path: Path, resolvers: Resolvers,
             trust_anchors: bytes | None, frames: list[tuple[np.ndarray, float]]) -> None:
    """Ask the resolvers for the manifest of an identifier the repository does not hold (the identifier only)."""
    pictures = (np.array([s for s, _ in frames], np.float32).reshape(len(frames), -1), np.array([t for _, t in frames]))
    answers = resolve(resolvers, identifier=detection.identifier, path=path, trust_anchors=trust_anchors,
                      compare=lambda record: recorded(record, pictures, detection.flipped))
    believed = accepted(answers)
    for answer in answers:
        if not answer.accepted:
            evidence.reasons.append(f"resolver {answer.resolver} was not believed or gave nothing "
                                    f"({answer.refused or 'no answer'})")
    if believed is None:
        return
    evidence.signals.append(f"resolver:{believed.resolver}")
    evidence.claims = stored_claims(believed.record.store)
    evidence.reasons.append(f"resolver {believed.resolver} gave the manifest ({believed.manifest_id}), signed under a "
                            "trusted root, bound to the identifier and matching the pictures")
    _source_type(evidence, evidence.claims, "the resolved manifest")


def _source_type(evidence: _Evidence, claims: manifests.Claims, where: str) -> None:
    """What a manifest's digital source type says about who made the content."""
    source = claims.digital_source_type
    if source in AI_SOURCE_TYPES:
        evidence.signals.append(f"c2pa:{AI_SOURCE_TYPES[source]}")
        evidence.generated = True
        evidence.reasons.append(f"{where} says {AI_SOURCE_TYPES[source]}")
    elif source is not None and evidence.generated is None:
        evidence.generated = False
        evidence.reasons.append(f"{where} says {source.rsplit('/', 1)[-1]}")


def _mark(evidence: _Evidence, detections: list[watermark.Detection],
          repository: ManifestRepository | None) -> watermark.Detection | None:
    """What the marks found say, and the manifest recovered through the best one (which is returned)."""
    found = sorted((d for d in detections if d.detected), key=lambda d: (d.identifier is None, -d.score))
    for detection in found:
        evidence.signals.append(f"watermark:{detection.key_id}")
    if not found:
        return None
    evidence.generated = True
    best = found[0]
    evidence.reasons.append(f"an invisible watermark is present (key {best.key_id}, identifier "
                            f"{best.identifier or 'unreadable'}, false-alarm bound {best.false_alarm_probability:.1e})")
    record = repository.get(best.identifier) if repository is not None and best.identifier else None
    if record is not None and evidence.claims is None:
        evidence.signals.append(f"repository:{best.identifier}")
        evidence.claims = stored_claims(record.store)
        evidence.reasons.append(f"the manifest recovered through the watermark ({record.manifest_id}) "
                                f"states the training choices")
        _source_type(evidence, evidence.claims, "the recovered manifest")
    return best
