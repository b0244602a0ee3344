"""The ISCC Video-Code (ISO 24138): the interoperable identifier of a video's content.

One 64-bit code per video, from the MPEG-7 frame signatures (ISO/IEC
15938-3) of five frames a second, summed and hashed (winner-takes-all). Other
ISCC tools compute and compare the same code, and the C2PA soft-binding
algorithm list names it (``io.iscc.v0``), so aimark can give it to them.

It is not what aimark matches with: one code for the whole video cannot find
an excerpt, and the frame signatures cover the whole picture, so crops move
the code (measured side by side in ``benchmarks/results/fingerprint.md``);
:mod:`watermark.contentid` does the matching.

PyAV decodes the video. PyAV's FFmpeg builds leave out the GPL-only
``signature`` filter, so the grey pictures chosen at five a second are piped
to the ``ffmpeg`` program's filter (FFmpeg's own MPEG-7 implementation, as
the ISCC reference tools use it); ``iscc-lib`` computes the code.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from watermark.errors import VideoError
from watermark.video import read_pictures

#: Frames per second the MPEG-7 signatures are taken at (as the ISCC reference does: ``fps=5``).
FRAME_RATE = 5
#: Trits per MPEG-7 frame signature.
SIGNATURE_LENGTH = 380

_SIGNATURE = re.compile(rb"<FrameSignature>([^<]*)</FrameSignature>")


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise VideoError("the ISCC Video-Code needs the ffmpeg program (its MPEG-7 'signature' filter); "
                         "install it (Debian: apt-get install ffmpeg)")
    return found


def frame_signatures(path: str | os.PathLike[str]) -> np.ndarray:
    """MPEG-7 frame signatures of a video, five frames a second.

    Parameters
    ----------
    path : path-like
        A video PyAV can read.

    Returns
    -------
    numpy.ndarray, shape (N, 380), uint8
        One signature per chosen frame, trits 0, 1 or 2.

    Raises
    ------
    watermark.VideoError
        If the video cannot be read or the ``ffmpeg`` program is missing or fails.
    """
    program = _ffmpeg()
    with tempfile.TemporaryDirectory(prefix="aimark-iscc-") as folder:
        process: subprocess.Popen | None = None
        try:
            # As FFmpeg's fps filter chooses (round to nearest): each 1/5 s slot keeps its last frame.
            held, held_slot, first = None, None, None
            for picture in read_pictures(path):
                first = picture.time if first is None else first
                slot = math.floor((picture.time - first) * FRAME_RATE + 0.5)
                if held is not None and slot != held_slot:
                    process = _write(process, program, folder, held)
                luma = picture.luma
                held = (luma >> (picture.bit_depth - 8)).astype(np.uint8) if picture.bit_depth > 8 else luma.copy()
                held_slot = slot
            if held is not None:
                process = _write(process, program, folder, held)
        except BrokenPipeError:
            pass
        finally:
            if process is not None:
                process.stdin.close()
                errors = process.stderr.read().decode(errors="replace").strip()
                if process.wait() != 0:
                    raise VideoError(f"ffmpeg's signature filter failed on '{path}': {errors.splitlines()[-1:]}")
        xml = Path(folder, "signature.xml")
        if process is None or not xml.exists():
            raise VideoError(f"'{path}' gave no frames to sign")
        rows = [np.array(found.split(), np.uint8) for found in _SIGNATURE.findall(xml.read_bytes())]
    if not rows or any(len(r) != SIGNATURE_LENGTH for r in rows):
        raise VideoError(f"ffmpeg's signature filter wrote no usable signatures for '{path}'")
    return np.stack(rows)


def _write(process: subprocess.Popen | None, program: str, folder: str, luma: np.ndarray) -> subprocess.Popen:
    """Send one grey picture to the signature filter, starting ffmpeg with the first."""
    if process is None:
        process = subprocess.Popen(
            [program, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray",
             "-s", f"{luma.shape[1]}x{luma.shape[0]}", "-r", str(FRAME_RATE), "-i", "-",
             "-vf", "signature=format=xml:filename=signature.xml", "-f", "null", "-"],
            cwd=folder, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdin.write(np.ascontiguousarray(luma).tobytes())
    return process


def video_code(signatures: np.ndarray, *, bits: int = 64) -> str:
    """The ISCC Video-Code of MPEG-7 frame signatures, e.g. ``'ISCC:EMAV...'``.

    Examples
    --------
    >>> video_code(np.tile([0, 1, 2, 1], (3, 95)))
    'ISCC:EMAQUUFYBGFMGSQR'
    """
    import iscc_lib  # imported here: only this identifier needs it

    rows = np.asarray(signatures, np.uint8).reshape(-1, SIGNATURE_LENGTH)
    return iscc_lib.gen_video_code_v0([tuple(int(x) for x in row) for row in rows], bits)["iscc"]


def video_code_file(path: str | os.PathLike[str]) -> str:
    """The ISCC Video-Code of a video file (see :func:`frame_signatures`)."""
    return video_code(frame_signatures(path))


def distance(code: str, other: str) -> int:
    """Bits that differ between two ISCC Video-Codes (0 for the same pictures, about 32 for unrelated ones).

    Examples
    --------
    >>> distance("ISCC:EMAQUUFYBGFMGSQR", "ISCC:EMAQUUFYBGFMGSQR")
    0
    """
    import iscc_lib

    a, b = (iscc_lib.iscc_decode(c)[4] for c in (code, other))
    if len(a) != len(b):
        raise ValueError(f"codes of {len(a) * 8} and {len(b) * 8} bits cannot be compared")
    return int(np.unpackbits(np.frombuffer(bytes(x ^ y for x, y in zip(a, b)), np.uint8)).sum())
