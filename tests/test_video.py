"""Streaming video I/O: what passes through embedding untouched."""

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_clip, remux
from watermark import VideoError, detect_file, embed_file, probe, transcode


def _packets(path, kind):
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(p.pts, bytes(p)) for p in container.demux(stream) if p.size]


def test_audio_is_copied_bit_for_bit(clip, tmp_path):
    out = tmp_path / "marked.mp4"
    embed_file(clip, out, identifier="00000000000000aa")
    assert _packets(out, "audio") == _packets(clip, "audio")
    with av.open(str(out)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]


def test_variable_frame_rate_timing_is_kept(tmp_path):
    pts = np.cumsum([0] + [40, 40, 80, 20, 120, 40, 60] * 6).tolist()
    src = make_clip(tmp_path / "vfr.mp4", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    out = tmp_path / "marked.mp4"
    embed_file(src, out)

    def times(path):
        with av.open(str(path)) as container:
            return [round(frame.time, 3) for frame in container.decode(video=0)]

    assert times(out) == times(src)


def test_rotation_colour_and_metadata_are_kept(tmp_path):
    src = make_clip(tmp_path / "rot.mp4", rotation=90)
    tagged = remux(src, tmp_path / "tagged.mp4", metadata={"title": "a generated clip"})
    out = tmp_path / "marked.mp4"
    embed_file(tagged, out)
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 90
        assert container.metadata.get("title") == "a generated clip"


@pytest.mark.parametrize("pix_fmt, size", [("yuv444p", (321, 241)), ("yuv420p10le", (480, 272)),
                                           ("yuv422p", (480, 272))])
def test_other_pixel_formats_are_marked(tmp_path, pix_fmt, size):
    src = make_clip(tmp_path / "in.mp4", width=size[0], height=size[1], pix_fmt=pix_fmt, frames=30)
    out = tmp_path / "marked.mp4"
    embed_file(src, out, identifier="0123456789abcdef")
    info = probe(out)
    assert (info.width, info.height, info.pixel_format) == (size[0], size[1], pix_fmt)
    assert detect_file(out).identifier == "0123456789abcdef"


def test_odd_sized_yuv420_becomes_444(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", width=321, height=241, codec="ffv1", frames=20)
    out = tmp_path / "marked.mp4"
    embed_file(src, out)
    info = probe(out)
    assert (info.width, info.height, info.pixel_format) == (321, 241, "yuv444p")


def test_failure_leaves_no_output(clip, tmp_path):
    out = tmp_path / "out.mp4"

    def explode(picture):
        if picture.index == 10:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        transcode(clip, out, explode)
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_input_is_refused(clip, tmp_path):
    copy = tmp_path / "same.mp4"
    copy.write_bytes(clip.read_bytes())
    with pytest.raises(VideoError, match="is the input"):
        embed_file(copy, copy)
    assert copy.read_bytes() == clip.read_bytes()
