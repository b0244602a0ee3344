"""The command lines a user runs, run and timed from outside: ``aimark`` and ``ffmpeg``.

The issue's costs are what a new user pays: ``aimark embed`` (or ``stamp``)
with defaults against the ffmpeg command line they would otherwise run,
``ffmpeg -i SRC -c:v libx264 -preset medium -crf Q -c:a copy DST``. So both
run here as child processes, start-up included, and each run is timed in wall
seconds and in the child's CPU seconds (user + system, all its threads).

Which mark is measured: by default the checkout these scripts live in; with
``--mark REF`` a ``git worktree`` of REF (kept in the cache folder of
``clips.py``), so that the same script gives the 'before' and 'after' columns
of a change. Only ``aimark`` runs from that tree; the baselines, the clips and
the measurements stay this checkout's.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from common import REPO_ROOT, _git, log

#: The ffmpeg command line of the issue, with DST last; SRC and Q filled in by :func:`ffmpeg_command`.
FFMPEG_ARGS = ("-c:v", "libx264", "-preset", "medium", "-crf", "{crf}", "-c:a", "copy")
#: Only when the issue's command fails on an odd picture size (x264 needs even sizes for 4:2:0):
#: the smallest change that makes it run, the crop the product makes too.
EVEN_CROP = ("-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2")


@dataclass(frozen=True)
class Timed:
    """One child process: its wall and CPU seconds, exit status and output."""

    wall_s: float
    cpu_s: float
    returncode: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """The last line of stderr, for tables ('' when the run succeeded)."""
        lines = [x for x in self.stderr.strip().splitlines() if x.strip()]
        return "" if self.returncode == 0 else (lines[-1] if lines else f"exit status {self.returncode}")


def run_timed(command: Sequence[str], *, env: dict[str, str] | None = None) -> Timed:
    """Run ``command`` to completion; wall time, and CPU time from the children's rusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(list(command), capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, done.returncode, done.stdout, done.stderr)


def ffmpeg_command(src: Path, dst: Path, *, crf: float, even_crop: bool = False) -> list[str]:
    """The issue's ffmpeg command line (quiet, overwriting), optionally with :data:`EVEN_CROP`."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        sys.exit("benchmarks: the ffmpeg command line is needed (apt-get install ffmpeg).")
    body = [a.format(crf=f"{crf:g}") for a in FFMPEG_ARGS]
    return [exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(src),
            *(EVEN_CROP if even_crop else ()), *body, str(dst)]


def ffmpeg_encode(src: Path, dst: Path, *, crf: float) -> tuple[Timed, str]:
    """Run the issue's command; on an odd picture size, where it fails, again with :data:`EVEN_CROP`.

    Returns the timed run and how ffmpeg was run (for the tables: a user of
    the plain command line meets that failure). Raises ``RuntimeError`` with
    ffmpeg's message when it fails otherwise.
    """
    result = run_timed(ffmpeg_command(src, dst, crf=crf))
    if result.returncode == 0:
        return result, "the issue's command"
    if not _odd_size(src):
        raise RuntimeError(f"ffmpeg: {result.error}")
    cropped = run_timed(ffmpeg_command(src, dst, crf=crf, even_crop=True))
    if cropped.returncode != 0:
        raise RuntimeError(f"ffmpeg: {cropped.error}")
    # ffmpeg's first line names the cause (x264: 'height not divisible by 2'); the last is generic.
    cause = next((x for x in result.stderr.splitlines() if x.strip()), result.error)
    cause = re.sub(r"^\[[^\]]*\]\s*", "", cause.strip())  # '[libx264 @ 0x55...] ' differs per run
    return cropped, f"the issue's command failed ({cause}); run with an even crop"


def _odd_size(src: Path) -> bool:
    import av

    with av.open(str(src)) as container:
        context = container.streams.video[0].codec_context
        return bool(context.width % 2 or context.height % 2)


class Aimark:
    """The ``aimark`` command of one source tree, with a private home (keys, identity, repository).

    ``AIMARK_HOME`` points into the run's work folder so that the development
    signing identity and the manifest repository of a run never touch the
    user's, and ``AIMARK_SETTINGS`` is cleared so their defaults do not leak in.
    """

    def __init__(self, tree: Path, home: Path) -> None:
        self.tree = tree
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("AIMARK_SETTINGS", "PYTHONPATH")}
        self.env.update(PYTHONPATH=str(tree), AIMARK_HOME=str(home))

    def command(self, *args: str) -> list[str]:
        """The argv that runs ``aimark ARGS`` from :attr:`tree` (what the console script does)."""
        return [sys.executable, "-c", "import sys; from aimark.cli import main; sys.argv[0] = 'aimark'; main()",
                *args]

    def run(self, *args: str) -> Timed:
        """Run ``aimark ARGS``; raises ``RuntimeError`` with its error line when it fails."""
        result = run_timed(self.command(*args), env=self.env)
        if result.returncode != 0:
            raise RuntimeError(f"aimark {args[0]}: {result.error}")
        return result

    def identity(self) -> dict[str, Any]:
        """Which mark this is: the tree, its commit and the last commit that touched ``watermark/``."""
        def git(*a: str) -> str:
            done = subprocess.run(["git", "-C", str(self.tree), *a], capture_output=True, text=True)
            return done.stdout.strip() if done.returncode == 0 else ""

        return {"tree": str(self.tree), "head": git("log", "-1", "--format=%h %cI %s"),
                "watermark_commit": git("log", "-1", "--format=%h %cI", "--", "watermark"),
                "uncommitted_changes": bool(git("status", "--porcelain", "--", "watermark", "aimark"))}


def add_mark_option(p: argparse.ArgumentParser) -> None:
    """``--mark REF``: measure the mark of another commit (a git worktree of REF)."""
    p.add_argument("--mark", metavar="REF",
                   help="measure the aimark of this commit or branch (a git worktree of it) instead of "
                        "this checkout's; results are written as <name>_mark-<hash>.md/.json")


def mark_tree(ref: str | None) -> Path:
    """The source tree whose ``aimark`` is measured: this checkout, or a worktree of ``ref``.

    Exits with a one-line message when ``ref`` is not a commit of this
    repository.
    """
    if ref is None:
        return REPO_ROOT
    commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if not commit:
        sys.exit(f"benchmarks: --mark {ref!r} is not a commit of this repository (see 'git log').")
    from clips import cache_dir  # clips imports videoio, which imports common

    tree = cache_dir() / "trees" / commit[:12]
    if not (tree / "aimark").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--force",
                               str(tree), commit], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"benchmarks: could not make a worktree of {ref}: {done.stderr.strip()}")
        log(f"worktree of {ref} ({commit[:12]}) at {tree}")
    return tree


def results_name(name: str, ref: str | None) -> str:
    """``name``, or ``name_mark-<hash>`` when another commit's mark is measured."""
    return name if ref is None else f"{name}_mark-{_git('rev-parse', '--short=9', ref)}"
