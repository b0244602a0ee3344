"""False alarms: the detector must never claim a mark that is not there.

Two parts:

1. Files. Every clip unmarked (the source, the unmarked transcode, and two
   transforms of the original clips: H.264 CRF 28 and a 71 % crop rescaled) is read with ``detect_file`` under the
   run's key and the public ``DEFAULT_KEY``; every clip marked with another key
   is read with the run's key (and, as a control, with its own). None may be
   reported detected. The largest false-alarm bound among the unmarked reads
   is reported, and the largest among the true detections of the control.
2. Segments. At least 2,000 windows of 1 s and 2 s at many offsets, cut from
   the luma of all those unmarked and other-key videos, each read with
   ``watermark.detect`` under a fresh random key. None may be detected; and
   since the reported probability is an upper bound, the fraction of windows
   whose bound is at most p must itself be at most about p (a calibration
   check of the bound, not only of the threshold).

    python benchmarks/false_alarms.py [--quick] [--segments N]
"""

from __future__ import annotations

import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import attacks as attack_catalogue
from common import (EMBED_SETTINGS, WORK_DIR, Clip, Run, baseline_transcode, embed, identifier_for,
                    load_clips, load_watermark, log, md_table, parser, stopwatch)
from videoio import read_luma

#: Transforms of the unmarked source that are also read: a codec pass and a
#: crop + rescale (which exercises the detector's scale search on real content).
UNMARKED_ATTACKS = ("h264_crf28", "crop_71_rescale")
WINDOW_SECONDS = (1.0, 2.0)
STRIDE_SECONDS = 0.25
CALIBRATION_LEVELS = (0.5, 0.1, 0.01, 1e-3)


@dataclass
class Version:
    """One video that carries no mark for the key it is read with."""

    clip: Clip
    kind: str
    path: Path


def prepare_versions(wm: Any, clips: Sequence[Clip], other_key: Any, work: Path) -> list[Version]:
    """Write the unmarked transforms and the other-key marked copies of each clip."""
    versions: list[Version] = []
    for clip in clips:
        folder = work / clip.name.replace("@", "_")
        folder.mkdir(parents=True, exist_ok=True)
        versions.append(Version(clip, "source", clip.path))
        base = folder / "unmarked_transcode.mp4"
        baseline_transcode(wm, clip.path, base, **EMBED_SETTINGS)
        versions.append(Version(clip, "unmarked transcode (CRF 18)", base))
        # The 1080p versions are themselves transforms (upscales) of the
        # originals; re-encoding them twice more costs minutes and adds little.
        transforms = [] if clip.is_hd else attack_catalogue.select(",".join(UNMARKED_ATTACKS), quick=False)
        for attack in transforms:
            out = folder / f"unmarked_{attack.name}{attack.output.suffix}"
            attack.func(clip.path, out)
            versions.append(Version(clip, f"unmarked {attack.name}", out))
        other = folder / "other_key.mp4"
        embed(wm, clip.path, other, other_key, identifier_for(clip.name))
        versions.append(Version(clip, "marked with another key", other))
        log(f"{clip.name}: versions ready")
    return versions


def file_reads(wm: Any, versions: Sequence[Version], key: Any, other_key: Any) -> list[dict[str, Any]]:
    """detect_file on every version with the run's key (and the public key for
    unmarked files; the embedding key for the other-key control)."""
    reads = []
    for v in versions:
        keys = [("run key", key)]
        if v.kind == "marked with another key":
            keys.append(("its own key (control)", other_key))
        else:
            keys.append(("DEFAULT_KEY", wm.DEFAULT_KEY))
        for key_name, k in keys:
            with stopwatch() as t:
                d = wm.detect_file(str(v.path), key=k)
            reads.append({
                "clip": v.clip.name, "version": v.kind, "key": key_name,
                "control": key_name.startswith("its own"),
                "detected": bool(d.detected), "identifier": d.identifier, "score": float(d.score),
                "false_alarm_probability": float(d.false_alarm_probability),
                "frames": int(d.frames_analyzed), "seconds": t["s"],
            })
    return reads


def windows(n_frames: int, fps: float) -> list[tuple[int, int, float]]:
    """(first frame, frame count, seconds) of every window at every offset."""
    out = []
    step = max(1, round(STRIDE_SECONDS * fps))
    for seconds in WINDOW_SECONDS:
        length = max(1, round(seconds * fps))
        out += [(start, length, seconds) for start in range(0, n_frames - length + 1, step)]
    return out


def segment_reads(wm: Any, versions: Sequence[Version], target: int, seed: int = 0) -> list[dict[str, Any]]:
    """Detect ``target`` windows (evenly sampled from all windows of all
    versions, spread over versions) each with a fresh random key."""
    plan = []
    for vi, v in enumerate(versions):
        # None of the versions changes the frame rate or count (beyond the
        # odd frame at the end, which slicing tolerates).
        plan += [(vi, *w, v.clip.fps) for w in windows(v.clip.frames, v.clip.fps)]
    rng = np.random.default_rng(seed)
    if len(plan) > target:
        chosen = np.sort(rng.choice(len(plan), size=target, replace=False))
        plan = [plan[i] for i in chosen]
    elif len(plan) < target:
        log(f"only {len(plan)} windows available (< {target}); reading all of them")
    reads = []
    current, frames = -1, np.empty(0)
    for i, (vi, start, length, seconds, fps) in enumerate(plan):
        if vi != current:
            current, frames = vi, read_luma(versions[vi].path)
        v = versions[vi]
        d = wm.detect(list(frames[start:start + length]), wm.Key.generate(), frame_rate=fps)
        reads.append({
            "clip": v.clip.name, "version": v.kind, "start_frame": start, "frames": len(frames[start:start + length]),
            "seconds": seconds, "detected": bool(d.detected), "score": float(d.score),
            "false_alarm_probability": float(d.false_alarm_probability),
        })
        if (i + 1) % 250 == 0:
            log(f"segments: {i + 1}/{len(plan)} read, "
                f"{sum(r['detected'] for r in reads)} detected")
    return reads


def calibration(probabilities: Sequence[float], n: int) -> list[list[Any]]:
    """Rows (level p, windows with bound <= p, fraction, expected at most)."""
    rows = []
    for level in CALIBRATION_LEVELS:
        count = sum(p <= level for p in probabilities)
        rows.append([f"{level:g}", count, f"{count / n:.4f}", f"≤ {level:g}"])
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--segments", type=int, help="number of windows to read (default 2000, quick 150)")
    args = p.parse_args(argv)
    target = args.segments or (150 if args.quick else 2000)
    wm = load_watermark()
    clips = load_clips(quick=args.quick)
    key, other_key = wm.Key.generate(), wm.Key.generate()
    run = Run("false_alarms", args, {
        "embed": EMBED_SETTINGS, "unmarked_transforms": list(UNMARKED_ATTACKS),
        "window_seconds": list(WINDOW_SECONDS), "stride_seconds": STRIDE_SECONDS,
        "segments": target, "segment_keys": "a fresh Key.generate() per window",
        "run_key": key.key_id, "other_key": other_key.key_id,
        "clips": [c.describe() for c in clips],
    }, watermark=wm)
    work = WORK_DIR / "false_alarms"
    shutil.rmtree(work, ignore_errors=True)

    versions = prepare_versions(wm, clips, other_key, work)
    with stopwatch() as t_files:
        reads = file_reads(wm, versions, key, other_key)
    negatives = [r for r in reads if not r["control"]]
    controls = [r for r in reads if r["control"]]
    log(f"files: {sum(r['detected'] for r in negatives)} of {len(negatives)} negatives detected")
    with stopwatch() as t_segments:
        segments = segment_reads(wm, versions, target)

    neg_fa = [r["false_alarm_probability"] for r in negatives]
    seg_fa = [r["false_alarm_probability"] for r in segments]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in negatives:
        by_kind.setdefault(f"{r['version']} / {r['key']}", []).append(r)
    file_rows = [[kind, len(rs), sum(x["detected"] for x in rs),
                  f"{max(x['score'] for x in rs):.2f}",
                  f"{min(x['false_alarm_probability'] for x in rs):.3g}"]
                 for kind, rs in by_kind.items()]
    seg_kinds: dict[str, list[dict[str, Any]]] = {}
    for r in segments:
        seg_kinds.setdefault(r["version"], []).append(r)
    seg_rows = [[kind, len(rs), sum(x["detected"] for x in rs), f"{max(x['score'] for x in rs):.2f}",
                 f"{min(x['false_alarm_probability'] for x in rs):.3g}"] for kind, rs in seg_kinds.items()]
    control_ok = sum(r["detected"] and r["identifier"] == identifier_for(r["clip"]) for r in controls)
    summary = {
        "file_negatives": len(negatives),
        "file_false_alarms": sum(r["detected"] for r in negatives),
        "file_min_false_alarm_probability": min(neg_fa),
        "file_max_false_alarm_probability": max(neg_fa),
        "control_detected_with_own_key": f"{control_ok}/{len(controls)}",
        "control_max_false_alarm_probability": max((r["false_alarm_probability"] for r in controls
                                                    if r["detected"]), default=None),
        "segments": len(segments),
        "segment_false_alarms": sum(r["detected"] for r in segments),
        "segment_min_false_alarm_probability": min(seg_fa) if seg_fa else None,
        "segment_max_score": max((r["score"] for r in segments), default=None),
        "seconds": {"files": t_files["s"], "segments": t_segments["s"]},
    }
    # With zero false alarms in n trials, the 95 % upper confidence bound on
    # the per-trial rate is about 3/n (rule of three).
    n = len(segments)
    md = [
        f"**{summary['file_false_alarms']} false alarms in {len(negatives)} file reads; "
        f"{summary['segment_false_alarms']} in {n} segment reads** "
        f"(95 % upper bound on the rate with none seen: {3 / max(n, 1):.2g}).",
        "",
        "## Files (`detect_file`)",
        "",
        "Unmarked sources, their unmarked transcode and (originals only) transforms "
        f"({', '.join(UNMARKED_ATTACKS)}), read with the run's random key and with the public "
        "`DEFAULT_KEY`; copies marked with another key read with the run's key.",
        "",
        md_table(["version / key", "files", "detected", "max score", "min false-alarm bound"], file_rows),
        "",
        f"False-alarm bound over these negatives: min {summary['file_min_false_alarm_probability']:.3g}, "
        f"max {summary['file_max_false_alarm_probability']:.3g} (the bound is clipped at 1). "
        f"Control: the other-key copies are detected with their own key in "
        f"{summary['control_detected_with_own_key']} files, largest false-alarm bound among those "
        f"detections {summary['control_max_false_alarm_probability'] if summary['control_max_false_alarm_probability'] is None else format(summary['control_max_false_alarm_probability'], '.3g')}.",
        "",
        "## Segments (`detect` on luma windows, a fresh random key each)",
        "",
        f"Windows of {' and '.join(f'{s:g} s' for s in WINDOW_SECONDS)} at offsets every "
        f"{STRIDE_SECONDS:g} s, sampled evenly from all versions above.",
        "",
        md_table(["version", "windows", "detected", "max score", "min false-alarm bound"], seg_rows),
        "",
        "Calibration of the bound: windows whose computed bound is at most p (an upper bound "
        "must give a fraction at most about p):",
        "",
        md_table(["p", "windows with bound ≤ p", "fraction", "expected"], calibration(seg_fa, max(n, 1))),
    ]
    run.write({"summary": summary, "files": reads, "segments": segments}, "\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
