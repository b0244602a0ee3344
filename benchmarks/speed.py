"""Speed on this machine: the cost of marking and the pace of detection.

Embedding is measured against its own baseline: ``watermark.transcode`` with
the same decoder, encoder and settings (x264 CRF 18, preset medium) and no
mark. The two run side by side, alternating A/B then B/A each round, so that
load from other users of the machine falls on both; the figure is the median
of the per-pair ratios embed/transcode (target <= 1.25) on the 1080p clips.
Detection (``detect_file``) is timed on the marked 1080p files and reported
in frames per second and multiples of real time (target >= 2x).
The command-line twin (``aimark detect --json``) is timed once, start-up
included, and must return the same identifier.

    python benchmarks/speed.py [--quick] [--rounds N]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from common import (EMBED_SETTINGS, ab_rounds, WORK_DIR, Run, baseline_transcode, embed, identifier_for,
                    load_clips, load_watermark, log, md_table, parser, stopwatch)

RATIO_TARGET = 1.25
REALTIME_TARGET = 2.0


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0], rounds=True).parse_args(argv)
    rounds = ab_rounds(args)
    wm = load_watermark()
    clips = load_clips(quick=args.quick, originals=False)
    if args.quick:
        clips = clips[:1]
    key = wm.Key.generate()
    run = Run("speed", args, {
        "embed": EMBED_SETTINGS, "rounds": rounds, "order": "A/B on even rounds, B/A on odd rounds",
        "ratio_target": RATIO_TARGET, "realtime_target": REALTIME_TARGET,
        "clips": [c.describe() for c in clips], "threads": "encoder and decoder defaults (auto)",
    }, watermark=wm)
    work = WORK_DIR / "speed"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    results: list[dict[str, Any]] = []
    for clip in clips:
        base_out, mark_out = work / f"{clip.name}_unmarked.mp4", work / f"{clip.name}_marked.mp4"
        pairs = []
        for r in range(rounds):
            times: dict[str, float] = {}
            order = ("transcode", "embed") if r % 2 == 0 else ("embed", "transcode")
            for step in order:
                with stopwatch() as t:
                    if step == "transcode":
                        baseline_transcode(wm, clip.path, base_out, **EMBED_SETTINGS)
                    else:
                        embed(wm, clip.path, mark_out, key, identifier_for(clip.name))
                times[step] = t["s"]
            times["ratio"] = times["embed"] / times["transcode"]
            times["load"] = os.getloadavg()[0]
            pairs.append(times)
            log(f"{clip.name} round {r + 1}: transcode {times['transcode']:.1f} s, "
                f"embed {times['embed']:.1f} s, ratio {times['ratio']:.3f}")
        detect_times = []
        for _ in range(2):
            with stopwatch() as t:
                d = wm.detect_file(str(mark_out), key=key)
            detect_times.append(t["s"])
        detect_s = statistics.median(detect_times)
        fps = d.frames_analyzed / detect_s
        results.append({
            "clip": clip.name, "size": f"{clip.width}x{clip.height}", "frames": clip.frames,
            "fps": clip.fps, "rounds": pairs,
            "median_ratio": statistics.median(x["ratio"] for x in pairs),
            "transcode_fps": clip.frames / statistics.median(x["transcode"] for x in pairs),
            "embed_fps": clip.frames / statistics.median(x["embed"] for x in pairs),
            "detect_seconds": detect_times, "detect_fps": fps,
            "detect_x_realtime": fps / clip.fps,
            "detected_ok": d.identifier == identifier_for(clip.name),
        })
        log(f"{clip.name}: detect {fps:.0f} fps = {fps / clip.fps:.1f}x real time")

    all_ratios = [x["ratio"] for r in results for x in r["rounds"]]
    overall = statistics.median(all_ratios)
    cli = _cli_detect(wm, key, work / f"{clips[0].name}_marked.mp4", identifier_for(clips[0].name),
                      clips[0].frames / clips[0].fps)

    rows = [[r["clip"], r["size"], r["frames"], f"{r['transcode_fps']:.1f}", f"{r['embed_fps']:.1f}",
             " / ".join(f"{x['ratio']:.2f}" for x in r["rounds"]), f"{r['median_ratio']:.3f}",
             f"{r['detect_fps']:.0f}", f"{r['detect_x_realtime']:.1f}×",
             "✓" if r["detected_ok"] else "✗"] for r in results]
    md = [
        f"Embedding vs the unmarked transcode with the same settings (x264 CRF {EMBED_SETTINGS['crf']}, "
        f"preset {EMBED_SETTINGS['preset']}), {rounds} alternating rounds per clip; fps are whole-pipeline "
        "frames per second (decode + mark + encode + mux) from the median round.",
        "",
        md_table(["clip", "size", "frames", "transcode fps", "embed fps", "ratio per round",
                  "median ratio", "detect fps", "× real time", "id ok"], rows),
        "",
        f"**Median embed/transcode ratio over all {len(all_ratios)} pairs: {overall:.3f}** "
        f"(target ≤ {RATIO_TARGET}: {'met' if overall <= RATIO_TARGET else 'NOT met'}). "
        f"Slowest detection: {min(r['detect_x_realtime'] for r in results):.1f}× real time "
        f"(target ≥ {REALTIME_TARGET:g}×: "
        f"{'met' if min(r['detect_x_realtime'] for r in results) >= REALTIME_TARGET else 'NOT met'}).",
        "",
        f"Command-line twin: `aimark detect {cli['file']} --key KEY --json` took {cli['seconds']:.1f} s "
        f"wall for a {cli['clip_seconds']:.1f} s clip, start-up included "
        f"({cli['clip_seconds'] / cli['seconds']:.1f}× real time); identifier "
        f"{'matches' if cli['ok'] else 'DOES NOT match: ' + str(cli.get('error') or cli.get('id'))}.",
        "",
        "The machine is shared: the load average (1 min) after each round is in the JSON. "
        "Alternating the order puts any background load on both sides of each ratio.",
    ]
    run.write({"clips": results, "median_ratio": overall, "cli_detect": cli}, "\n".join(md))


def _cli_detect(wm: Any, key: Any, path: Path, expected: str, clip_seconds: float) -> dict[str, Any]:
    """Time ``aimark detect --json`` in a fresh process (start-up and imports included)."""
    exe = Path(sys.executable).parent / "aimark"
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "bench.key"
        key.save(key_file)
        command = [str(exe), "detect", str(path), "--key", str(key_file), "--json"]
        with stopwatch() as t:
            done = subprocess.run(command, capture_output=True, text=True)
    out: dict[str, Any] = {"file": path.name, "seconds": t["s"], "clip_seconds": clip_seconds,
                           "exit_status": done.returncode}
    try:
        data = json.loads(done.stdout)
        out["id"] = data.get("id", data.get("identifier"))
    except json.JSONDecodeError:
        out["error"] = (done.stderr or done.stdout).strip()[-300:]
    out["ok"] = out.get("id") == expected
    return out


if __name__ == "__main__":
    sys.exit(main())
