"""Asking providers' resolvers who made a video, and deciding whether to believe the answer.

A platform holds the video but not the provider's repository. For an
identifier its watermark carries, each resolver is asked (``byBinding``);
for a mark only the provider's private key can see, the video itself may be
sent (``byContent``), but only when the platform says so (``send_content``):
uploading a user's video is the platform's decision, never a default.

A resolver's answer is a claim, not a fact. A manifest store it returns is
believed only when all of these hold:

1. its signature validates and its certificate chains to a trust anchor the
   platform gave (hard-binding failures are expected: the video is re-encoded);
2. every ``c2pa.soft-binding`` in it names the algorithm and value looked up
   (C2PA 2.2, 18.10.5.1), or, for a content lookup, aimark's algorithm;
3. the picture fingerprint signed inside it matches the pictures in hand
   (the SBR document's check against a watermark copied onto other content).

Anything else (unreachable, too slow, unsigned, untrusted, another video's
manifest, other pictures) is a refusal with its reason, and never a
recovered verdict.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping

import manifests
from aimark.resolver import DEFAULT_TIMEOUT, ResolverClient, ResolverError, check_url, media_type_of
from manifests import WATERMARK_ALGORITHM, ValidationState, binding_value
from manifests.repository import Record, RepositoryError, record_from_store, soft_bindings
from watermark.fingerprint import FingerprintMatch


@dataclass(frozen=True)
class Resolvers:
    """Which resolvers to ask, and how.

    Attributes
    ----------
    urls : tuple of str
        Base URLs of SBR services, asked in order.
    send_content : bool
        Whether the video may be uploaded to them when no identifier could be read locally.
    send_evidence : bool
        Whether key-independent evidence (:mod:`aimark.evidence`) may be sent instead, before
        any upload: the provider's keys search it, the video stays here.
    timeout : float
        Seconds per request; a slower resolver is a reason, not a failure.
    tokens : mapping of str to str
        Bearer tokens by resolver URL, for resolvers whose reads need a ``fetch`` token
        (each token goes only to its own resolver).
    """

    urls: tuple[str, ...] = ()
    send_content: bool = False
    timeout: float = DEFAULT_TIMEOUT
    tokens: Mapping[str, str] = field(default_factory=dict)
    send_evidence: bool = False

    def __post_init__(self) -> None:
        for url in self.urls:
            check_url(url, token=url.rstrip("/") in {u.rstrip("/") for u in self.tokens})


@dataclass(frozen=True)
class Resolution:
    """What one resolver said about the video, and whether it was believed.

    Attributes
    ----------
    resolver : str
    method : str
        ``"byBinding"``, ``"byContent"`` or ``"byEvidence"``.
    manifest_id : str, optional
        The manifest it pointed to, if any.
    record : Record, optional
        The record rebuilt from its manifest store, only when every check passed.
    refused : str, optional
        Why nothing it said is believed (unreachable, no match, a failed check).
    """

    resolver: str
    method: str
    manifest_id: str | None
    record: Record | None
    refused: str | None

    @property
    def accepted(self) -> bool:
        return self.record is not None

    def to_dict(self) -> dict:
        return {"resolver": self.resolver, "method": self.method, "manifest_id": self.manifest_id,
                "accepted": self.accepted, "refused": self.refused}


def check_store(store: bytes, *, trust_anchors: bytes | None, alg: str, value: str | None) -> str | None:
    """Why a resolver's manifest store must not be believed, or None when its signature and bindings hold.

    ``value`` is the binding value looked up (None for a content lookup, where
    only the algorithm is known to the platform).
    """
    state, reasons = manifests.validate_store(store, trust_anchors)
    if state is ValidationState.INVALID:
        return f"its manifest does not validate ({'; '.join(reasons)})"
    if state is not ValidationState.TRUSTED:
        return (f"its manifest is {state.value} ({'; '.join(reasons)}): give the provider's root certificate "
                "with --trust-anchors to trust it")
    try:
        bindings = soft_bindings(store)
    except RepositoryError as error:
        return str(error)
    if not bindings:
        return "its manifest declares no soft binding"
    wrong = [(a, v) for a, v in bindings if a != alg or (value is not None and v != value)]
    if wrong:
        looked_up = f"{alg} {value}" if value is not None else alg
        return (f"its manifest is bound to {', '.join(f'{a} {v}' for a, v in wrong)}, not to {looked_up} "
                "that was looked up: the manifest of another video")
    return None


def _ask(client: ResolverClient, method: str, identifier: str | None, path: Path, evidence: bytes | None,
         trust_anchors: bytes | None, compare: Callable[[Record], FingerprintMatch | None]) -> Resolution:
    value = binding_value(identifier) if identifier else None
    try:
        if method == "byBinding":
            matches = client.by_binding(WATERMARK_ALGORITHM, value)
        elif method == "byEvidence":
            matches = client.by_evidence(evidence)
        else:
            matches = client.by_content(path, media_type_of(path))
    except ResolverError as error:
        return Resolution(client.url, method, None, None, str(error))
    if not matches:
        return Resolution(client.url, method, None, None, "no manifest registered for it there")
    refusals = []
    for match in matches:
        if match.endpoint and match.endpoint.rstrip("/") != client.url:
            refusals.append(f"{match.manifest_id} is held by another resolver ({match.endpoint}); ask it directly")
            continue
        try:
            fetched = client.manifest(match.manifest_id)
        except ResolverError as error:
            refusals.append(str(error))
            continue
        reason = check_store(fetched.store, trust_anchors=trust_anchors, alg=WATERMARK_ALGORITHM, value=value)
        if reason is None:
            try:
                record = record_from_store(fetched.store, registered=fetched.registered or datetime.now(timezone.utc))
            except RepositoryError as error:
                reason = str(error)
        if reason is None and record.manifest_id != match.manifest_id:
            reason = f"it served manifest {record.manifest_id} when asked for {match.manifest_id}"
        if reason is None:
            pictures = compare(record)
            if pictures is None or not pictures.matches:
                reason = ("the picture fingerprint signed in its manifest does not match these pictures"
                          + (f" ({pictures.matching} of {pictures.compared} seconds)" if pictures else "")
                          + ": a watermark copied onto other content, or a heavy crop")
        if reason is None:
            return Resolution(client.url, method, match.manifest_id, record, None)
        refusals.append(f"{match.manifest_id}: {reason}")
    return Resolution(client.url, method, matches[0].manifest_id, None, "; ".join(refusals))


def resolve(resolvers: Resolvers, *, identifier: str | None, path: str | os.PathLike[str],
            trust_anchors: bytes | None, compare: Callable[[Record], FingerprintMatch | None],
            evidence: Callable[[], bytes] | None = None) -> tuple[Resolution, ...]:
    """Ask each resolver in turn until one gives a manifest that passes every check.

    Parameters
    ----------
    resolvers : Resolvers
    identifier : str, optional
        The identifier the watermark carries; None when no key here could read
        one (then the video is sent only if ``resolvers.send_content``).
    path : path-like
        The video, for a content lookup.
    trust_anchors : bytes, optional
        PEM roots a resolver's manifest must chain to.
    compare : callable
        The pictures against a record's fingerprint (see :func:`aimark.verify.verify`).
    evidence : callable, optional
        Gives the video's key-independent evidence, when ``send_evidence`` allows sending it.

    Returns
    -------
    tuple of Resolution
        One per resolver asked, the accepted one (if any) last.
    """
    if identifier:
        methods = ["byBinding"]
    else:  # the least revealing first: evidence, then the video itself
        methods = (["byEvidence"] if resolvers.send_evidence and evidence else []) + (
            ["byContent"] if resolvers.send_content else [])
    body = evidence() if "byEvidence" in methods else None
    tokens = {u.rstrip("/"): t for u, t in resolvers.tokens.items()}
    answers = []
    for method in methods:
        for url in resolvers.urls:
            with ResolverClient(url, token=tokens.get(url.rstrip("/")), timeout=resolvers.timeout) as client:
                answer = _ask(client, method, identifier, Path(path), body, trust_anchors, compare)
            answers.append(answer)
            if answer.accepted:
                return tuple(answers)
    return tuple(answers)


def accepted(resolutions: Iterable[Resolution]) -> Resolution | None:
    """The resolution that was believed, if any."""
    return next((r for r in resolutions if r.accepted), None)
