"""Stamping: every label a generated video needs, in one decode and one encode.

In the frame loop: a search of the first seconds for a mark already there
(a marked video is refused unless forced: see :mod:`watermark.remark`), the
visible notice (when the profile or the call asks for it), then the
invisible mark, then fingerprint samples of the marked luma. The encoder
writes China's AIGC metadata into the container as it goes. The finished
file is signed with a C2PA manifest whose soft binding is the mark's
identifier, and the manifest store is registered in the manifest repository
under that identifier, so a copy stripped of its manifest can be traced back;
its content fingerprint is filed under the same identifier in the content
index beside the repository (:mod:`aimark.pictures`), so a copy whose mark
was removed is found by its pictures.

Registration and publication are one step: the signed file is registered
first (the repository refuses an identifier already taken) and renamed into
place after; if the rename fails, the registration (and the filed pictures) is undone. Either both
happen or neither, so no signed file exists whose identifier belongs to
another video.

A model-serving process makes one :class:`Stamper` at start-up (loading the
key, the signer and the repository once) and calls :meth:`Stamper.stamp` per
output; :func:`stamp` is the one-off form.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import manifests
import outputs
import watermark
from aimark.errors import StampError
from aimark.pictures import file_pictures, picture_index
from aimark.remote import open_repository
from aimark.settings import Settings
from manifests.media import media_type
from manifests.reading import manifest_store
from manifests.repository import ManifestRepository, Record, RepositoryError, embedded_store, record_from_store
from watermark import contentid, fingerprint
from watermark.remark import refusing_marked
from watermark.video import chain
from watermark.video import Picture

#: Muxer flags for the stamped output: index first for streaming, and the AIGC key
#: in moov/udta/meta where GB 45438-2025's practice guide places it.
MUX_OPTIONS = {"movflags": "+faststart+" + manifests.MUX_OPTIONS["movflags"]}
#: Name of the fingerprint the manifest carries: :mod:`watermark.fingerprint`'s 8 x 8 block means,
#: one 64-byte row per second.
FINGERPRINT_ALGORITHM = "org.aimark.fingerprint.1"


@dataclass(frozen=True)
class StampResult:
    """What one :meth:`Stamper.stamp` call wrote.

    Attributes
    ----------
    path : Path
        The stamped video (``output`` in :meth:`to_dict`, as every command names what it wrote).
    identifier : str
        The watermark identifier, also the manifest's soft binding and the AIGC ``ProduceID``.
    key_id : str
        The watermark key's identifier.
    manifest_id : str
        The active manifest's label, as registered.
    signer : manifests.SignerIdentity
    aigc : manifests.AigcLabel
    notice : str, optional
        Text of the visible notice drawn, if any.
    frames : int
    seconds : float
        Wall time of the whole call.
    repository : str
        Where the manifest was registered.
    """

    path: Path
    identifier: str
    key_id: str
    manifest_id: str
    signer: manifests.SignerIdentity
    aigc: manifests.AigcLabel
    notice: str | None
    frames: int
    seconds: float
    repository: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {"output": str(self.path), "identifier": self.identifier, "key_id": self.key_id,
                "manifest_id": self.manifest_id, "signer": self.signer.to_dict(),
                "aigc": self.aigc.to_dict(), "notice": self.notice, "frames": self.frames,
                "seconds": round(self.seconds, 3), "repository": self.repository}


def _notice_transform(notice: manifests.Notice) -> Callable[[Picture], None]:
    def draw(picture: Picture) -> None:
        if not notice.shows_at(picture.time):
            return
        y, u, v = picture.planes[:3]
        if y.dtype != np.uint8 or u.shape != ((y.shape[0] + 1) // 2, (y.shape[1] + 1) // 2):
            height, width = y.shape
            why = (f"its odd size {width}x{height} is kept as 4:4:4" if width % 2 or height % 2
                   else f"it is kept {picture.bit_depth}-bit with {u.shape[1]}x{u.shape[0]} chroma planes")
            raise StampError(f"the visible notice is drawn on 8-bit 4:2:0 video and {why}: stamp without "
                             "keeping the source format, or without the notice")
        for plane, drawn in zip((y, u, v), notice.apply_yuv420p((y, u, v), picture.time)):
            plane[...] = drawn
        picture.derived.clear()  # the marker measures the motion on what a detector will see

    return draw


class _Sampler:
    """Collects each picture's fingerprint signature and time during the frame loop, and, when
    ``content`` (there is a content index to file it in), the content fingerprint the search by
    picture files the video under."""

    def __init__(self, *, content: bool) -> None:
        self.signatures: list[np.ndarray] = []
        self.times: list[float] = []
        self.size = (0, 0)
        self.content = contentid.ContentSampler() if content else None

    def __call__(self, picture: Picture) -> None:
        if self.content is not None:
            self.content.add(picture.luma, picture.time, bit_depth=picture.bit_depth)
        self.signatures.append(fingerprint.frame_signature(picture.luma, bit_depth=picture.bit_depth))
        self.times.append(picture.time)
        self.size = picture.luma.shape[::-1]

    def fingerprint(self) -> manifests.PictureFingerprint:
        """The pooled fingerprint, as the signed manifest carries it."""
        pooled = fingerprint.pool(np.array(self.signatures), np.array(self.times))
        return manifests.PictureFingerprint(FINGERPRINT_ALGORITHM, pooled.tobytes(), *self.size)


def _taken(identifier: str) -> StampError:
    return StampError(f"identifier {identifier} is already registered; each video needs its own "
                      "(leave --id out for a fresh one)")


class Stamper:
    """Key, signer, repository and settings, loaded once, for stamping many videos.

    Parameters
    ----------
    settings : Settings, optional
        The provider's defaults. Default: ``$AIMARK_SETTINGS`` if set, else built-in
        defaults (public key, development credentials, local repository).
    key : watermark.Key, optional
        Overrides the settings' key.
    signer : manifests.Signer, optional
        Overrides the settings' certificates (e.g. a KMS-backed ``Signer.from_callback``).
    repository : ManifestRepository, optional
        Overrides the settings' repository (an SQLite file, a ``postgresql://``
        server or an ``https://`` resolution service).

    Examples
    --------
    >>> stamper = Stamper(Settings.load("provider.toml"))  # doctest: +SKIP
    >>> for job in jobs:  # doctest: +SKIP
    ...     stamper.stamp(job.video, job.output, author=job.user, model="VidGen", model_version="2.1")
    """

    def __init__(self, settings: Settings | None = None, *, key: watermark.Key | None = None,
                 signer: manifests.Signer | None = None, repository: ManifestRepository | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_environment()
        s = self.settings
        self.key = key or (watermark.Key.load(s.key) if s.key else watermark.DEFAULT_KEY)
        if signer is None:
            signer = (manifests.Signer.from_files(s.certificate, s.private_key, tsa_url=s.tsa_url)
                      if s.certificate else manifests.Signer.development(tsa_url=s.tsa_url))
        self.signer = signer
        self.repository = (repository if repository is not None
                           else open_repository(s.repository, token_file=s.repository_token_file))
        self._pictures = picture_index(self.repository)  # None for a resolution service: it files no pictures

    def stamp(self, source: str | os.PathLike[str], destination: str | os.PathLike[str], *,
              author: str, model: str, model_version: str | None = None, identifier: str | None = None,
              created: datetime | None = None, prompt: str | None = None, notice: bool | None = None,
              inputs: Sequence[str | os.PathLike[str]] = (), prompt_expansion: str | None = None,
              progress: Callable[[int], None] | None = None, overwrite: bool = True,
              force: bool = False) -> StampResult:
        """Mark, label, sign and register one video.

        Parameters
        ----------
        source : path-like
            The generated video (any format FFmpeg reads).
        destination : path-like
            The stamped video: ``.mp4``, ``.m4v`` or ``.mov`` (C2PA needs ISO BMFF).
            It appears only once complete.
        author, model, model_version : str
            Who made the video, with which model and version.
        identifier : str, optional
            16 hex digits; default: a fresh random 64-bit identifier.
        created : datetime, optional
            Generation time with a time zone; default: now.
        prompt : str, optional
            The user's prompt; only its SHA-256 digest is recorded.
        notice : bool, optional
            Draw the visible notice; default: as the settings' profile says.
        inputs : sequence of path-like
            Files the user gave (reference images or clips); only their digests are recorded.
        prompt_expansion : str, optional
            The provider's expansion of the prompt; only its digest is recorded.
        progress : callable, optional
            Called with 1 after each frame.
        overwrite : bool
            Replace an existing ``destination`` (never ``source``).
        force : bool
            Stamp even a video that already carries a watermark (of this
            stamper's key or the public key). Without it such a video is refused:
            a stripped copy of someone's stamped video must not become yours.

        Returns
        -------
        StampResult

        Raises
        ------
        watermark.WatermarkError, manifests.ManifestError, outputs.OutputError, StampError
            Unusable input or output, a source that already carries a watermark
            (``watermark.remark.MarkedError``), an identifier already registered, a notice
            on video it cannot be drawn on. Nothing is written or registered then.
        """
        started = time.perf_counter()
        source, destination = Path(source), Path(destination)
        with self.output(source, destination, overwrite=overwrite) as out:
            if source.suffix.lower() in manifests.SUPPORTED_TYPES and source.is_file() and manifest_store(source):
                raise StampError(f"'{source}' already carries Content Credentials; stamp the generated "
                                 "original (stamping again would hide the first identity)")
            identifier = watermark.format_identifier(
                watermark.parse_identifier(identifier) if identifier else secrets.randbits(64))
            if self.repository.get(identifier) is not None:  # early; the registration below decides
                raise _taken(identifier)
            s = self.settings
            shown = s.visible_notice(notice)
            description = manifests.GenerationDescription(
                author=author, model=model, model_version=model_version, organisation=s.organisation,
                identifier=identifier, watermarked=True, training_mining=s.training_mining,
                watermark_key=self.key.key_id, rights=s.rights(),
                visible_notice=shown.text if shown else None,
                prompt_digest=manifests.prompt_digest(prompt) if prompt is not None else None,
                input_digests=tuple(manifests.file_digest(path) for path in inputs),
                expansion_digest=manifests.prompt_digest(prompt_expansion) if prompt_expansion is not None else None,
                **({"created": created} if created is not None else {}))
            label = manifests.aigc_label(description, s.producer or s.organisation or author)
            sampler = _Sampler(content=self._pictures is not None)
            transforms = ([_notice_transform(shown)] if shown else []) + [
                watermark.marker(self.key, identifier, strength=s.strength), sampler]
            frame_loop, finished = refusing_marked(chain(*transforms), [self.key], source, force=force)
            encoded = out.scratch(destination.suffix)
            frames = watermark.transcode(
                source, encoded, frame_loop, settings=s.encoder(), metadata=manifests.aigc_metadata(label),
                mux_options=MUX_OPTIONS, progress=progress, finished=finished)
            description = replace(description, fingerprint=sampler.fingerprint())  # signed with the rest
            signed = manifests.sign_into(out, encoded, description, self.signer, encoded_frames=frames)
            store = embedded_store(out.temporary)
            if store is None:  # sign_into returned, so a manifest must be there
                raise RuntimeError(f"signing wrote no manifest into '{out.temporary}'")
            record = record_from_store(store, registered=datetime.now(timezone.utc))  # what a service registers
            self._register_and_publish(record, sampler.content.fingerprint() if sampler.content else None, out)
        return StampResult(signed.path, identifier, self.key.key_id, record.manifest_id, signed.signer, label,
                           description.visible_notice, frames, time.perf_counter() - started,
                           self.repository.location)

    @staticmethod
    def output(source: str | os.PathLike[str], destination: str | os.PathLike[str], *,
               overwrite: bool = True) -> outputs.Output:
        """The stamped file's :class:`outputs.Output`, checked: a container C2PA can sign, not the input.

        The command line calls it before opening the repository, so a bad OUTPUT fails before any work.
        """
        media_type(destination, "output")
        return outputs.Output(destination, overwrite=overwrite, inputs=[source])

    def _register_and_publish(self, record: Record, pictures: contentid.Fingerprint | None,
                              out: outputs.Output) -> None:
        """Register the manifest and file the pictures for the search by picture, then publish; undo both
        if anything after the registration fails. Signals wait meanwhile."""
        with outputs.deferred():
            try:
                self.repository.add(record)
            except RepositoryError:
                if self.repository.get(record.identifier) is not None:
                    raise _taken(record.identifier) from None
                raise
            filed = False
            try:
                filed = file_pictures(self._pictures, record.identifier, pictures)
                out.publish()
            except BaseException:
                if filed:
                    self._pictures.remove(record.identifier)
                self.repository.remove(record.identifier)
                raise

    def close(self) -> None:
        """Release the signer and the repository."""
        self.signer.close()
        self.repository.close()

    def __enter__(self) -> Stamper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stamp(source: str | os.PathLike[str], destination: str | os.PathLike[str], *, author: str, model: str,
          settings: Settings | None = None, **options: Any) -> StampResult:
    """Stamp one video with a :class:`Stamper` made for this call.

    For many videos, make one :class:`Stamper` and call its ``stamp`` method:
    it loads the key and the signer once.

    Examples
    --------
    >>> stamp("gen.mp4", "stamped.mp4", author="Ada Li", model="VidGen")  # doctest: +SKIP
    StampResult(path=PosixPath('stamped.mp4'), identifier='...', ...)
    """
    with Stamper(settings) as stamper:
        return stamper.stamp(source, destination, author=author, model=model, **options)
