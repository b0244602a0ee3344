"""China's implicit label: the ``AIGC`` metadata key of GB 45438-2025.

The TC260 practice guide places the label, for MP4 and MOV, as a key ``AIGC``
in ``moov/udta/meta`` (the ``keys``/``ilst`` metadata). FFmpeg's mov muxer
writes container metadata exactly there when given the ``use_metadata_tags``
flag, so the label is written with PyAV, either by a pipeline that encodes the
video itself (:func:`aigc_metadata` and :data:`MUX_OPTIONS` on its own output)
or by :func:`write_aigc`, which stream-copies an existing file. Either way it
happens before signing, because the C2PA hash covers the metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import av

import outputs
from manifests.description import GenerationDescription
from manifests.errors import DescriptionError, MediaError
from manifests.media import MUXERS, media_type

#: The metadata key GB 45438-2025 names.
AIGC_KEY = "AIGC"

#: Mux options that make FFmpeg write container metadata into moov/udta/meta.
#: To combine with other movflags, join them with '+': 'use_metadata_tags+faststart'.
MUX_OPTIONS: dict[str, str] = {"movflags": "use_metadata_tags"}

#: What the ``Label`` values mean (GB 45438-2025).
LABEL_MEANINGS: dict[str, str] = {
    "1": "AI-generated",
    "2": "possibly AI-generated",
    "3": "suspected AI-generated",
}

# Written by the muxer itself; copying them would only duplicate stale values.
_MUXER_OWNED = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})

# The standard's field names, in its order, for each attribute of AigcLabel.
_FIELDS = {
    "label": "Label",
    "content_producer": "ContentProducer",
    "produce_id": "ProduceID",
    "reserved_code1": "ReservedCode1",
    "content_propagator": "ContentPropagator",
    "propagate_id": "PropagateID",
    "reserved_code2": "ReservedCode2",
}


@dataclass(frozen=True)
class AigcLabel:
    """The JSON object stored under the ``AIGC`` key.

    Parameters
    ----------
    label : str
        ``"1"`` generated, ``"2"`` possibly generated, ``"3"`` suspected.
    content_producer : str
        Name or code of the provider that generated the content.
    produce_id : str
        The producer's identifier for this content.
    reserved_code1, reserved_code2 : str
        Left to producers and propagators (e.g. for a digest); empty by default.
    content_propagator : str
        Name or code of the platform that passed the content on.
    propagate_id : str
        The propagator's identifier for this content.

    Examples
    --------
    >>> AigcLabel(content_producer="ACME", produce_id="0123456789abcdef").to_json()[:40]
    '{"Label":"1","ContentProducer":"ACME","P'
    """

    label: str = "1"
    content_producer: str = ""
    produce_id: str = ""
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def __post_init__(self) -> None:
        if self.label not in LABEL_MEANINGS:
            raise DescriptionError(
                f"AIGC Label {self.label!r} is not one of {', '.join(LABEL_MEANINGS)} "
                "(1 generated, 2 possibly generated, 3 suspected)")

    def to_dict(self) -> dict[str, str]:
        """The object with the standard's field names, in its order."""
        return {_FIELDS[name]: value for name, value in asdict(self).items()}

    def to_json(self) -> str:
        """Compact JSON, non-ASCII kept as is (provider names are often Chinese)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AigcLabel:
        """Parse a stored label; missing fields read as empty, unknown ones are ignored.

        Raises
        ------
        DescriptionError
            If ``text`` is not a JSON object or its ``Label`` is not 1, 2 or 3.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise DescriptionError(f"AIGC value {text[:80]!r} is not a JSON object")
        return cls(**{name: str(data.get(key, "")) for name, key in _FIELDS.items()})

    def propagated(self, propagator: str, propagate_id: str) -> AigcLabel:
        """The label a platform passes on: same producer fields, its own propagator fields."""
        if not propagator.strip():
            raise DescriptionError("the propagator is empty; name the platform passing the video on")
        return replace(self, content_propagator=propagator, propagate_id=propagate_id)


def aigc_label(description: GenerationDescription, producer: str | None = None) -> AigcLabel:
    """The producer's label for a generated video ('1', its producer and identifier).

    Parameters
    ----------
    description : GenerationDescription
        Supplies the identifier (``ProduceID``) and, by default, the organisation.
    producer : str, optional
        ``ContentProducer``: the provider's name or code. Default: the organisation.

    Raises
    ------
    DescriptionError
        If neither ``producer`` nor the description's organisation is given.
    """
    producer = producer or description.organisation
    if not producer:
        raise DescriptionError(
            "the AIGC label needs a content producer; give the provider's name or code "
            "(or an organisation in the description)")
    return AigcLabel(content_producer=producer, produce_id=description.identifier)


def aigc_metadata(label: AigcLabel) -> dict[str, str]:
    """Container metadata entries that carry ``label``.

    A pipeline that encodes its own output sets these on the output container
    and opens it with :data:`MUX_OPTIONS`; then it signs the finished file.

    Examples
    --------
    >>> with av.open("out.mp4", "w", options=MUX_OPTIONS) as out:  # doctest: +SKIP
    ...     out.metadata.update(aigc_metadata(label))
    """
    return {AIGC_KEY: label.to_json()}


def write_aigc(source: str | os.PathLike[str], destination: str | os.PathLike[str],
               label: AigcLabel) -> None:
    """Copy ``source`` to ``destination`` with ``label`` in its metadata.

    Packets are stream-copied (no re-encoding), so pictures and sound are
    unchanged; other container and stream metadata are kept. A C2PA manifest in
    ``source`` does not survive the copy.

    Raises
    ------
    MediaError
        If FFmpeg cannot read ``source`` or write ``destination``.
    """
    mime = media_type(source)
    try:
        with av.open(os.fspath(source)) as src, av.open(
                os.fspath(destination), "w", format=MUXERS[mime], options=MUX_OPTIONS) as dst:
            dst.metadata.update({key: value for key, value in src.metadata.items()
                                 if key not in _MUXER_OWNED})
            dst.metadata.update(aigc_metadata(label))
            streams = {}
            for stream in src.streams:
                copy = dst.add_stream_from_template(stream)
                copy.metadata.update(stream.metadata)
                streams[stream.index] = copy
            for packet in src.demux():
                if packet.dts is None:  # demuxer flush packets carry no data
                    continue
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    except av.FFmpegError as error:
        raise outputs.as_write_error(Path(destination), error) or MediaError(
            f"could not copy '{source}' to '{destination}' with the AIGC label "
            f"({error.strerror or error}); check the file plays") from None



def read_aigc(path: str | os.PathLike[str]) -> AigcLabel | None:
    """The label in ``path``'s container metadata, or None when there is none.

    Read through FFmpeg's own metadata reader, as players and platforms do.

    Raises
    ------
    MediaError
        If the file cannot be opened at all.
    DescriptionError
        If an ``AIGC`` key is present but not a GB 45438-2025 object.
    """
    if not Path(path).is_file():
        raise MediaError(f"'{path}' does not exist or is not a file; check the path")
    try:
        with av.open(os.fspath(path)) as container:
            value = container.metadata.get(AIGC_KEY)
    except av.FFmpegError as error:
        raise MediaError(f"'{path}' cannot be read ({error.strerror or error})") from None
    return None if value is None else AigcLabel.from_json(value)
