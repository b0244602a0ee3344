"""Signing videos with c2pa-python: one reusable signer, atomic output files.

A :class:`Signer` is made once (from PEM files, from a callback into a KMS or
HSM, or from the per-user development identity) and signs any number of
files. :func:`sign_file` checks the input, writes the AIGC label if asked,
signs, and only then moves the result into place (through
:class:`outputs.Output`): c2pa-rs can leave a partial file behind when signing
fails, and a half-written video must never look signed.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import c2pa

import outputs

from manifests import credentials as creds
from manifests.description import GenerationDescription
from manifests.errors import CredentialError, ManifestError, MediaError, SigningError
from manifests.labels import AigcLabel, read_aigc, write_aigc
from manifests.manifest import manifest_definition, propagation_definition
from manifests.media import VideoInfo, check_video, media_type
from manifests.reading import c2pa_context, manifest_store

_ALGORITHMS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
# The ingredient label linking a propagation manifest's c2pa.opened action to its parent.
_PARENT = "parent"


@dataclass(frozen=True)
class SignerIdentity:
    """Who signs, as reports show it.

    Attributes
    ----------
    subject : str
        Subject of the signing certificate (RFC 4514).
    algorithm : str
        ``es256``, ``ps256``, ``ed25519`` ...
    development : bool
        Whether the certificate is an aimark test certificate.
    root : Path, optional
        Root to use as trust anchor, for aimark-made test credentials.
    time_stamp_authority : str, optional
        URL of the time-stamp authority, when signatures are time-stamped.
    """

    subject: str
    algorithm: str
    development: bool
    root: Path | None = None
    time_stamp_authority: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {"subject": self.subject, "algorithm": self.algorithm, "development": self.development,
                "root": str(self.root) if self.root else None,
                "time_stamp_authority": self.time_stamp_authority}


class Signer:
    """A signing identity, made once and used for many files.

    Build it with :meth:`from_files`, :meth:`from_credentials`,
    :meth:`from_callback` or :meth:`development`; it can be used as a context
    manager to free the native signer early.

    Examples
    --------
    >>> signer = Signer.from_files("certs/signer.pem", "certs/signer-key.pem")  # doctest: +SKIP
    >>> for clip in clips:  # doctest: +SKIP
    ...     sign_file(clip, out / clip.name, describe(clip), signer)
    """

    def __init__(self, native: c2pa.Signer, identity: SignerIdentity,
                 callback_errors: list[BaseException] | None = None) -> None:
        self._native = native
        self.identity = identity
        self._callback_errors = callback_errors

    @classmethod
    def from_credentials(cls, credentials: creds.Credentials, *, tsa_url: str | None = None) -> Signer:
        """A signer for checked credentials (see :func:`manifests.load_credentials`)."""
        _check_tsa_url(tsa_url)
        info = c2pa.C2paSignerInfo(_ALGORITHMS[credentials.algorithm], credentials.chain_pem,
                                   credentials.private_key_pem, tsa_url)
        try:
            native = c2pa.Signer.from_info(info)
        except c2pa.C2paError as error:
            raise CredentialError(f"c2pa refused the credentials: {_one_line(error)}") from None
        return cls(native, SignerIdentity(credentials.subject, credentials.algorithm,
                                          credentials.development, credentials.root, tsa_url))

    @classmethod
    def from_files(cls, certificate: str | os.PathLike[str], private_key: str | os.PathLike[str],
                   *, tsa_url: str | None = None) -> Signer:
        """A signer from a PEM certificate chain (leaf first, no root) and its PEM private key.

        ES256/384/512, PS256 and Ed25519 keys are recognised from the key type.

        Parameters
        ----------
        certificate, private_key : path-like
            PEM files; an encrypted key takes its passphrase from ``$AIMARK_KEY_PASSWORD``.
        tsa_url : str, optional
            RFC 3161 time-stamp authority. Off by default so signing works offline.
        """
        return cls.from_credentials(creds.load_credentials(certificate, private_key), tsa_url=tsa_url)

    @classmethod
    def from_callback(cls, sign: Callable[[bytes], bytes], certificate_chain: bytes, *,
                      tsa_url: str | None = None) -> Signer:
        """A signer whose private key stays in a KMS or HSM.

        Parameters
        ----------
        sign : callable
            Takes the bytes to sign and returns the signature, made with the
            key of the chain's leaf certificate (for ECDSA, DER or raw r||s).
        certificate_chain : bytes
            PEM chain, leaf first, without the root; checked like a file's.
        tsa_url : str, optional
            RFC 3161 time-stamp authority; off by default.

        Examples
        --------
        >>> def sign(data):  # doctest: +SKIP
        ...     return kms.sign(KeyId=key_id, Message=data, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        >>> signer = Signer.from_callback(sign, Path("chain.pem").read_bytes())  # doctest: +SKIP
        """
        _check_tsa_url(tsa_url)
        chain = creds.load_chain(certificate_chain, "certificate chain")
        algorithm = creds.algorithm_for(chain[0].public_key(), "certificate chain")
        errors: list[BaseException] = []

        # c2pa-python reports any exception in the callback only as an invalid
        # COSE signature; keep the real one to name it afterwards.
        def guarded(data: bytes) -> bytes:
            try:
                return sign(data)
            except Exception as error:
                errors.append(error)
                raise

        try:
            native = c2pa.Signer.from_callback(guarded, _ALGORITHMS[algorithm],
                                              certificate_chain.decode("ascii"), tsa_url)
        except c2pa.C2paError as error:
            raise CredentialError(f"c2pa refused the certificate chain: {_one_line(error)}") from None
        subject = chain[0].subject.rfc4514_string()
        development = creds.TEST_MARKER in subject
        return cls(native, SignerIdentity(subject, algorithm, development, None, tsa_url), errors)

    @classmethod
    def development(cls, home: str | os.PathLike[str] | None = None, *,
                    tsa_url: str | None = None) -> Signer:
        """The per-user development identity (created on first use); see
        :func:`manifests.development_credentials`. Its signatures read as untrusted."""
        return cls.from_credentials(creds.development_credentials(home), tsa_url=tsa_url)

    def close(self) -> None:
        """Free the native signer."""
        self._native.close()

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _sign(self, definition: dict[str, Any], mime: str, source: Path, output: outputs.Output,
              ingredient: Path | None = None) -> None:
        """Sign ``source`` into ``output``'s temporary file; errors name the output's destination."""
        if self._callback_errors is not None:
            self._callback_errors.clear()
        try:
            with c2pa.Builder(definition, c2pa_context()) as builder, \
                    open(source, "rb") as src, open(output.temporary, "w+b") as dst:
                if ingredient is not None:
                    with open(ingredient, "rb") as parent:
                        builder.add_ingredient({"title": ingredient.name, "relationship": "parentOf",
                                                "label": _PARENT}, mime, parent)
                builder.sign(self._native, mime, src, dst)
        except OSError as error:
            raise outputs.write_failed(output.destination, error) from None
        except c2pa.C2paError as error:
            if re.search(r"no space left|quota exceeded", str(error), re.I):  # the disk filled while signing
                raise outputs.write_failed(output.destination, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) \
                    from None
            raise _signing_error(error, self.identity, self._callback_errors) from None


@dataclass(frozen=True)
class SignedFile:
    """What :func:`sign_file` or :func:`propagate_file` wrote.

    Attributes
    ----------
    path : Path
        The signed file.
    identifier : str, optional
        Content identifier stated in the manifest (None for a propagation).
    signer : SignerIdentity
        Who signed.
    aigc : AigcLabel, optional
        The AIGC label written into the file, if any.
    video : VideoInfo
        What the decode check found in the input.
    """

    path: Path
    identifier: str | None
    signer: SignerIdentity
    aigc: AigcLabel | None
    video: VideoInfo

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {"output": str(self.path), "identifier": self.identifier, "signer": self.signer.to_dict(),
                "aigc": self.aigc.to_dict() if self.aigc else None,
                "video": {"mime_type": self.video.mime_type, "width": self.video.width,
                          "height": self.video.height, "frames": self.video.frames,
                          "duration": self.video.duration}}


def sign_file(source: str | os.PathLike[str], destination: str | os.PathLike[str],
              description: GenerationDescription, signer: Signer | None = None, *,
              aigc: AigcLabel | None = None, overwrite: bool = True) -> SignedFile:
    """Sign a generated MP4 or MOV video with a manifest built from ``description``.

    The input is decode-checked first; with ``aigc``, the label is written into
    a stream copy before signing (the signature covers it). The output appears
    only once complete, via a temporary file beside it and a rename; the input
    is never changed.

    Parameters
    ----------
    source : path-like
        The video as generated; must not already carry a manifest.
    destination : path-like
        Where to write the signed video: same container type, not ``source``.
    description : GenerationDescription
        The facts the manifest states.
    signer : Signer, optional
        Default: the development identity (signatures read as untrusted).
    aigc : AigcLabel, optional
        China's implicit label to write, e.g. ``aigc_label(description, "ACME")``.
    overwrite : bool
        Replace an existing ``destination`` (never ``source``).

    Returns
    -------
    SignedFile

    Raises
    ------
    MediaError
        Unsupported, missing, truncated or corrupt input, or already signed.
    SigningError
        Signing or time-stamping failed.
    outputs.OutputError
        Output is the input, exists, or cannot be written.

    Examples
    --------
    >>> d = GenerationDescription(author="Ada", model="VidGen", organisation="ACME")
    >>> sign_file("gen.mp4", "signed.mp4", d, aigc=aigc_label(d))  # doctest: +SKIP
    """
    with outputs.Output(destination, overwrite=overwrite, inputs=[source]) as out:
        signed = sign_into(out, source, description, signer, aigc=aigc)
    return signed


def sign_into(output: outputs.Output, source: str | os.PathLike[str], description: GenerationDescription,
              signer: Signer | None = None, *, aigc: AigcLabel | None = None,
              encoded_frames: int | None = None) -> SignedFile:
    """Sign ``source`` into an open :class:`outputs.Output` without publishing it.

    For a pipeline that has one more step before the file may appear (aimark
    registers the manifest first, and publishes only if that succeeded).
    The returned ``SignedFile.path`` is the output's destination. A pipeline
    that encoded ``source`` itself gives the number of frames it encoded,
    and the check counts them instead of decoding them again (:func:`check_video`).
    """
    source, video = _prepare(source, output.destination, encoded_frames=encoded_frames)
    signer = signer or Signer.development()
    labelled = output.scratch(source.suffix) if aigc is not None else source
    if aigc is not None:
        write_aigc(source, labelled, aigc)
    signer._sign(manifest_definition(description, title=output.destination.name), video.mime_type, labelled, output)
    return SignedFile(output.destination, description.identifier, signer.identity, aigc, video)


def propagate_file(source: str | os.PathLike[str], destination: str | os.PathLike[str],
                   propagator: str, propagate_id: str, signer: Signer | None = None, *,
                   overwrite: bool = True) -> SignedFile:
    """Pass a labelled video on as a platform: set the AIGC propagator fields and re-sign.

    GB 45438-2025 asks platforms that spread generated content to add their
    name and identifier to the implicit label. The old manifest becomes the
    ``parentOf`` ingredient of the new one, so the producer's signed claims
    stay readable and verifiable.

    Raises
    ------
    MediaError
        Unusable input, or input without an AIGC label or without a manifest.
    SigningError, outputs.OutputError
        As for :func:`sign_file`.
    """
    with outputs.Output(destination, overwrite=overwrite, inputs=[source]) as out:
        source, video = _prepare(source, out.destination, signed=True)
        label = read_aigc(source)
        if label is None:
            raise MediaError(f"'{source}' has no AIGC label to add propagator fields to; "
                             "the producer must label it (aimark sign --label-cn PRODUCER)")
        label = label.propagated(propagator, propagate_id)
        signer = signer or Signer.development()
        definition = propagation_definition(title=out.destination.name, propagator=propagator, parent=_PARENT)
        labelled = out.scratch(source.suffix)
        write_aigc(source, labelled, label)
        signer._sign(definition, video.mime_type, labelled, out, ingredient=source)
    return SignedFile(out.destination, None, signer.identity, label, video)


def _prepare(source: str | os.PathLike[str], destination: Path, signed: bool = False, *,
             encoded_frames: int | None = None) -> tuple[Path, VideoInfo]:
    """Check the input before any work: the destination's container, a sound video, signed or not as needed."""
    source = Path(source)
    if media_type(destination, "output") != media_type(source):
        raise MediaError(f"'{destination}' names another container type than '{source}'; "
                         f"use the extension {source.suffix}")
    video = check_video(source, encoded_frames=encoded_frames)
    has_manifest = manifest_store(source) is not None
    if has_manifest and not signed:
        raise MediaError(f"'{source}' already carries Content Credentials; signing again would "
                         "replace them: sign the unsigned original, or use `aimark propagate`")
    if signed and not has_manifest:
        raise MediaError(f"'{source}' carries no Content Credentials to pass on; "
                         "sign it first with `aimark sign`")
    return source, video


#: Seconds to wait for the time-stamp authority to accept a connection.
TSA_TIMEOUT = 5.0


def _check_tsa_url(url: str | None) -> None:
    """Refuse a time-stamp authority that is not an http(s) URL or does not answer, before any work.

    c2pa-rs calls it only after the whole file has been written; a connection
    (no request) tells now whether that call can succeed.
    """
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        raise SigningError(f"time-stamp authority {url!r} is not an http(s) URL; "
                           "give e.g. http://timestamp.digicert.com, or leave it out")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=TSA_TIMEOUT).close()
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise SigningError(f"time-stamp authority '{url}' cannot be reached ({reason}); "
                           "check the URL and the network, or sign without a time stamp") from None


def _one_line(error: BaseException) -> str:
    """c2pa-rs messages span lines and carry JUMBF URLs; keep the words."""
    text = re.sub(r"\s*\(self#jumbf=[^)]*\)", "", str(error))
    return " ".join(text.split())


def _signing_error(error: c2pa.C2paError, identity: SignerIdentity,
                   callback_errors: list[BaseException] | None) -> ManifestError:
    """Name the cause c2pa-rs buries: a callback exception, the TSA, or the certificate."""
    message = _one_line(error)
    if callback_errors:
        return SigningError(f"the signing callback failed ({callback_errors[-1]!r}); "
                            "check the KMS or HSM key and its permissions")
    if identity.time_stamp_authority and re.search(r"time.?stamp|tsa|http|connect|url", message, re.I):
        return SigningError(f"time-stamp authority '{identity.time_stamp_authority}' failed ({message}); "
                            "check the URL and the network, or sign without a time stamp")
    if "EKU" in message:
        return CredentialError(f"certificate '{identity.subject}' lacks an extended key usage c2pa-rs "
                               f"accepts (emailProtection) ({message}); ask the CA for a "
                               "document-signing certificate")
    return SigningError(f"signing failed: {message}")
