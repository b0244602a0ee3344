"""Speed as a user meets it: ``aimark embed`` and ``aimark stamp`` against the ffmpeg command line.

What a provider would otherwise run is ``ffmpeg -i SRC -c:v libx264 -preset
medium -crf 18 -c:a copy DST``; ``aimark embed SRC DST`` and ``aimark stamp
SRC DST --author ... --model ...`` with defaults (x264 CRF 18, preset medium)
do that encode plus their own work. The three run as child processes,
start-up included, on the same clip, one after another in an order that goes
through all six permutations over the rounds, so that load from other users
of the machine falls on every side; each round gives the ratios embed/ffmpeg
and stamp/ffmpeg in wall time (the target) and in the children's CPU time.
The figures are medians of the per-round ratios, per clip and over all
rounds at each resolution, 720p and 1080p. Targets (issue 7): embed at most
1.25, stamp at most 1.3.

Where embed's time goes: one ``aimark embed`` of a 1080p clip under cProfile,
the top functions by cumulative time (click's wrappers left out) and the share of the run spent inside
the encoder's ``encode`` calls (x264 runs in threads started from there, so
its whole cost lands on those calls), decoding and the mark itself.
``aimark detect --json`` is timed once per marked clip, start-up included,
and must return the identifier embedded.

    python benchmarks/speed.py [--quick] [--rounds N] [--mark REF]
"""

from __future__ import annotations

import json
import os
import pstats
import shutil
import statistics
import sys
from itertools import permutations
from pathlib import Path
from typing import Any, Sequence

from clips import made_clips
from commands import Aimark, add_mark_option, ffmpeg_encode, mark_tree, results_name, run_timed
from common import (HD_SUFFIX, WORK_DIR, Clip, Run, identifier_for, load_clips, log, md_table, parser)

EMBED_TARGET, STAMP_TARGET = 1.25, 1.3
CRF = 18
STEPS = ("ffmpeg", "embed", "stamp")
#: Every order of the three steps; round r uses ORDERS[r % 6].
ORDERS = tuple(permutations(STEPS))
#: The clips timed (720p and 1080p): real animation, and the made pan.
CLIPS = ("bbb", "bbb" + HD_SUFFIX, "pan", "pan" + HD_SUFFIX)
QUICK_CLIPS = ("bbb", "pan")
PROFILED = "pan" + HD_SUFFIX
#: How many functions the profile table lists.
PROFILE_TOP = 15
#: cProfile names of the PyAV calls that do the codec work.
_ENCODE, _DECODE = ("encode",), ("decode",)


def _clips(quick: bool) -> list[Clip]:
    wanted = QUICK_CLIPS if quick else CLIPS
    found = [c for c in load_clips(quick=quick, names=("bbb",)) + made_clips(quick=quick) if c.name in wanted]
    return sorted(found, key=lambda c: wanted.index(c.name))


def time_round(aimark: Aimark, clip: Clip, order: Sequence[str], folder: Path) -> dict[str, Any]:
    """One round on one clip: the three steps in ``order``; wall and CPU seconds and the ratios."""
    out: dict[str, Any] = {"order": list(order)}
    for step in order:
        dst = folder / f"{step}.mp4"
        # Never --force: on aimark it also skips the check for an existing mark, part of what a user pays.
        dst.unlink(missing_ok=True)
        if step == "ffmpeg":
            timed, _ = ffmpeg_encode(clip.path, dst, crf=CRF)
        elif step == "embed":
            timed = aimark.run("embed", str(clip.path), str(dst), "--id", identifier_for(clip.name), "-q", "--json")
        else:
            timed = aimark.run("stamp", str(clip.path), str(dst), "--author", "Benchmark", "--model", "VidGen",
                               "-q", "--json")
        out[step], out[f"{step}_cpu"] = timed.wall_s, timed.cpu_s
        if step != "ffmpeg":
            # The command's own timing of its work (docs/json.md 'seconds'): the rest is start-up.
            out[f"{step}_work"] = float(json.loads(timed.stdout)["seconds"])
    for step in ("embed", "stamp"):
        out[f"{step}_ratio"] = out[step] / out["ffmpeg"]
        out[f"{step}_cpu_ratio"] = out[f"{step}_cpu"] / out["ffmpeg_cpu"]
        out[f"{step}_startup"] = out[step] - out[f"{step}_work"]
    out["load"] = os.getloadavg()[0]
    return out


def profile_embed(aimark: Aimark, clip: Clip, folder: Path) -> dict[str, Any]:
    """``aimark embed`` of ``clip`` under cProfile in a child process; where its time goes."""
    stats_file, dst = folder / "embed.prof", folder / "profiled.mp4"
    code = ("import cProfile, sys; from aimark.cli import main; "
            f"sys.argv = ['aimark', 'embed', {str(clip.path)!r}, {str(dst)!r}, '-q']; "
            "p = cProfile.Profile(); p.enable()\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"p.disable(); p.dump_stats({str(stats_file)!r})")
    timed = run_timed([sys.executable, "-c", code], env=aimark.env)
    if timed.returncode != 0 or not stats_file.exists():
        return {"clip": clip.name, "error": timed.error or "no profile written"}
    stats = pstats.Stats(str(stats_file))
    entries = stats.stats  # {(file, line, name): (calls, primitive, tottime, cumtime, callers)}
    total = max(v[3] for v in entries.values())

    def share(names: tuple[str, ...]) -> float:
        """Total own time of PyAV's C methods with these names (their threads' work lands there)."""
        own = sum(v[2] for (file, _, name), v in entries.items()
                  if file == "~" and any(f"method '{n}' of 'av." in name for n in names))
        return own / total

    def where(key: tuple[str, int, str]) -> str:
        file, line, name = key
        return name if file == "~" else f"{Path(file).parent.name}/{Path(file).name}:{line} {name}"

    # The command-line wrappers (click) all show 100 %: list the work below them.
    top = sorted(((k, v) for k, v in entries.items() if f"{os.sep}click{os.sep}" not in k[0]),
                 key=lambda kv: -kv[1][3])[:PROFILE_TOP]
    # The marker's frame function (watermark.embed.marker's closure): the mark itself.
    mark = sum(v[3] for (file, _, name), v in entries.items()
               if name == "mark" and file.endswith(os.path.join("watermark", "embed.py")))
    return {"clip": clip.name, "wall_s": timed.wall_s, "profiled_s": total,
            "encode_share": share(_ENCODE), "decode_share": share(_DECODE), "mark_share": mark / total,
            "top": [{"function": where(k), "calls": v[0], "own_s": v[2], "cumulative_s": v[3],
                     "cumulative_share": v[3] / total} for k, v in top]}


def detect_once(aimark: Aimark, clip: Clip, marked: Path) -> dict[str, Any]:
    """``aimark detect --json`` on the embed output (public key), start-up included."""
    timed = run_timed(aimark.command("detect", str(marked), "--json", "-q"), env=aimark.env)
    try:
        found = json.loads(timed.stdout).get("identifier")
    except json.JSONDecodeError:
        found = None
    return {"seconds": timed.wall_s, "x_realtime": clip.duration / timed.wall_s, "identifier": found,
            "ok": found == identifier_for(clip.name), "error": timed.error}


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0], rounds=True)
    add_mark_option(p)
    args = p.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    tree = mark_tree(args.mark)
    clips = _clips(args.quick)
    work = WORK_DIR / results_name("speed", args.mark)
    shutil.rmtree(work, ignore_errors=True)
    aimark = Aimark(tree, work / "aimark-home")
    run = Run("speed", args, {
        "crf": CRF, "preset": "medium", "rounds": rounds, "orders": [list(o) for o in ORDERS],
        "ffmpeg": f"ffmpeg -i SRC -c:v libx264 -preset medium -crf {CRF} -c:a copy DST",
        "embed": "aimark embed SRC DST --id ID (defaults: public key, CRF 18 medium)",
        "stamp": "aimark stamp SRC DST --author Benchmark --model VidGen (defaults: no visible notice, "
                 "development signer, SQLite repository in a private AIMARK_HOME)",
        "targets": {"embed": EMBED_TARGET, "stamp": STAMP_TARGET},
        "clips": [c.describe() for c in clips],
    }, stem=results_name("speed", args.mark))
    run.meta["mark"] = aimark.identity()
    warm = work / "warm-up"
    warm.mkdir(parents=True)
    log("warm-up: one untimed round (imports compiled, development identity made, files cached)")
    time_round(aimark, clips[0], STEPS, warm)

    results = []
    for clip in clips:
        folder = work / clip.name.replace("@", "_")
        folder.mkdir(parents=True)
        per_round = []
        for r in range(rounds):
            t = time_round(aimark, clip, ORDERS[r % len(ORDERS)], folder)
            per_round.append(t)
            log(f"{clip.name} round {r + 1} ({'/'.join(t['order'])}): ffmpeg {t['ffmpeg']:.1f} s, embed "
                f"{t['embed']:.1f} s ({t['embed_ratio']:.2f}x), stamp {t['stamp']:.1f} s ({t['stamp_ratio']:.2f}x); "
                f"load {t['load']:.1f}")
        row: dict[str, Any] = {"clip": clip.name, "size": f"{clip.width}x{clip.height}", "frames": clip.frames,
                               "hd": clip.height >= 1080, "rounds": per_round,
                               "detect": detect_once(aimark, clip, folder / "embed.mp4")}
        for key in ("ffmpeg", "embed", "stamp", "embed_ratio", "stamp_ratio", "embed_cpu_ratio", "stamp_cpu_ratio",
                    "embed_startup", "stamp_startup"):
            row[key] = statistics.median(t[key] for t in per_round)
        results.append(row)
    profiled = next((c for c in clips if c.name == PROFILED), clips[-1])
    log(f"profiling aimark embed on {profiled.name}")
    profile = profile_embed(aimark, profiled, work)
    summary = summarise(results)
    run.write({"clips": results, "summary": summary, "profile": profile},
              render(results, summary, profile, run.meta["mark"]))


def summarise(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per resolution and step: the median ratio over every round, and whether the target is met."""
    out = []
    for hd in (False, True):
        rows = [r for r in results if r["hd"] == hd]
        if not rows:
            continue
        for step, target in (("embed", EMBED_TARGET), ("stamp", STAMP_TARGET)):
            ratios = [t[f"{step}_ratio"] for r in rows for t in r["rounds"]]
            cpu = [t[f"{step}_cpu_ratio"] for r in rows for t in r["rounds"]]
            median = statistics.median(ratios)
            out.append({"resolution": "1080p" if hd else "720p", "step": step, "target": target,
                        "median_wall_ratio": median, "median_cpu_ratio": statistics.median(cpu),
                        "rounds": len(ratios), "range": [min(ratios), max(ratios)], "met": median <= target,
                        "clips": [r["clip"] for r in rows]})
    return out


def render(results: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]], profile: dict[str, Any],
           mark: dict[str, Any]) -> str:
    ident = mark
    md = [f"Mark measured: `aimark` of {ident['tree']} at {ident['head'] or 'n/a'} (watermark/ last changed "
          f"{ident['watermark_commit'] or 'n/a'}{', uncommitted changes' if ident['uncommitted_changes'] else ''}).",
          "",
          f"`aimark embed` and `aimark stamp` with defaults against `ffmpeg -i SRC -c:v libx264 -preset medium "
          f"-crf {CRF} -c:a copy DST`, each a child process (start-up included), one after another on the same "
          "clip in an order that cycles through all six permutations; ratios are per round, then medians. "
          "Wall time is the target; CPU time (user + system of the child, all threads) is beside it. "
          "'start-up' is the command's wall time minus the `seconds` it reports for its own work (imports, "
          "key and signer loading): part of what a user pays per call.",
          "", "## Targets", "",
          md_table(["resolution", "command", "median wall ratio", "range", "median CPU ratio", "rounds", "target",
                    "met"],
                   [[s["resolution"], f"aimark {s['step']}", f"{s['median_wall_ratio']:.3f}",
                     f"{s['range'][0]:.2f}–{s['range'][1]:.2f}", f"{s['median_cpu_ratio']:.3f}", s["rounds"],
                     f"≤ {s['target']}", "✓" if s["met"] else "✗"] for s in summary]),
          "", "## What the numbers say", ""]
    for s in summary:
        over = s["median_wall_ratio"] / s["target"] - 1
        md.append(f"- **{'met' if s['met'] else 'NOT met'}**: aimark {s['step']} at {s['resolution']} takes "
                  f"{s['median_wall_ratio']:.2f}x the ffmpeg command line's wall time (target {s['target']}; "
                  + (f"{100 * over:.0f} % over" if over > 0 else f"{-100 * over:.0f} % under") + ").")
    if "error" not in profile:
        md.append(f"- Where embed's time goes ({profile['clip']}, cProfile): {100 * profile['encode_share']:.0f} % "
                  f"inside the encoder's encode calls, {100 * profile['decode_share']:.0f} % decoding, "
                  f"{100 * profile['mark_share']:.0f} % in the marker's frame function (`watermark.embed.marker`: "
                  "pattern, mask and the motion it measures once the re-mark check has stopped after 3 s).")
    md += ["", "## Per clip", "",
           md_table(["clip", "size", "frames", "ffmpeg s", "embed s (start-up)", "stamp s (start-up)",
                     "embed/ffmpeg per round",
                     "stamp/ffmpeg per round", "embed median (CPU)", "stamp median (CPU)", "detect s (× real time)",
                     "id ok"],
                    [[r["clip"], r["size"], r["frames"], f"{r['ffmpeg']:.1f}",
                      f"{r['embed']:.1f} ({r['embed_startup']:.1f})", f"{r['stamp']:.1f} ({r['stamp_startup']:.1f})",
                      " / ".join(f"{t['embed_ratio']:.2f}" for t in r["rounds"]),
                      " / ".join(f"{t['stamp_ratio']:.2f}" for t in r["rounds"]),
                      f"{r['embed_ratio']:.3f} ({r['embed_cpu_ratio']:.2f})",
                      f"{r['stamp_ratio']:.3f} ({r['stamp_cpu_ratio']:.2f})",
                      f"{r['detect']['seconds']:.1f} ({r['detect']['x_realtime']:.1f}×)",
                      "✓" if r["detect"]["ok"] else "✗ " + str(r["detect"]["identifier"] or r["detect"]["error"])]
                     for r in results]),
           "", "## Profile of aimark embed", ""]
    if "error" in profile:
        md.append(f"The profiled run failed: {profile['error']}.")
    else:
        md += [f"`aimark embed` on {profile['clip']} under cProfile: {profile['wall_s']:.1f} s wall "
               f"({profile['profiled_s']:.1f} s profiled; cProfile slows Python code, not the codec's C threads, so "
               "the Python shares here are upper bounds). Encoder share = own time of PyAV's `encode` methods, where "
               "x264's threads are waited for.", "",
               md_table(["function", "calls", "own s", "cumulative s", "share"],
                        [[f"`{t['function']}`", t["calls"], f"{t['own_s']:.2f}", f"{t['cumulative_s']:.2f}",
                          f"{100 * t['cumulative_share']:.0f} %"] for t in profile["top"]])]
    md += ["", "The machine is shared: the load average (1 min) after each round is in the JSON; cycling the order "
           "puts background load on every side of each ratio."]
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
