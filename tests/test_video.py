"""Streaming video I/O: what passes through embedding untouched, and what every player can show."""

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import make_clip, remux, require
from outputs import SameFileError
from watermark import (DroppedStreamWarning, EncoderError, EncoderSettings, detect_file, embed_file, probe,
                       transcode)


def _packets(path, kind, index=0):
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[index]
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


@pytest.mark.parametrize("pix_fmt, size, played", [
    ("yuv444p", (321, 241), (320, 240)), ("yuv420p10le", (480, 272), (480, 272)),
    ("yuv422p", (480, 272), (480, 272)), ("yuv420p", (721, 405), (720, 404))])
def test_every_input_becomes_playable_8_bit_420_at_an_even_size(tmp_path, pix_fmt, size, played):
    src = make_clip(tmp_path / "in.mkv", width=size[0], height=size[1], pix_fmt=pix_fmt, frames=30,
                    codec="ffv1")
    out = tmp_path / "marked.mp4"
    embed_file(src, out, identifier="0123456789abcdef")
    info = probe(out)
    assert (info.width, info.height, info.pixel_format) == (*played, "yuv420p")
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.profile == "High"
    assert detect_file(out).identifier == "0123456789abcdef"


@pytest.mark.parametrize("pix_fmt, size", [("yuv444p", (321, 241)), ("yuv420p10le", (480, 272)),
                                           ("yuv422p", (480, 272))])
def test_keep_format_marks_other_pixel_formats_in_their_own(tmp_path, pix_fmt, size):
    src = make_clip(tmp_path / "in.mp4", width=size[0], height=size[1], pix_fmt=pix_fmt, frames=30)
    out = tmp_path / "marked.mp4"
    embed_file(src, out, identifier="0123456789abcdef", keep_format=True)
    info = probe(out)
    assert (info.width, info.height, info.pixel_format) == (size[0], size[1], pix_fmt)
    assert detect_file(out).identifier == "0123456789abcdef"


def test_keep_format_encodes_odd_sized_yuv420_as_444(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", width=321, height=241, codec="ffv1", frames=20)
    out = tmp_path / "marked.mp4"
    embed_file(src, out, keep_format=True)
    info = probe(out)
    assert (info.width, info.height, info.pixel_format) == (321, 241, "yuv444p")


def _with_subtitles_and_two_languages(tmp_path, container: str) -> Path:
    """A clip with two audio tracks (English default, French not) and German subtitles."""
    src = make_clip(tmp_path / "base.mp4", frames=50, audio=True)
    subtitles = tmp_path / "s.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:01,500\nHallo\n")
    out = tmp_path / f"streams.{container}"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-i", str(subtitles),
                    "-map", "0:v", "-map", "0:a", "-map", "0:a", "-map", "1", "-c", "copy",
                    "-c:s", "mov_text" if container == "mp4" else "srt",
                    "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                    "-metadata:s:s:0", "language=deu", "-disposition:a:0", "default",
                    "-disposition:a:1", "0", "-disposition:s:0", "forced", str(out)], check=True)
    return out


def _streams(path: Path) -> list[tuple]:
    probe_json = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], check=True,
        capture_output=True).stdout)
    return [(s["codec_type"], s.get("tags", {}).get("language"), s["disposition"]["default"],
             s["disposition"]["forced"]) for s in probe_json["streams"]]


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_every_stream_is_kept_with_its_language_and_disposition(tmp_path, container):
    require("ffmpeg")
    src = _with_subtitles_and_two_languages(tmp_path, container)
    out = tmp_path / f"marked.{container}"
    embed_file(src, out)
    assert [s[0] for s in _streams(out)] == ["video", "audio", "audio", "subtitle"]
    assert _streams(out)[1:] == _streams(src)[1:]
    for kind, index in (("audio", 0), ("audio", 1), ("subtitles", 0)):
        assert _packets(out, kind, index) == _packets(src, kind, index)  # copied packet for packet


def test_a_stream_the_output_cannot_carry_is_named(tmp_path):
    require("ffmpeg")
    src = _with_subtitles_and_two_languages(tmp_path, "mkv")
    with pytest.warns(DroppedStreamWarning, match=r"stream #3 .* \.mp4 files cannot carry srt subtitles; "
                                                  r"write \.mkv to keep it"):
        embed_file(src, tmp_path / "marked.mp4")
    assert [s[0] for s in _streams(tmp_path / "marked.mp4")] == ["video", "audio", "audio"]


@pytest.mark.parametrize("settings, message", [
    ({"codec": "nonexist"}, "unknown video encoder 'nonexist'"),
    ({"codec": "aac"}, "'aac' encodes audio, not video"),
    ({"codec": "libx264", "crf": 99}, "CRF 99 is outside libx264's scale 0-51"),
    ({"codec": "libx264", "preset": "fastest"}, "preset 'fastest' is not one of"),
])
def test_unusable_encoder_settings_fail_when_made(settings, message):
    with pytest.raises(EncoderError, match=message):
        EncoderSettings(**settings)


def test_crf_is_checked_against_the_container_default_before_decoding(clip, tmp_path):
    with pytest.raises(EncoderError, match="CRF 60 is outside libx264's scale"):
        embed_file(tmp_path / "not-even-there.mp4", tmp_path / "out.mp4", crf=60)


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
    with pytest.raises(SameFileError, match="is the input"):
        embed_file(copy, copy)
    assert copy.read_bytes() == clip.read_bytes()
