"""Prepare the 1080p versions of the real clips into ``benchmarks/work/clips/``.

Generated videos are mostly 720p to 1080p while the shared clips are small, so
each clip is also scaled up to 1080 lines (even width, aspect of the stored
picture kept; bicubic) and encoded near-transparently with H.264 CRF 16,
preset medium. Audio, where there is some, is copied as it is. The other
scripts call :func:`prepare` on first use; running this script re-creates the
files (``--force``) or reports them.

    python benchmarks/clips.py [--force]
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from typing import Sequence

import av

from common import SOURCES, WORK_DIR, Clip, SourceClip, hd_path, log, stopwatch, videos_dir
from videoio import H264_CRF16, even, probe

HD_HEIGHT = 1080


def prepare(sources: Sequence[SourceClip], *, force: bool = False) -> None:
    """Write ``<stem>_1080p.mp4`` for each source (skips existing ones unless ``force``)."""
    folder = videos_dir()
    for source in sources:
        dst = hd_path(source)
        if dst.exists() and not force:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".part.mp4")
        with stopwatch() as t:
            frames = _upscale(folder / source.filename, tmp)
        tmp.replace(dst)
        log(f"prepared {dst.name}: {frames} frames in {t['s']:.0f} s")


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
    if not dst.exists():
        tmp = dst.with_suffix(".part.mp4")
        transform_video(clip.path, tmp, window=(0.0, seconds), encoder=H264_CRF16)
        tmp.replace(dst)
    return probe(dst, name=clip.name)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--force", action="store_true", help="re-create existing files")
    args = p.parse_args(argv)
    prepare(SOURCES, force=args.force)
    for source in SOURCES:
        print(hd_path(source))


if __name__ == "__main__":
    sys.exit(main())
