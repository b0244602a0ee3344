"""Reading a video's provenance: validation, claims and disclosure items, offline.

One call, :func:`inspect_file`, answers what a platform, a forensic examiner
or a dataset builder asks of a single file: is there a manifest, does it
still match the file, who signed it and can that signer be trusted, what does
it claim, and which items of the Chinese, EU and Californian rules are present
or missing. 'Nothing found' is a report, not an exception.
"""

from __future__ import annotations

import enum
import io
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509

from manifests.boxes import check_structure
from manifests.credentials import TEST_MARKER
from manifests.description import identifier_from_binding
from manifests.errors import CredentialError, DescriptionError, MediaError
from manifests.labels import LABEL_MEANINGS, AigcLabel, read_aigc
from manifests.manifest import CAWG_USES, GENERATION_ASSERTION, TRAINED_ALGORITHMIC_MEDIA
from manifests.media import media_type


class ValidationState(str, enum.Enum):
    """The four answers to 'can this manifest be relied on?'."""

    TRUSTED = "trusted"
    VALID = "valid but untrusted"
    INVALID = "invalid"
    ABSENT = "absent"


# Plain words for the failure codes users meet most; others keep c2pa-rs's explanation.
_FAILURES = {
    "assertion.bmffHash.mismatch": "content changed after signing",
    "assertion.dataHash.mismatch": "content changed after signing",
    "assertion.hashedURI.mismatch": "an assertion changed after signing",
    "claimSignature.mismatch": "the signature does not match the claim",
    "signingCredential.expired": "the signing certificate had expired when it signed",
    "signingCredential.revoked": "the signing certificate is revoked",
    "signingCredential.invalid": "the signing certificate is outside the C2PA profile",
}
# Reported by c2pa-rs among failures, but it is what 'valid but untrusted' means.
_UNTRUSTED = "signingCredential.untrusted"


@dataclass(frozen=True)
class SignatureInfo:
    """Who signed the active manifest, as its certificate says.

    ``development`` is the certificate's own statement (aimark's test marker in
    its organisation name); it only ever explains an untrusted signature.
    """

    common_name: str | None
    organisation: str | None
    algorithm: str | None
    time_stamp: str | None
    development: bool

    def __str__(self) -> str:
        name = ", ".join(part for part in (self.common_name, self.organisation) if part) or "unnamed signer"
        stamp = f"time-stamped {self.time_stamp}" if self.time_stamp else "no trusted time stamp"
        return f"{name} ({(self.algorithm or '?').upper()}, {stamp})"


@dataclass(frozen=True)
class Claims:
    """What the manifest states about the video's origin.

    For a video passed on by a platform, these come from the producer's
    manifest (the ``parentOf`` ingredient that says ``c2pa.created``).
    """

    ai_generated: bool
    digital_source_type: str | None
    model: str | None
    model_version: str | None
    author: str | None
    organisation: str | None
    created: str | None
    identifier: str | None
    watermark_identifier: str | None
    training_mining: dict[str, str]
    prompt_digest: str | None
    visible_notice: str | None
    claim_generator: str | None
    rights_holder: str | None = None
    rights_owners: tuple[str, ...] = ()
    rights_statement: str | None = None
    rights_terms: str | None = None
    contributions: dict[str, dict[str, Any]] | None = None

    def ownership(self) -> str | None:
        """Who holds the rights, in words: 'user (Ada Li) under https://...', or None when not stated."""
        if not (self.rights_holder or self.rights_statement):
            return None
        who = f"{self.rights_holder or 'holder not named'}" + (f" ({', '.join(self.rights_owners)})"
                                                                if self.rights_owners else "")
        return who + (f": {self.rights_statement}" if self.rights_statement else "") + \
            (f"; terms {self.rights_terms}" if self.rights_terms else "")

    def contributed(self) -> str | None:
        """Who contributed what, in words: 'user: prompt, 2 inputs; provider: prompt expansion, model VidGen 2.1'."""
        if not self.contributions:
            return None
        user, provider = (_mapping(self.contributions.get(party)) for party in ("user", "provider"))
        inputs = len(_items_or_text(user.get("input_digests")))
        mine = [part for part, given in (("prompt", user.get("prompt_digest")),
                                         (f"{inputs} input{'s' * (inputs != 1)}", inputs)) if given]
        model = " ".join(str(provider[k]) for k in ("model", "model_version") if provider.get(k))
        theirs = [part for part, given in (("prompt expansion", provider.get("prompt_expansion_digest")),
                                           (f"model {model}", model)) if given]
        return f"user: {', '.join(mine) or 'nothing recorded'}; provider: {', '.join(theirs) or 'nothing recorded'}"


@dataclass(frozen=True)
class Disclosure:
    """One item a labelling rule asks for, and whether the file has it."""

    regime: str
    item: str
    found: bool
    detail: str


@dataclass(frozen=True)
class Report:
    """Everything :func:`inspect_file` learnt about one file.

    Attributes
    ----------
    path : str
        The file inspected.
    state : ValidationState
        Trusted, valid but untrusted, invalid, or absent.
    reasons : tuple of str
        Why the state is what it is (failures when invalid; development
        credentials or unknown signer when untrusted).
    signer : SignatureInfo, optional
        Signer of the active manifest.
    claims : Claims, optional
        The producer's claims, when a manifest is present.
    aigc : AigcLabel, optional
        China's implicit label from the container metadata.
    disclosures : tuple of Disclosure
        China, EU and California items, found or missing.
    notes : tuple of str
        Inconsistencies between layers, e.g. a label without a manifest.
    manifests : int
        Number of manifests in the store (more than one after propagation).
    """

    path: str
    state: ValidationState
    reasons: tuple[str, ...]
    signer: SignatureInfo | None
    claims: Claims | None
    aigc: AigcLabel | None
    disclosures: tuple[Disclosure, ...]
    notes: tuple[str, ...]
    manifests: int

    @property
    def manifest_present(self) -> bool:
        """Whether the file carries a C2PA manifest at all."""
        return self.state is not ValidationState.ABSENT

    @property
    def verdict(self) -> str:
        """The state with its reasons, e.g. 'valid but untrusted (development credentials)'."""
        return f"{self.state.value} ({'; '.join(self.reasons)})" if self.reasons else self.state.value

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "file": self.path,
            "manifest_present": self.manifest_present,
            "state": self.state.value,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "signer": asdict(self.signer) if self.signer else None,
            "claims": asdict(self.claims) if self.claims else None,
            "aigc": self.aigc.to_dict() if self.aigc else None,
            "disclosures": [asdict(item) for item in self.disclosures],
            "notes": list(self.notes),
            "manifests": self.manifests,
        }


def format_time(value: datetime | str | None) -> str | None:
    """The one way reports write a time: ``2026-08-02 14:05:09 UTC`` (ISO 8601 text is converted).

    Examples
    --------
    >>> format_time("2026-08-02T16:05:09.5+02:00")
    '2026-08-02 14:05:09 UTC'
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # not a time a manifest should hold: show it as it is
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def c2pa_context(trust_anchors: bytes | None = None) -> c2pa.Context:
    """c2pa settings for aimark: never fetch remote manifests; optional trust anchors."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors.decode("ascii")}
    return c2pa.Context.from_dict(settings)


def manifest_store(path: str | os.PathLike[str], trust_anchors: bytes | None = None
                   ) -> tuple[dict[str, Any], str] | None:
    """The manifest store of ``path`` and its validation state, or None when it has none.

    Raises
    ------
    MediaError
        If the file is unsupported, unreadable, or its manifest cannot be parsed.
    """
    mime = media_type(path)
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=c2pa_context(trust_anchors))
            if reader is None:
                return None
            with reader:
                return json.loads(reader.json()), reader.get_validation_state() or "Invalid"
    except OSError as error:
        raise MediaError(f"cannot read '{path}' ({error.strerror}); check the path") from None
    except c2pa.C2paError as error:
        raise MediaError(f"the manifest in '{path}' cannot be read ({' '.join(str(error).split())}); "
                         "the file is damaged") from None


#: Failures expected when a manifest store is validated without its video (or against a
#: re-encoded copy): the hard binding hashes bytes that are no longer there (C2PA 2.2, 18.10.5.1).
HARD_BINDING_FAILURES = frozenset({"assertion.bmffHash.mismatch", "assertion.dataHash.mismatch",
                                   "assertion.boxesHash.mismatch", "assertion.collectionHash.mismatch"})


def validate_store(store: bytes, trust_anchors: bytes | None = None) -> tuple[ValidationState, tuple[str, ...]]:
    """Validate a manifest store on its own: its signature, its certificate chain, its assertions.

    For a manifest recovered from a repository: the video it was signed with
    is gone (re-encoded, stripped), so hard-binding mismatches are expected
    and ignored; every other check must pass. The answer is ``TRUSTED`` only
    when the signer chains to one of ``trust_anchors``.

    Returns
    -------
    (ValidationState, reasons)
        ``INVALID`` with the failure codes in plain words, ``VALID`` (untrusted
        signer) or ``TRUSTED``.

    Examples
    --------
    >>> validate_store(record.store, load_trust_anchors("root.pem"))  # doctest: +SKIP
    (<ValidationState.TRUSTED: 'trusted'>, ())
    """
    try:
        with c2pa.Reader("application/c2pa", io.BytesIO(store), context=c2pa_context(trust_anchors)) as reader:
            data = json.loads(reader.json())
    except (c2pa.C2paError, ValueError) as error:
        return ValidationState.INVALID, (f"not a readable C2PA manifest store ({' '.join(str(error).split())})",)
    results = _mapping(_mapping(data.get("validation_results")).get("activeManifest"))
    codes = {_text(item.get("code")) for item in _items(results.get("success"))}
    failures = [item for item in _items(results.get("failure")) if item.get("code") not in HARD_BINDING_FAILURES]
    reasons = [f"{_FAILURES.get(item.get('code'), item.get('explanation') or item.get('code'))} ({item.get('code')})"
               for item in failures if item.get("code") != _UNTRUSTED]
    if reasons or "claimSignature.validated" not in codes:
        return ValidationState.INVALID, tuple(dict.fromkeys(reasons)) or ("the claim signature was not validated",)
    if "signingCredential.trusted" in codes:
        return ValidationState.TRUSTED, ()
    active = _mapping(_mapping(data.get("manifests")).get(_text(data.get("active_manifest"))))
    return ValidationState.VALID, ("development credentials" if _signature(active).development else "unknown signer",)


def load_trust_anchors(path: str | os.PathLike[str]) -> bytes:
    """Read a PEM file of root certificates to trust.

    Raises
    ------
    CredentialError
        If the file cannot be read or holds no PEM certificate.
    """
    try:
        pem = Path(path).read_bytes()
        x509.load_pem_x509_certificates(pem)
    except OSError as error:
        raise CredentialError(f"cannot read trust anchors '{path}' ({error.strerror}); check the path") from None
    except ValueError:
        raise CredentialError(f"trust anchors '{path}' hold no PEM certificate; give the root CA's "
                              "PEM file (e.g. root.pem from `aimark certs init`)") from None
    return pem


def inspect_file(path: str | os.PathLike[str], *,
                 trust_anchors: str | os.PathLike[str] | None = None) -> Report:
    """Validate a video's manifest and report its claims and disclosure items.

    Works offline: remote manifests are never fetched.

    Parameters
    ----------
    path : path-like
        An MP4 or MOV file.
    trust_anchors : path-like, optional
        PEM file of root certificates whose signatures count as trusted.

    Returns
    -------
    Report

    Raises
    ------
    MediaError
        Missing or unsupported file, or a manifest too damaged to parse.
    CredentialError
        Unreadable trust anchors.

    Examples
    --------
    >>> report = inspect_file("signed.mp4", trust_anchors="certs/root.pem")  # doctest: +SKIP
    >>> report.verdict  # doctest: +SKIP
    'trusted'
    """
    media_type(path)
    if not Path(path).is_file():
        raise MediaError(f"'{path}' does not exist or is not a file; check the path")
    check_structure(path)  # a truncated file must not read as merely unsigned
    anchors = load_trust_anchors(trust_anchors) if trust_anchors is not None else None
    notes: list[str] = []
    try:
        aigc = read_aigc(path)
    except (MediaError, DescriptionError) as error:
        aigc = None
        notes.append(f"container metadata: {error}")
    read = manifest_store(path, anchors)
    if read is None:
        state, reasons, signer, claims, count = ValidationState.ABSENT, (), None, None, 0
        if aigc is not None:
            notes.append("AIGC label present but no C2PA manifest: stripped, or never signed")
    else:
        store, native_state = read
        active = store["manifests"][store["active_manifest"]]
        signer = _signature(active)
        state, reasons = _state(native_state, store, signer)
        claims = _claims(store)
        count = len(store["manifests"])
        notes.extend(_consistency(claims, aigc))
    return Report(str(path), state, reasons, signer, claims, aigc,
                  _disclosures(state, claims, aigc, signer), tuple(notes), count)


def _state(native: str, store: dict[str, Any], signer: SignatureInfo
           ) -> tuple[ValidationState, tuple[str, ...]]:
    if native == "Trusted":
        return ValidationState.TRUSTED, ()
    if native == "Valid":
        return ValidationState.VALID, ("development credentials" if signer.development else "unknown signer",)
    results = store.get("validation_results") or {}
    failures = list((results.get("activeManifest") or {}).get("failure", []))
    for delta in results.get("ingredientDeltas") or []:
        failures.extend((delta.get("validationDeltas") or {}).get("failure", []))
    if not results:
        failures = store.get("validation_status") or []
    reasons = []
    for failure in failures:
        code = failure.get("code", "")
        if code != _UNTRUSTED:
            reasons.append(f"{_FAILURES.get(code, failure.get('explanation') or code)} ({code})")
    return ValidationState.INVALID, tuple(dict.fromkeys(reasons)) or ("no reason given by c2pa-rs",)


# A manifest store's assertions are whatever its signer wrote (any JSON): every value is read
# through these, so a forged store yields missing claims, not a traceback.
def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _signature(manifest: dict[str, Any]) -> SignatureInfo:
    info = _mapping(manifest.get("signature_info"))
    organisation, common_name = _text(info.get("issuer")), _text(info.get("common_name"))
    development = any(TEST_MARKER in (value or "") for value in (organisation, common_name))
    return SignatureInfo(common_name, organisation, _text(info.get("alg")), _text(info.get("time")), development)


def _assertions(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Assertion data by label, with versioned action labels folded into 'c2pa.actions'."""
    found: dict[str, dict[str, Any]] = {}
    for assertion in _items(manifest.get("assertions")):
        label = _text(assertion.get("label")) or ""
        if label.startswith("c2pa.actions"):
            label = "c2pa.actions"
        found.setdefault(label, _mapping(assertion.get("data")))
    return found


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return _items(_assertions(manifest).get("c2pa.actions", {}).get("actions"))


def _origin(store: dict[str, Any]) -> dict[str, Any]:
    """The manifest that created the content: follow parentOf ingredients from the active one."""
    manifests = store["manifests"]
    manifest = manifests[store["active_manifest"]]
    for _ in range(len(manifests)):
        if any(action.get("action") == "c2pa.created" for action in _actions(manifest)):
            return manifest
        parents = [i.get("active_manifest") for i in _items(manifest.get("ingredients"))
                   if i.get("relationship") == "parentOf" and _text(i.get("active_manifest")) in manifests]
        if not parents:
            break
        manifest = _mapping(manifests[parents[0]])
    return manifest


def active_assertions(store: dict[str, Any]) -> list[dict[str, Any]]:
    """The assertions (``label`` and ``data``) of a manifest store's active manifest, as c2pa-rs reads them."""
    active = _mapping(_mapping(store.get("manifests")).get(_text(store.get("active_manifest"))))
    return _items(active.get("assertions"))


def _items_or_text(value: Any) -> list[str]:
    """A list of texts from a JSON value that should be one (a single text counts as a list of one)."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [text for text in map(_first, values) if text]


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@id")
    return _text(value)


def _claims(store: dict[str, Any]) -> Claims:
    manifest = _origin(store)
    assertions = _assertions(manifest)
    created = next((a for a in _actions(manifest) if a.get("action") == "c2pa.created"), {})
    agent = created.get("softwareAgent") or {}
    if isinstance(agent, str):
        agent = {"name": agent}
    agent = _mapping(agent)
    metadata = assertions.get("cawg.metadata", {})
    generation = assertions.get(GENERATION_ASSERTION, {})
    rights = _mapping(generation.get("rights"))
    entries = _mapping(assertions.get("cawg.training-mining", {}).get("entries"))
    training = {}
    for name, entry_name in CAWG_USES.items():
        entry = _mapping(entries.get(entry_name))
        if entry:
            constraint = _text(entry.get("constraint_info"))
            training[name] = f"{entry.get('use')}: {constraint}" if constraint else str(entry.get("use"))
    blocks = _items(assertions.get("c2pa.soft-binding", {}).get("blocks")) or [{}]
    watermark = (_text(_mapping(generation.get("watermark")).get("identifier"))
                 or _block_identifier(blocks[0].get("value")))
    generators = _items(manifest.get("claim_generator_info")) or [{}]
    generator = " ".join(str(generators[0].get(k)) for k in ("name", "version") if generators[0].get(k))
    source_type = _text(created.get("digitalSourceType"))
    return Claims(
        ai_generated=source_type == TRAINED_ALGORITHMIC_MEDIA,
        digital_source_type=source_type,
        model=_text(agent.get("name")),
        model_version=_text(agent.get("version")),
        author=_first(metadata.get("dc:creator")),
        organisation=_first(metadata.get("dc:publisher")),
        created=_text(created.get("when")),
        identifier=_text(generation.get("identifier")) or _first(metadata.get("dc:identifier")),
        watermark_identifier=watermark,
        training_mining=training,
        prompt_digest=_text(generation.get("prompt_digest")),
        visible_notice=_text(generation.get("visible_notice")),
        claim_generator=generator or _text(manifest.get("claim_generator")),
        rights_holder=_text(rights.get("holder")),
        rights_owners=tuple(_items_or_text(metadata.get("xmpRights:Owner") or rights.get("owners"))),
        rights_statement=_first(metadata.get("dc:rights")) or _text(rights.get("statement")),
        rights_terms=_text(metadata.get("xmpRights:WebStatement") or rights.get("terms")),
        contributions={party: _mapping(value) for party, value in
                       _mapping(generation.get("contributions")).items()} or None,
    )


def _block_identifier(value: Any) -> str | None:
    """The identifier a soft-binding block names: decoded when it is 8 bytes of base64, else as written."""
    if not isinstance(value, str):
        return None
    try:
        return identifier_from_binding(value)
    except DescriptionError:
        return value


def _consistency(claims: Claims, aigc: AigcLabel | None) -> list[str]:
    notes = []
    if aigc is not None and claims.identifier and aigc.produce_id != claims.identifier:
        notes.append(f"AIGC ProduceID {aigc.produce_id!r} differs from the manifest's identifier "
                     f"{claims.identifier!r}")
    if aigc is not None and aigc.label == "1" and not claims.ai_generated:
        notes.append("AIGC label says AI-generated but the manifest does not")
    return notes


def _disclosures(state: ValidationState, claims: Claims | None, aigc: AigcLabel | None,
                 signer: SignatureInfo | None) -> tuple[Disclosure, ...]:
    """Which items of each rule the file carries; manifest items count only from a valid manifest."""
    usable = state in (ValidationState.TRUSTED, ValidationState.VALID) and claims is not None
    unusable = {ValidationState.ABSENT: "no C2PA manifest", ValidationState.INVALID: "the manifest is invalid"}

    def from_manifest(regime: str, item: str, value: str | None, missing: str) -> Disclosure:
        if not usable:
            return Disclosure(regime, item, False, unusable[state])
        return Disclosure(regime, item, bool(value), value or missing)

    c = claims
    model = " ".join(part for part in (c.model, c.model_version) if part) if c else None
    items = [
        Disclosure("China", "implicit label (AIGC metadata)", aigc is not None,
                   f"Label {aigc.label}: {LABEL_MEANINGS[aigc.label]}" if aigc
                   else "no AIGC key in moov/udta/meta"),
        Disclosure("China", "content producer and ID in the label",
                   bool(aigc and aigc.content_producer and aigc.produce_id),
                   f"{aigc.content_producer or '?'} / {aigc.produce_id or '?'}" if aigc else "no AIGC label"),
        from_manifest("China", "explicit label (visible notice)", c and c.visible_notice and
                      f"declared: {c.visible_notice!r}", "not declared in the manifest; check the picture"),
        from_manifest("EU", "machine-readable AI marking (C2PA)", c and c.ai_generated and
                      "digital source type trainedAlgorithmicMedia",
                      "the manifest does not say trainedAlgorithmicMedia"),
        from_manifest("EU", "trusted time stamp", signer and signer.time_stamp,
                      "signed without a time-stamp authority"),
        from_manifest("EU", "watermark linked (soft binding)", c and c.watermark_identifier and
                      f"identifier {c.watermark_identifier}", "no watermark declared"),
        from_manifest("California", "provider name", c and c.organisation, "no organisation"),
        from_manifest("California", "system name and version",
                      c and c.model and c.model_version and model,
                      f"version missing for {model}" if model else "no model named"),
        from_manifest("California", "creation time and date", c and format_time(c.created), "no time"),
        from_manifest("California", "unique identifier", c and c.identifier, "no identifier"),
    ]
    return tuple(items)

