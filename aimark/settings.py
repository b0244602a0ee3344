"""A provider's stamping defaults, from one TOML file.

A model-serving process stamps every output with the same key, certificates,
organisation, label profile and training permissions; the settings file says
them once, so neither a server nor a command line repeats them per call.
Relative paths in the file are relative to the file's folder. Unknown keys are
refused: a typo must not silently fall back to a default (c2pa's own settings
accept typos silently, and that is how labels go missing unnoticed).

Example file::

    organisation = "ACME"
    producer = "ACME-AI-001"        # AIGC ContentProducer (default: the organisation)
    profile = "cn"                  # visible notice 'AI生成' on by default

    [watermark]
    key = "provider.key"            # from `aimark keygen`; default: the public key

    [signing]
    certificate = "certs/signer.pem"
    private_key = "certs/signer-key.pem"   # passphrase, if any, from AIMARK_KEY_PASSWORD

    [notice]
    position = "bottom-right"
    seconds = 3

    [training_mining]
    ai_inference = "allowed"
    ai_training = "constrained:licence at https://acme.example/terms"

    [rights]
    holder = "user"                 # who holds the copyright in outputs: user, provider or both
    terms = "https://acme.example/terms"

    [repository]
    path = "/var/lib/acme/manifests.sqlite"   # or url = "postgresql://..." / "https://..." (with token_file)

    [verify]
    resolvers = ["https://provider.example/sbr"]   # asked for identifiers the repository does not hold
    send_content = false                           # upload the video to resolvers (off: the platform's choice)
    send_evidence = false                          # or send them the whitened evidence only (aimark's vendor route)
    timeout = 10
    trust_anchors = "roots.pem"                    # providers' roots: a resolver's manifest must chain to one

    [verify.tokens]                                # for resolvers whose reads need a fetch token
    "https://provider.example/sbr" = "tokens/provider.token"
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import manifests
import watermark
from aimark.errors import AimarkError, SettingsError
from aimark.resolution import Resolvers
from aimark.resolver import token_from_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Environment variable naming the settings file when none is given.
SETTINGS_ENV = "AIMARK_SETTINGS"

#: Label profiles: whether the visible notice shows by default, and its text.
PROFILES: dict[str, tuple[bool, str]] = {
    "global": (False, manifests.NOTICE_EN),  # EU / California: machine-readable marking suffices
    "cn": (True, manifests.NOTICE_ZH),       # GB 45438-2025: explicit label on the opening frames
}

# Allowed keys: top level and per table, with the Settings field each sets.
_TOP = {"organisation": "organisation", "producer": "producer", "profile": "profile"}
_TABLES: dict[str, dict[str, str]] = {
    "watermark": {"key": "key", "strength": "strength"},
    "signing": {"certificate": "certificate", "private_key": "private_key", "tsa": "tsa_url"},
    "notice": {"show": "notice", "text": "notice_text", "position": "notice_position",
               "seconds": "notice_seconds"},
    "encoder": {"codec": "codec", "crf": "crf", "preset": "preset", "keep_format": "keep_format"},
    "rights": {"holder": "rights_holder", "statement": "rights_statement", "terms": "rights_terms"},
    "repository": {"path": "repository", "url": "repository", "token_file": "repository_token_file"},
    "verify": {"resolvers": "resolvers", "send_content": "send_content", "send_evidence": "send_evidence",
               "timeout": "resolver_timeout",
               "trust_anchors": "trust_anchors", "tokens": "resolver_tokens"},
}
_PATHS = {"key", "certificate", "private_key", "repository_token_file", "trust_anchors"}
# What each field's value must be in the file: text, a number, true/false, or a list of text.
_NUMBERS = {"strength", "notice_seconds", "crf", "resolver_timeout"}
_FLAGS = {"notice", "keep_format", "send_content", "send_evidence"}
_LISTS = {"resolvers"}
_TEXT_TABLES = {"resolver_tokens"}


@dataclass(frozen=True)
class Settings:
    """What a provider stamps with, unless a call says otherwise.

    Attributes
    ----------
    organisation : str, optional
        The provider, named in the manifest.
    producer : str, optional
        The AIGC label's ``ContentProducer``. Default: the organisation, else the author.
    profile : str
        ``"global"`` (no visible notice unless asked) or ``"cn"`` (notice 'AI生成' on).
    key : Path, optional
        Watermark key file; None means the public default key.
    strength : float
        Watermark amplitude relative to the tuned default.
    certificate, private_key : Path, optional
        PEM signing chain and key; None means the development identity.
    tsa_url : str, optional
        RFC 3161 time-stamp authority (off by default, signing stays offline).
    notice : bool, optional
        Show the visible notice; None lets the profile decide.
    notice_text, notice_position, notice_seconds
        The notice's text (default: the profile's), place and duration.
    training_mining : manifests.TrainingMining
        CAWG training and mining choices.
    codec, crf, preset, keep_format
        Video encoder settings of the stamped output (see :class:`watermark.EncoderSettings`).
    rights_holder, rights_statement, rights_terms : str, optional
        Who holds the copyright in the outputs under the provider's terms
        (``user``, ``provider`` or ``both``), a rights statement and the terms' URL.
    repository : Path or str, optional
        The manifest repository: an SQLite file, a ``postgresql://`` URL, or the
        ``https://`` URL of a resolution service to register through.
        Default: ``<aimark home>/repository.sqlite``.
    repository_token_file : Path, optional
        File holding the ``store`` token for an ``https://`` repository
        (else ``$AIMARK_REPOSITORY_TOKEN``).
    resolvers : tuple of str
        Resolution services ``verify`` asks about identifiers its repository does not hold.
    send_content : bool
        Whether ``verify`` may upload the video to those resolvers (byContent).
    send_evidence : bool
        Whether ``verify`` may send them key-independent evidence instead (never the video).
    resolver_timeout : float
        Seconds per resolver request.
    trust_anchors : Path, optional
        PEM roots whose signatures ``verify`` trusts (needed to believe a resolver's manifest).
    resolver_tokens : dict of str to Path
        Token files by resolver URL; each token is sent to its own resolver only.
    """

    organisation: str | None = None
    producer: str | None = None
    profile: str = "global"
    key: Path | None = None
    strength: float = 1.0
    certificate: Path | None = None
    private_key: Path | None = None
    tsa_url: str | None = None
    notice: bool | None = None
    notice_text: str | None = None
    notice_position: str = "top-left"
    notice_seconds: float = 2.0
    training_mining: manifests.TrainingMining = field(default_factory=manifests.TrainingMining)
    codec: str | None = None
    crf: float = 18.0
    preset: str = "medium"
    keep_format: bool = False
    rights_holder: str | None = None
    rights_statement: str | None = None
    rights_terms: str | None = None
    repository: Path | str | None = None
    repository_token_file: Path | None = None
    resolvers: tuple[str, ...] = ()
    send_content: bool = False
    send_evidence: bool = False
    resolver_timeout: float = 10.0
    trust_anchors: Path | None = None
    resolver_tokens: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise SettingsError(f"label profile {self.profile!r} is not one of {', '.join(PROFILES)}")
        if (self.certificate is None) != (self.private_key is None):
            raise SettingsError("give the signing certificate and private key together, or neither "
                                "(then the development identity signs)")
        if not 0.1 <= self.strength <= 4.0:
            raise SettingsError(f"watermark strength {self.strength} is outside 0.1-4.0; 1.0 is the tuned default")
        if not 0.1 <= self.resolver_timeout <= 600:
            raise SettingsError(f"resolver timeout {self.resolver_timeout} s is outside 0.1-600 s")
        self.encoder()  # an unknown codec or a CRF off its scale fails here, before any decoding
        self.rights()

    def rights(self) -> manifests.Rights | None:
        """Who holds the copyright in the outputs (``[rights]``), or None when the settings do not say."""
        return manifests.Rights.of(self.rights_holder, self.rights_statement, self.rights_terms)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Settings:
        """Read a settings file (see the module's example).

        Raises
        ------
        SettingsError
            Missing or malformed file, unknown keys, or invalid values.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise SettingsError(f"cannot read settings file '{path}' ({error.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise SettingsError(f"settings file '{path}' is not valid TOML ({error})") from None
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "training_mining":
                values["training_mining"] = _training(value, path)
            elif name in _TABLES:
                values.update(_table(name, value, path))
            elif name in _TOP:
                values[_TOP[name]] = _checked(name, _TOP[name], value, path)
            else:
                raise SettingsError(f"settings file '{path}' has an unknown key {name!r}; known: "
                                    + ", ".join([*_TOP, *_TABLES, "training_mining"]))
        for name in _PATHS & values.keys():
            values[name] = path.parent / Path(values[name]).expanduser()
        repository = data.get("repository") or {}
        if "path" in repository and "url" in repository:
            raise SettingsError(f"settings file '{path}': give [repository] path or url, not both")
        if "path" in repository:
            values["repository"] = path.parent / Path(repository["path"]).expanduser()
        if "resolvers" in values:
            values["resolvers"] = tuple(values["resolvers"])
        if "resolver_tokens" in values:
            values["resolver_tokens"] = {url: path.parent / Path(file).expanduser()
                                         for url, file in values["resolver_tokens"].items()}
        return cls(**values)

    @classmethod
    def from_environment(cls) -> Settings:
        """The file named by ``$AIMARK_SETTINGS``, or the defaults when it is unset."""
        path = os.environ.get(SETTINGS_ENV)
        return cls.load(path) if path else cls()

    def encoder(self) -> watermark.EncoderSettings:
        """The video encoder settings, checked (:class:`watermark.EncoderError` if unusable)."""
        return watermark.EncoderSettings(self.codec, self.crf, self.preset, keep_format=self.keep_format)

    def visible_notice(self, show: bool | None = None) -> manifests.Notice | None:
        """The notice to draw, or None; ``show`` overrides the settings and profile."""
        default_show, default_text = PROFILES[self.profile]
        if not next(choice for choice in (show, self.notice, default_show) if choice is not None):
            return None
        return manifests.Notice(self.notice_text or default_text, position=self.notice_position,
                                duration=self.notice_seconds)

    def resolution(self) -> Resolvers:
        """The resolvers ``verify`` asks, with their token files read.

        Raises
        ------
        SettingsError
            A token file that cannot be read, or a resolver URL that cannot be used.
        """
        try:
            tokens = {url: token_from_file(file) for url, file in self.resolver_tokens.items()}
            return Resolvers(tuple(self.resolvers), self.send_content, self.resolver_timeout, tokens,
                             self.send_evidence)
        except AimarkError as error:
            raise SettingsError(str(error)) from None

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; None values leave a field as it is."""
        return replace(self, **{name: value for name, value in changes.items() if value is not None})


def _kind(value: Any) -> str:
    if isinstance(value, bool):  # before numbers: True is an int to Python, not to a settings file
        return "true or false"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "a list of text"
    if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        return "a table of text"
    return "a number" if isinstance(value, (int, float)) else "text" if isinstance(value, str) else "a table"


def _checked(key: str, field_name: str, value: Any, path: Path) -> Any:
    """``value`` if it has the kind the field takes, else a SettingsError naming the key."""
    wanted = ("a number" if field_name in _NUMBERS else "true or false" if field_name in _FLAGS
              else "a list of text" if field_name in _LISTS else "a table of text" if field_name in _TEXT_TABLES
              else "text")
    if _kind(value) != wanted:
        raise SettingsError(f"settings file '{path}': {key} = {value!r} should be {wanted}")
    return value


def _table(name: str, value: Any, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"settings file '{path}': [{name}] must be a table")
    unknown = value.keys() - _TABLES[name].keys()
    if unknown:
        raise SettingsError(f"settings file '{path}' has unknown key(s) {', '.join(sorted(unknown))} "
                            f"in [{name}]; known: {', '.join(_TABLES[name])}")
    return {_TABLES[name][key]: _checked(f"{name}.{key}", _TABLES[name][key], item, path)
            for key, item in value.items()}


def _training(value: Any, path: Path) -> manifests.TrainingMining:
    if not isinstance(value, dict):
        raise SettingsError(f"settings file '{path}': [training_mining] must be a table")
    return manifests.TrainingMining.parse(f"{name}={choice}" for name, choice in value.items())
