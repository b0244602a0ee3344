"""China's implicit AIGC label: its JSON, where it is written, and reading it back."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import av
import numpy as np
import pytest

from _provenance import aimark_home, clip, make_clip  # noqa: F401  (fixtures)
from manifests import (
    MUX_OPTIONS,
    AigcLabel,
    DescriptionError,
    GenerationDescription,
    MediaError,
    aigc_label,
    aigc_metadata,
    read_aigc,
    write_aigc,
)

GB_FIELDS = ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
             "ReservedCode2"]


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of each ISO BMFF box in data[start:end]."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[start + 8:start + 16])[0], 16
        elif size == 0:
            size = end - start
        yield kind.decode("latin-1"), start + header, start + size
        start += size


def child(data: bytes, parent: tuple[int, int], kind: str, skip: int = 0) -> tuple[int, int]:
    for name, begin, stop in boxes(data, parent[0] + skip, parent[1]):
        if name == kind:
            return begin, stop
    raise AssertionError(f"no {kind} box")


def test_json_has_the_standard_fields_in_order():
    label = AigcLabel(content_producer="ACME 公司", produce_id="00c0ffee12345678")
    text = label.to_json()
    assert list(json.loads(text)) == GB_FIELDS
    assert "ACME 公司" in text  # kept readable, not \u-escaped
    assert AigcLabel.from_json(text) == label


def test_reading_tolerates_missing_and_extra_fields():
    label = AigcLabel.from_json('{"Label": 1, "ContentProducer": "ACME", "Extra": "x"}')
    assert label == AigcLabel(label="1", content_producer="ACME")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"Label": "7"}'])
def test_bad_labels_are_refused(text):
    with pytest.raises(DescriptionError):
        AigcLabel.from_json(text)


def test_producer_label_from_a_description():
    description = GenerationDescription(author="Ada", model="VidGen", organisation="ACME",
                                        identifier="00c0ffee12345678")
    assert aigc_label(description) == AigcLabel(content_producer="ACME", produce_id="00c0ffee12345678")
    assert aigc_label(description, "91110000XXXX").content_producer == "91110000XXXX"
    with pytest.raises(DescriptionError, match="content producer"):
        aigc_label(GenerationDescription(author="Ada", model="VidGen"))


def test_propagator_fields_keep_the_producer_fields():
    label = AigcLabel(content_producer="ACME", produce_id="1").propagated("VidShare", "v-1")
    assert (label.content_producer, label.produce_id, label.content_propagator, label.propagate_id) == (
        "ACME", "1", "VidShare", "v-1")
    with pytest.raises(DescriptionError):
        label.propagated(" ", "v-2")


def test_label_is_written_as_a_key_in_moov_udta_meta(tmp_path, clip):
    label = AigcLabel(content_producer="ACME", produce_id="00c0ffee12345678")
    write_aigc(clip, tmp_path / "labelled.mp4", label)
    data = (tmp_path / "labelled.mp4").read_bytes()
    moov = next((b, e) for name, b, e in boxes(data) if name == "moov")
    meta = child(data, child(data, moov, "udta"), "meta")
    keys = child(data, meta, "keys", skip=4)  # meta is a full box: 4 bytes of version and flags
    assert b"mdtaAIGC" in data[keys[0]:keys[1]]
    assert label.to_json().encode() in data[slice(*child(data, meta, "ilst", skip=4))]


def test_stream_copy_keeps_every_video_packet(tmp_path):
    source = make_clip(tmp_path / "sound.mp4", width=160, height=96, frames=25, audio=True)
    write_aigc(source, tmp_path / "labelled.mp4", AigcLabel(content_producer="ACME"))

    def packets(path: Path) -> list[tuple[int, bytes]]:
        with av.open(str(path)) as container:
            return [(p.stream.type == "video", bytes(p)) for p in container.demux() if p.size]

    assert packets(source) == packets(tmp_path / "labelled.mp4")


def test_an_encoding_pipeline_writes_the_label_with_the_mux_options(tmp_path):
    label = AigcLabel(content_producer="ACME", produce_id="00c0ffee12345678")
    out = tmp_path / "encoded.mp4"
    with av.open(str(out), "w", options=MUX_OPTIONS) as container:
        container.metadata.update(aigc_metadata(label))
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(5):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode())
    assert read_aigc(out) == label


def test_unlabelled_file_reads_as_none(clip):
    assert read_aigc(clip) is None


def test_unreadable_files_are_user_errors(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        read_aigc(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 10)
    with pytest.raises(MediaError, match="cannot be read"):
        read_aigc(tmp_path / "junk.mp4")
