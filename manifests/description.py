"""What a provider states about one generated video, before it becomes a manifest.

The description is deliberately small and typed: every field maps to one item a
labelling rule asks for (author and organisation for attribution, model name
and version and time for California SB 942, the identifier for SB 942 and
GB 45438-2025's ``ProduceID``, the training and mining choices for CAWG). It
holds a digest of the prompt, never the prompt, because prompts can be
personal data or trade secrets while a digest still lets the provider prove
later which prompt produced the video.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Iterable
from urllib.parse import urlsplit

from manifests.errors import DescriptionError
from manifests.media import sha256_file

_IDENTIFIER = re.compile(r"[0-9a-f]{16}")
#: How far in the future a creation time may be: clocks of two machines differ a little, not by years.
CLOCK_SKEW = timedelta(minutes=5)
_PROMPT_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Use(str, enum.Enum):
    """The three answers CAWG training-and-mining entries allow."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "notAllowed"
    CONSTRAINED = "constrained"


@dataclass(frozen=True)
class Permission:
    """One training-or-mining choice, with the conditions when constrained.

    Parameters
    ----------
    use : Use
        Allowed, not allowed, or allowed under conditions.
    constraint : str, optional
        Where the conditions are stated (text or URL); required exactly when
        ``use`` is ``Use.CONSTRAINED``, as CAWG's ``constraint_info`` is.
    """

    use: Use
    constraint: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "use", Use(self.use))
        if (self.use is Use.CONSTRAINED) != bool(self.constraint):
            raise DescriptionError(
                f"permission {self.use.value!r} with constraint {self.constraint!r}: "
                "give a constraint exactly when the use is 'constrained', "
                "e.g. 'constrained:licence at https://example.com/terms'")

    @classmethod
    def parse(cls, text: str) -> Permission:
        """Read ``allowed``, ``notAllowed`` or ``constrained:CONDITIONS``.

        Examples
        --------
        >>> Permission.parse("constrained:research only").constraint
        'research only'
        """
        use, _, constraint = text.partition(":")
        try:
            return cls(Use(use.strip()), constraint.strip() or None)
        except ValueError as error:
            if isinstance(error, DescriptionError):
                raise
            raise DescriptionError(
                f"permission {text!r} is not one of 'allowed', 'notAllowed' or "
                "'constrained:CONDITIONS'") from None

    def __str__(self) -> str:
        return f"{self.use.value}:{self.constraint}" if self.constraint else self.use.value


@dataclass(frozen=True)
class TrainingMining:
    """Whether the video may be mined or used by AI, in CAWG's four categories.

    The defaults are aimark's stated policy for generated output: it may be
    analysed by AI systems (inference, e.g. moderation), but not mined or used
    to train models unless the provider says so.
    """

    data_mining: Permission = Permission(Use.NOT_ALLOWED)
    ai_inference: Permission = Permission(Use.ALLOWED)
    ai_training: Permission = Permission(Use.NOT_ALLOWED)
    ai_generative_training: Permission = Permission(Use.NOT_ALLOWED)

    @classmethod
    def parse(cls, choices: Iterable[str], base: TrainingMining | None = None) -> TrainingMining:
        """Apply ``CATEGORY=PERMISSION`` choices to a policy (the default one by default).

        Examples
        --------
        >>> TrainingMining.parse(["ai_training=allowed"]).ai_training.use.value
        'allowed'
        """
        names = [f.name for f in fields(cls)]
        updates: dict[str, Permission] = {}
        for choice in choices:
            name, sep, value = choice.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in names:
                raise DescriptionError(
                    f"training/mining choice {choice!r} is not CATEGORY=PERMISSION with "
                    f"CATEGORY one of {', '.join(names)}; e.g. ai_training=allowed")
            updates[name] = Permission.parse(value)
        return replace(base or cls(), **updates)

    def items(self) -> list[tuple[str, Permission]]:
        """The four categories and their permissions, in CAWG's order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


class RightsHolder(str, enum.Enum):
    """Who holds the copyright in a generated video under the provider's terms."""

    USER = "user"          # the person who prompted it
    PROVIDER = "provider"  # the organisation running the model
    BOTH = "both"          # jointly


def check_url(url: str, what: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL, else raise naming ``what`` it is for.

    Examples
    --------
    >>> check_url("https://acme.example/terms", "terms URL")
    'https://acme.example/terms'
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise DescriptionError(f"{what} {url!r} is not an http(s) URL; give e.g. https://example.com/terms")
    return url


@dataclass(frozen=True)
class Rights:
    """Who holds the copyright in the output, under which terms.

    Copyright in a generated video follows the agreement between the user and
    the provider first; this records its outcome in the manifest.

    Parameters
    ----------
    holder : RightsHolder
        The user, the provider, or both.
    statement : str, optional
        Free-text rights statement (``dc:rights``); default: a copyright line
        naming the holders.
    terms : str, optional
        URL of the terms that settle ownership and use (``xmpRights:WebStatement``).

    Examples
    --------
    >>> Rights(RightsHolder.USER, terms="https://acme.example/terms").holder.value
    'user'
    """

    holder: RightsHolder
    statement: str | None = None
    terms: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "holder", RightsHolder(self.holder))
        except ValueError:
            raise DescriptionError(f"rights holder {self.holder!r} is not one of "
                                   f"{', '.join(h.value for h in RightsHolder)}") from None
        if self.statement is not None and not self.statement.strip():
            raise DescriptionError("the rights statement is empty; leave it out for the default copyright line")
        if self.terms is not None:
            check_url(self.terms, "terms URL")

    @classmethod
    def of(cls, holder: str | None, statement: str | None = None, terms: str | None = None) -> Rights | None:
        """The rights given as three optional values (options, a settings table); None when none is given.

        Examples
        --------
        >>> Rights.of(None) is None, Rights.of("both").holder.value
        (True, 'both')
        """
        if holder is None:
            if statement is not None or terms is not None:
                raise DescriptionError("a rights statement or terms URL needs a rights holder: "
                                       "user, provider or both (--rights-holder)")
            return None
        return cls(holder, statement, terms)


def new_identifier() -> str:
    """A random 64-bit content identifier as 16 lowercase hex digits.

    Examples
    --------
    >>> len(new_identifier())
    16
    """
    return secrets.token_hex(8)


def prompt_digest(prompt: str) -> str:
    """The digest to record instead of a prompt: ``sha256:`` and 64 hex digits.

    Examples
    --------
    >>> prompt_digest("a cat").startswith("sha256:")
    True
    """
    return "sha256:" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """The digest to record for an input file (a reference image or clip): ``sha256:`` and 64 hex digits.

    Raises
    ------
    DescriptionError
        If the file cannot be read.
    """
    try:
        return "sha256:" + sha256_file(path)
    except OSError as error:
        raise DescriptionError(f"cannot read input file '{path}' ({error.strerror}); check the path") from None


def check_identifier(identifier: str) -> str:
    """Return ``identifier`` if it is 16 lowercase hex digits, else raise.

    The watermark carries a 64-bit identifier; the provenance layer only
    checks its spelling, so the two layers agree on one canonical form.
    """
    if not isinstance(identifier, str) or not _IDENTIFIER.fullmatch(identifier):
        raise DescriptionError(
            f"identifier {identifier!r} is not 16 lowercase hex digits; "
            "give a 64-bit id such as 0123456789abcdef")
    return identifier


def binding_value(identifier: str) -> str:
    """The soft-binding value of an identifier: its 8 bytes, big-endian, in standard base64.

    The form the ``c2pa.soft-binding`` assertion stores and the Soft Binding
    Resolution API's ``value`` carries.

    Examples
    --------
    >>> binding_value("00c0ffee12345678")
    'AMD/7hI0Vng='
    """
    return base64.b64encode(bytes.fromhex(check_identifier(identifier))).decode("ascii")


def identifier_from_binding(value: str) -> str:
    """The identifier a soft-binding value carries (the inverse of :func:`binding_value`).

    Raises
    ------
    DescriptionError
        If ``value`` is not the standard base64 of exactly 8 bytes.

    Examples
    --------
    >>> identifier_from_binding("AMD/7hI0Vng=")
    '00c0ffee12345678'
    """
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True) if isinstance(value, str) else b""
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 8 or base64.b64encode(raw).decode("ascii") != value:
        raise DescriptionError(f"soft-binding value {str(value)[:40]!r} is not the standard base64 of "
                               "8 bytes (a 64-bit identifier, big-endian), e.g. 'AMD/7hI0Vng='")
    return raw.hex()


@dataclass(frozen=True)
class PictureFingerprint:
    """A compact fingerprint of the pictures, carried inside the signed manifest.

    The provenance layer keeps it opaque: an algorithm name, the bytes, and the
    picture size they were taken at. Carried in the manifest, it travels with
    it, so a verifier that recovers the manifest from a repository can check
    that the pictures in hand are the ones it was signed for (the anti-spoofing
    check of the C2PA Soft Binding API document).
    """

    alg: str
    value: bytes
    width: int
    height: int

    def __post_init__(self) -> None:
        if not self.alg or not isinstance(self.value, bytes) or not self.value:
            raise DescriptionError("a picture fingerprint needs an algorithm name and some bytes")
        if self.width < 1 or self.height < 1:
            raise DescriptionError(f"picture size {self.width}x{self.height} is not positive")


@dataclass(frozen=True)
class GenerationDescription:
    """The facts about one generated video that its manifest states.

    Parameters
    ----------
    author : str
        Who made the video (person or account), for the right of attribution.
    model : str
        Name of the generating model, recorded as the ``softwareAgent``.
    model_version : str, optional
        Version of the model; California SB 942 asks for it where feasible.
    organisation : str, optional
        The provider (the organisation running the model).
    created : datetime
        When the video was generated; must carry a time zone and not be in the
        future (5 minutes of clock difference allowed). Default: now, UTC.
    identifier : str
        Content identifier, 16 lowercase hex digits (a 64-bit id). Default: random.
    watermarked : bool
        Whether the video's invisible watermark carries ``identifier``; only
        then does the manifest name it as a soft binding.
    training_mining : TrainingMining
        CAWG training and mining choices. Default: :class:`TrainingMining()`.
    prompt_digest : str, optional
        ``sha256:`` digest of the prompt, from :func:`prompt_digest`: the
        user's contribution, with ``input_digests``.
    visible_notice : str, optional
        Text of the visible notice burnt into the video, when there is one.
    watermark_key : str, optional
        Identifier of the watermark key whose mark carries ``identifier``
        (never the key itself), so a verifier can tell which key to expect.
    fingerprint : PictureFingerprint, optional
        The pictures' fingerprint, signed with the rest.
    rights : Rights, optional
        Who holds the copyright in the output, under which terms.
    input_digests : tuple of str
        ``sha256:`` digests of the user's inputs (reference images, clips),
        from :func:`file_digest`.
    expansion_digest : str, optional
        ``sha256:`` digest of the provider's expansion of the prompt: with the
        model, the provider's contribution.

    Examples
    --------
    >>> d = GenerationDescription(author="Ada", model="VidGen", model_version="2.1")
    >>> d.model_version
    '2.1'
    """

    author: str
    model: str
    model_version: str | None = None
    organisation: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    identifier: str = field(default_factory=new_identifier)
    watermarked: bool = False
    training_mining: TrainingMining = TrainingMining()
    prompt_digest: str | None = None
    visible_notice: str | None = None
    watermark_key: str | None = None
    fingerprint: PictureFingerprint | None = None
    rights: Rights | None = None
    input_digests: tuple[str, ...] = ()
    expansion_digest: str | None = None

    def __post_init__(self) -> None:
        for name in ("author", "model"):
            if not str(getattr(self, name) or "").strip():
                raise DescriptionError(f"the {name} is empty; name the video's {name}")
        if self.created.tzinfo is None:
            raise DescriptionError(
                f"creation time {self.created.isoformat()} has no time zone; "
                "use e.g. datetime.now(timezone.utc)")
        if self.created > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise DescriptionError(
                f"creation time {self.created.isoformat()} is in the future; give when the video was "
                "generated (or leave it out for now)")
        check_identifier(self.identifier)
        object.__setattr__(self, "input_digests", tuple(self.input_digests))
        for name, digest in [("prompt digest", self.prompt_digest), ("prompt expansion digest", self.expansion_digest),
                             *(("input digest", d) for d in self.input_digests)]:
            if digest is not None and not _PROMPT_DIGEST.fullmatch(str(digest)):
                raise DescriptionError(
                    f"{name} {digest!r} is not 'sha256:' and 64 hex digits; "
                    "make it with manifests.prompt_digest(text) or manifests.file_digest(path)")
        if self.rights is not None and self.rights.holder is not RightsHolder.USER and not self.organisation:
            raise DescriptionError(f"rights holder '{self.rights.holder.value}' includes the provider, but no "
                                   "organisation is named; give the provider's name (--org)")

    def owners(self) -> list[str]:
        """The copyright holders by name (``xmpRights:Owner``): the author, the organisation, or both."""
        if self.rights is None:
            return []
        holder = self.rights.holder
        return ([self.author] if holder is not RightsHolder.PROVIDER else []) + \
            ([self.organisation] if holder is not RightsHolder.USER and self.organisation else [])

    def rights_statement(self) -> str | None:
        """The rights statement as given, or a copyright line naming the holders and the year of creation."""
        if self.rights is None:
            return None
        return self.rights.statement or f"Copyright {self.created.year} {' and '.join(self.owners())}"

    def contributions(self) -> dict[str, dict[str, object]]:
        """Who contributed what: the user's prompt and inputs, the provider's prompt expansion and model."""
        user: dict[str, object] = {"name": self.author}
        if self.prompt_digest:
            user["prompt_digest"] = self.prompt_digest
        if self.input_digests:
            user["input_digests"] = list(self.input_digests)
        provider: dict[str, object] = {"model": self.model}
        if self.organisation:
            provider["name"] = self.organisation
        if self.model_version:
            provider["model_version"] = self.model_version
        if self.expansion_digest:
            provider["prompt_expansion_digest"] = self.expansion_digest
        return {"user": user, "provider": provider}
