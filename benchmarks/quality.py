"""Bits and quality: what the mark costs in bitrate and in picture, measured against the source.

For every clip (the shared clips, their 1080p versions, and the made pan and
screen recording at 720p and 1080p) and each CRF (18, the default, and 23;
x264 preset medium) three encodes are made:

- plain, the project's own decode/encode: ``watermark.transcode`` without a mark;
- plain, what a user would otherwise run: ``ffmpeg -i SRC -c:v libx264 -preset
  medium -crf Q -c:a copy DST`` (on an odd picture size that command fails;
  the table says so, and the plain encode is then made with an even crop);
- marked: ``aimark embed SRC DST --crf Q --id ID`` with every other option at
  its default (public key, strength 1).

Each is compared with the SOURCE: video bitrate (the video stream's packets
only), luma PSNR per frame, averaged (identical frames count as 100 dB), and
luma SSIM (Gaussian 11x11, sigma 1.5) on every :data:`SSIM_STEP`-th frame.
The issue's targets: marked/plain bitrate at most 1.10 median and 1.25 on
every clip, at CRF 18 and 23; luma PSNR at least 42 dB on every clip and
within 4 dB of the plain encode's, SSIM at least 0.99 (at the default CRF 18).

Whether the mark moves with the picture is measured too: the *static share*
of the difference video marked minus plain is the energy of its mean over
time over its mean energy, 1 for a pattern that never changes (the 'dirty
window' a viewer sees through when the content moves), about 1/frames for
one that changes every frame.

For people to look at: a few seconds of the pan, a flat dark scene and a
few other areas (flat, gradient, texture, the screen recording's text),
unmarked | marked | luma difference x10 around grey, at 1:1 from the
1080p clips, frames 0.75 s apart plus the difference averaged over the 3 s,
in ``benchmarks/results/frames/``.

    python benchmarks/quality.py [--quick] [--mark REF]
"""

from __future__ import annotations

import shutil
import statistics
import sys
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from clips import made_clips
from commands import Aimark, add_mark_option, ffmpeg_encode, mark_tree, results_name
from common import (HD_SUFFIX, WORK_DIR, Clip, Run, baseline_transcode, identifier_for, load_clips,
                    load_watermark, log, md_table, parser, stopwatch)
from videoio import decode, luma, video_bitrate

CRFS = (18, 23)
#: The CRF the quality targets are judged at: aimark's default.
DEFAULT_CRF = 18
PRESET = "medium"
ENCODES = ("transcode", "ffmpeg", "marked")
PLAINS = ("transcode", "ffmpeg")
BITS_MEDIAN_TARGET, BITS_WORST_TARGET = 1.10, 1.25
PSNR_TARGET, PSNR_LOSS_TARGET, SSIM_TARGET = 42.0, 4.0, 0.99
#: PSNR given to a frame pair that is bit-identical (PSNR is infinite there).
PSNR_CAP = 100.0
#: SSIM on every n-th frame: it costs ~0.1 s per 1080p frame here, PSNR 4 ms.
SSIM_STEP = 4
#: Crops shown in the frame sheets (width, height), at 1:1.
CROP_W, CROP_H = 256, 144
#: Amplification of the difference image.
GAIN = 10
#: Frame sheets: the seconds shown and the spacing of the rows.
SHEET_SECONDS, SHEET_STEP_S = 3.0, 0.75
#: (sheet name, clip it must come from or None for any real 1080p clip, kind of area).
SHEETS = (("pan", "pan" + HD_SUFFIX, "flat"), ("dark", None, "dark"), ("flat", None, "flat"),
          ("gradient", None, "gradient"), ("texture", None, "texture"),
          ("screen", "screen" + HD_SUFFIX, "texture"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB (capped at :data:`PSNR_CAP`) of two uint8 planes."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * np.log10(255.0 ** 2 / mse))


def psnr_y(a: Path, b: Path) -> float:
    """Mean per-frame PSNR-Y of two videos of the same size, to 0.01 dB: one number per file,
    for the scripts that need neither SSIM nor :func:`measure`'s crop of odd sizes."""
    values = [psnr(luma(x.frame), luma(y.frame)) for x, y in zip(decode(a), decode(b))]
    return round(float(np.mean(values)), 2)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 planes (Gaussian window 11x11, sigma 1.5)."""
    x, y = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    # Border pixels see a truncated window; skip them as reference implementations do.
    return float(s[5:-5, 5:-5].mean())


class StaticShare:
    """Accumulates a difference video and says how much of its energy never changes."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.energy = 0.0
        self.frames = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        d = a.astype(np.float32) - b.astype(np.float32)
        self.total = d.astype(np.float64) if self.total is None else self.total + d
        self.energy += float(np.mean(d.astype(np.float64) ** 2))
        self.frames += 1

    @property
    def rms(self) -> float:
        """Root mean square of the difference, in 8-bit luma steps."""
        return float(np.sqrt(self.energy / self.frames)) if self.frames else 0.0

    @property
    def share(self) -> float:
        """Energy of the mean over time / mean energy: 1 = static, ~1/frames = changes every frame."""
        if not self.frames or self.energy == 0:
            return 0.0
        return float(np.mean((self.total / self.frames) ** 2) / (self.energy / self.frames))


@dataclass
class Candidate:
    """An area worth showing, with the feature that chose it."""

    kind: str
    clip: Clip
    frame: int
    x: int
    y: int
    value: float


def _candidates(clip: Clip, frame: int, y: np.ndarray) -> list[Candidate]:
    """Score CROP_W x CROP_H blocks of one unmarked luma plane for each kind of area."""
    out = []
    h, w = y.shape
    lap = np.abs(cv2.Laplacian(y.astype(np.float32), cv2.CV_32F))
    for by in range(0, h - CROP_H + 1, CROP_H // 2):
        for bx in range(0, w - CROP_W + 1, CROP_W // 2):
            block = y[by:by + CROP_H, bx:bx + CROP_W].astype(np.float32)
            mean, std = float(block.mean()), float(block.std())
            detail = float(lap[by:by + CROP_H, bx:bx + CROP_W].mean())
            smooth = cv2.GaussianBlur(block, (0, 0), 8)
            span = float(np.percentile(smooth, 95) - np.percentile(smooth, 5))
            if 40 <= mean <= 235:
                out.append(Candidate("flat", clip, frame, bx, by, -std))
                out.append(Candidate("gradient", clip, frame, bx, by, span / (1 + 4 * detail)))
                out.append(Candidate("texture", clip, frame, bx, by, detail))
            if 12 <= mean <= 50:
                out.append(Candidate("dark", clip, frame, bx, by, -(std + abs(mean - 30) / 4)))
    return out


def pick(candidates: Sequence[Candidate]) -> list[tuple[str, Candidate]]:
    """One area per sheet of :data:`SHEETS`, the real-clip ones each from a different clip where possible."""
    chosen: list[tuple[str, Candidate]] = []
    for sheet, clip_name, kind in SHEETS:
        ranked = sorted((c for c in candidates if c.kind == kind and (
            c.clip.name == clip_name if clip_name else c.clip.is_hd and c.clip.name not in
            {s[1] for s in SHEETS})), key=lambda c: -c.value)
        used = {c.clip.name for _, c in chosen}
        best = next((c for c in ranked if c.clip.name not in used), ranked[0] if ranked else None)
        if best is not None:
            chosen.append((sheet, best))
    return chosen


def _label(text: str, width: int) -> np.ndarray:
    strip = np.full((20, width, 3), 255, np.uint8)
    cv2.putText(strip, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def save_sheet(sheet: str, c: Candidate, unmarked: Path, marked: Path, folder: Path) -> dict[str, Any]:
    """Write ``<sheet>.png``: rows 0.75 s apart of unmarked | marked | diff x10, and the diff averaged over 3 s."""
    first = c.frame
    last = first + int(round(SHEET_SECONDS * c.clip.fps))
    shown = set(range(first, last, int(round(SHEET_STEP_S * c.clip.fps))))
    sl = np.s_[c.y:c.y + CROP_H, c.x:c.x + CROP_W]
    rows, share = [], StaticShare()
    for i, (u, m) in enumerate(zip(decode(unmarked), decode(marked))):
        if i < first:
            continue
        if i >= last:
            break
        yu, ym = luma(u.frame)[sl], luma(m.frame)[sl]
        share.add(ym, yu)
        if i in shown:
            diff = np.clip(128 + GAIN * (ym.astype(np.int16) - yu.astype(np.int16)), 0, 255).astype(np.uint8)
            rgb = [u.frame.to_ndarray(format="rgb24")[sl], m.frame.to_ndarray(format="rgb24")[sl],
                   np.repeat(diff[..., None], 3, axis=2)]
            rows += [_label(f"t = {i / c.clip.fps:.2f} s (frame {i}): unmarked | marked | luma diff x{GAIN} + 128",
                            3 * CROP_W), np.concatenate(rgb, axis=1)]
    mean = np.clip(128 + GAIN * share.total / share.frames, 0, 255).astype(np.uint8)
    grey = np.full((CROP_H, 2 * CROP_W, 3), 128, np.uint8)
    rows += [_label(f"luma diff x{GAIN} averaged over {share.frames} frames (static share "
                    f"{share.share:.2f})", 3 * CROP_W),
             np.concatenate([grey, np.repeat(mean[..., None], 3, axis=2)], axis=1)]
    title = _label(f"{sheet}: {c.clip.name} at ({c.x},{c.y}), {CROP_W}x{CROP_H} at 1:1, CRF {DEFAULT_CRF}",
                   3 * CROP_W)
    path = folder / f"{sheet}.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([title, *rows]), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return {"sheet": sheet, "kind": c.kind, "clip": c.clip.name, "first_frame": first, "x": c.x, "y": c.y,
            "static_share": share.share, "rms_diff": share.rms, "file": f"frames/{path.name}"}


def measure(clip: Clip, encodes: dict[str, Path], *, find_areas: bool) -> tuple[dict[str, Any], list[Candidate]]:
    """Luma PSNR/SSIM of each encode against the source, the mark's static share; one decode of each."""
    names = list(encodes)
    psnrs: dict[str, list[float]] = {n: [] for n in names}
    ssims: dict[str, list[float]] = {n: [] for n in names}
    counts = {n: 0 for n in ["source", *names]}
    mark, plains = StaticShare(), StaticShare()
    candidates: list[Candidate] = []
    area_frame = int(round(clip.fps * 0.5))
    streams = [decode(clip.path)] + [decode(encodes[n]) for n in names]
    for i, frames in enumerate(zip_longest(*streams)):
        for n, f in zip(["source", *names], frames):
            counts[n] += f is not None
        if any(f is None for f in frames):
            continue
        planes = [luma(f.frame) for f in frames]
        h, w = min(p.shape[0] for p in planes), min(p.shape[1] for p in planes)
        # The encodes drop an odd last row or column (720x405 -> 720x404).
        ys, *ye = [p[:h, :w] for p in planes]
        for n, y in zip(names, ye):
            psnrs[n].append(psnr(ys, y))
            if i % SSIM_STEP == 0:
                ssims[n].append(ssim(ys, y))
        by = dict(zip(names, ye))
        mark.add(by["marked"], by["transcode"])
        plains.add(by["ffmpeg"], by["transcode"])
        if find_areas and i == area_frame:
            candidates = _candidates(clip, i, by["transcode"])
    result: dict[str, Any] = {"frames": counts, "static_share_mark": mark.share, "rms_mark": mark.rms,
                              "rms_ffmpeg_vs_transcode": plains.rms}
    for n in names:
        result[n] = {"psnr": float(np.mean(psnrs[n])), "psnr_min": float(np.min(psnrs[n])),
                     "ssim": float(np.mean(ssims[n])), "ssim_min": float(np.min(ssims[n])),
                     "kbps": video_bitrate(encodes[n]) / 1000}
    return result, candidates


def encode_all(wm: Any, aimark: Aimark, clip: Clip, crf: int, folder: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """The three encodes of one clip at one CRF, with their wall seconds and how ffmpeg was run."""
    paths = {n: folder / f"{n}_crf{crf}.mp4" for n in ENCODES}
    facts: dict[str, Any] = {"seconds": {}}
    with stopwatch() as t:
        baseline_transcode(wm, clip.path, paths["transcode"], crf=crf, preset=PRESET, codec="libx264")
    facts["seconds"]["transcode"] = t["s"]
    timed, facts["ffmpeg_run"] = ffmpeg_encode(clip.path, paths["ffmpeg"], crf=crf)
    facts["seconds"]["ffmpeg"] = timed.wall_s
    # No --force (the folder is fresh): on aimark it would also skip the check for an existing mark.
    facts["seconds"]["marked"] = aimark.run("embed", str(clip.path), str(paths["marked"]), "--crf", str(crf),
                                            "--id", identifier_for(clip.name), "--quiet").wall_s
    return paths, facts


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    add_mark_option(p)
    args = p.parse_args(argv)
    wm = load_watermark()
    tree = mark_tree(args.mark)
    clips = load_clips(quick=args.quick) + made_clips(quick=args.quick)
    work = WORK_DIR / results_name("quality", args.mark)
    shutil.rmtree(work, ignore_errors=True)
    aimark = Aimark(tree, work / "aimark-home")
    run = Run("quality", args, {
        "crfs": CRFS, "preset": PRESET, "default_crf": DEFAULT_CRF,
        "plain": {"transcode": "watermark.transcode (this checkout), libx264",
                  "ffmpeg": "ffmpeg -i SRC -c:v libx264 -preset medium -crf Q -c:a copy DST"},
        "marked": "aimark embed SRC DST --crf Q --id ID (defaults otherwise: public key, strength 1)",
        "targets": {"bits_median": BITS_MEDIAN_TARGET, "bits_worst": BITS_WORST_TARGET, "psnr_db": PSNR_TARGET,
                    "psnr_loss_db": PSNR_LOSS_TARGET, "ssim": SSIM_TARGET},
        "psnr": f"luma, per frame against the source, mean; identical frames {PSNR_CAP:g} dB",
        "ssim": f"luma, Gaussian 11x11 sigma 1.5, 5-pixel border excluded, every {SSIM_STEP}th frame",
        "bitrate": "video stream packets only, over frames / frame rate",
        "clips": [c.describe() for c in clips],
    }, stem=results_name("quality", args.mark))
    run.meta["mark"] = aimark.identity()

    results: list[dict[str, Any]] = []
    candidates: list[Candidate] = []
    sheet_files: dict[str, tuple[Path, Path]] = {}
    sheets: list[dict[str, Any]] = []
    ordered = sorted(clips, key=_priority)
    for done, clip in enumerate(ordered, 1):
        folder = work / clip.name.replace("@", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for crf in CRFS:
            paths, facts = encode_all(wm, aimark, clip, crf, folder)
            find = crf == DEFAULT_CRF and clip.is_hd
            metrics, found = measure(clip, paths, find_areas=find)
            if find:
                candidates += found
                sheet_files[clip.name] = (paths["transcode"], paths["marked"])
            row = {"clip": clip.name, "size": f"{clip.width}x{clip.height}", "crf": crf, **facts, **metrics}
            judge(row)
            results.append(row)
            log(f"{clip.name} CRF {crf}: kbit/s transcode {row['transcode']['kbps']:.0f}, ffmpeg "
                f"{row['ffmpeg']['kbps']:.0f}, marked {row['marked']['kbps']:.0f}; PSNR-Y src->marked "
                f"{row['marked']['psnr']:.2f} dB (transcode {row['transcode']['psnr']:.2f}, ffmpeg "
                f"{row['ffmpeg']['psnr']:.2f}); SSIM marked {row['marked']['ssim']:.4f}; static share "
                f"{row['static_share_mark']:.2f}")
        if clip.is_hd:
            sheets = render_sheets(candidates, sheet_files, run.args.out / "frames")
        # Written after every clip, so that a run stopped early still leaves its measured clips.
        summary = summarise(results)
        partial = (f"**Partial run: {done} of {len(ordered)} clips measured** (written after each clip; "
                   f"not yet measured: {', '.join(c.name for c in ordered[done:])}).\n\n"
                   if done < len(ordered) else "")
        run.write({"clips": results, "summary": summary, "sheets": sheets, "complete": done == len(ordered)},
                  partial + render(results, summary, sheets, run.meta["mark"]))


def _priority(clip: Clip) -> tuple[int, int]:
    """Measure first what the issue is about: the made clips and 1080p versions, then the small originals."""
    return (0 if clip.name.startswith(("pan", "screen")) else 1 if clip.is_hd else 2, -clip.height)


def render_sheets(candidates: Sequence[Candidate], files: dict[str, tuple[Path, Path]],
                  folder: Path) -> list[dict[str, Any]]:
    """(Re)write the frame sheets from the areas found so far."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return [save_sheet(name, c, *files[c.clip.name], folder) for name, c in pick(candidates)]


def judge(row: dict[str, Any]) -> None:
    """Add the ratios, differences and per-clip target checks to one clip-and-CRF row."""
    m = row["marked"]
    for plain in PLAINS:
        row[f"bits_ratio_vs_{plain}"] = m["kbps"] / row[plain]["kbps"]
        row[f"psnr_loss_vs_{plain}"] = row[plain]["psnr"] - m["psnr"]
    row["checks"] = {
        "bits": all(row[f"bits_ratio_vs_{p}"] <= BITS_WORST_TARGET for p in PLAINS),
        "psnr": m["psnr"] >= PSNR_TARGET,
        "psnr_loss": all(row[f"psnr_loss_vs_{p}"] <= PSNR_LOSS_TARGET for p in PLAINS),
        "ssim": m["ssim"] >= SSIM_TARGET,
    }


def summarise(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the issue: the value measured (median and worst clip) and whether it is met."""
    out = []

    def add(target: str, values: dict[str, float], *, worst_is_max: bool, limit: float,
            median_limit: float | None = None) -> None:
        worst_clip = (max if worst_is_max else min)(values, key=values.__getitem__)
        worst, median = values[worst_clip], statistics.median(values.values())
        failing = sorted(c for c, v in values.items() if (v > limit if worst_is_max else v < limit))
        ok = not failing and (median_limit is None or median <= median_limit)
        out.append({"target": target, "limit": limit, "median_limit": median_limit, "median": median,
                    "worst": worst, "worst_clip": worst_clip, "failing": failing, "met": ok,
                    "clips": len(values)})

    for crf in CRFS:
        rows = [r for r in results if r["crf"] == crf]
        for plain in PLAINS:
            add(f"bits CRF {crf}: marked/{plain} ≤ {BITS_MEDIAN_TARGET:.2f} median, ≤ {BITS_WORST_TARGET:.2f} every clip",
                {r["clip"]: r[f"bits_ratio_vs_{plain}"] for r in rows}, worst_is_max=True,
                limit=BITS_WORST_TARGET, median_limit=BITS_MEDIAN_TARGET)
        if crf != DEFAULT_CRF:
            continue
        add(f"PSNR-Y CRF {crf}: marked vs source ≥ {PSNR_TARGET:g} dB every clip",
            {r["clip"]: r["marked"]["psnr"] for r in rows}, worst_is_max=False, limit=PSNR_TARGET)
        for plain in PLAINS:
            add(f"PSNR-Y CRF {crf}: within {PSNR_LOSS_TARGET:g} dB of {plain} (loss in dB)",
                {r["clip"]: r[f"psnr_loss_vs_{plain}"] for r in rows}, worst_is_max=True, limit=PSNR_LOSS_TARGET)
        add(f"SSIM-Y CRF {crf}: marked vs source ≥ {SSIM_TARGET} every clip",
            {r["clip"]: r["marked"]["ssim"] for r in rows}, worst_is_max=False, limit=SSIM_TARGET)
    return out


def _tick(ok: bool) -> str:
    return "✓" if ok else "✗"


def render(results: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]],
           sheets: Sequence[dict[str, Any]], mark: dict[str, Any]) -> str:
    ident = mark
    md = [f"Mark measured: `aimark` of {ident['tree']} at {ident['head'] or 'n/a'} (watermark/ last changed "
          f"{ident['watermark_commit'] or 'n/a'}{', uncommitted changes' if ident['uncommitted_changes'] else ''}).",
          "",
          "Each clip is encoded three ways at each CRF (x264 preset medium): `transcode` = `watermark.transcode` "
          "without a mark; `ffmpeg` = `ffmpeg -i SRC -c:v libx264 -preset medium -crf Q -c:a copy DST`; "
          "`marked` = `aimark embed SRC DST --crf Q --id ID`, defaults otherwise. Every number compares with "
          f"the SOURCE. PSNR-Y is the mean of per-frame luma PSNR; SSIM-Y (luma) on every {SSIM_STEP}th frame; "
          "bitrates are the video stream's packets only.",
          "", "## Targets", "",
          md_table(["target", "clips", "median", "worst (clip)", "met"],
                   [[s["target"], s["clips"], f"{s['median']:.3f}", f"{s['worst']:.3f} ({s['worst_clip']})",
                     _tick(s["met"])] for s in summary]),
          "", "## What the numbers say", "", *say(summary), ""]
    for crf in CRFS:
        rows = [r for r in results if r["crf"] == crf]
        md += [f"## CRF {crf}", "",
               md_table(["clip", "size", "transcode kbit/s", "ffmpeg kbit/s", "marked kbit/s", "marked/transcode",
                         "marked/ffmpeg", f"bits ≤ {BITS_WORST_TARGET}"],
                        [[r["clip"], r["size"], f"{r['transcode']['kbps']:.0f}", f"{r['ffmpeg']['kbps']:.0f}",
                          f"{r['marked']['kbps']:.0f}", f"{r['bits_ratio_vs_transcode']:.3f}",
                          f"{r['bits_ratio_vs_ffmpeg']:.3f}", _tick(r["checks"]["bits"])] for r in rows]),
               "",
               md_table(["clip", "PSNR-Y transcode", "PSNR-Y ffmpeg", "PSNR-Y marked", "Δ vs transcode",
                         "Δ vs ffmpeg", "SSIM transcode", "SSIM ffmpeg", "SSIM marked (min)", "RMS ΔY mark",
                         "static share", "RMS ffmpeg−transcode", f"≥ {PSNR_TARGET:g} dB", f"within {PSNR_LOSS_TARGET:g} dB",
                         f"SSIM ≥ {SSIM_TARGET}"],
                        [[r["clip"], f"{r['transcode']['psnr']:.2f}", f"{r['ffmpeg']['psnr']:.2f}",
                          f"{r['marked']['psnr']:.2f}", f"{-r['psnr_loss_vs_transcode']:+.2f}",
                          f"{-r['psnr_loss_vs_ffmpeg']:+.2f}", f"{r['transcode']['ssim']:.4f}",
                          f"{r['ffmpeg']['ssim']:.4f}", f"{r['marked']['ssim']:.4f} ({r['marked']['ssim_min']:.4f})",
                          f"{r['rms_mark']:.2f}", f"{r['static_share_mark']:.2f}", f"{r['rms_ffmpeg_vs_transcode']:.2f}",
                          _tick(r["checks"]["psnr"]), _tick(r["checks"]["psnr_loss"]), _tick(r["checks"]["ssim"])]
                         for r in rows]),
               ""]
        if crf != DEFAULT_CRF:
            md += [f"(The PSNR and SSIM targets are judged at the default CRF {DEFAULT_CRF}; CRF {crf} is shown "
                   "for information.)", ""]
    notes = sorted({f"{r['clip']}: {r['ffmpeg_run']}" for r in results if r["ffmpeg_run"] != "the issue's command"})
    mismatched = sorted({r["clip"] for r in results if len(set(r["frames"].values())) > 1})
    md += ["## Notes", "",
           "- ffmpeg command line: " + ("; ".join(notes) if notes else "ran as given on every clip") + ".",
           f"- frame counts differing between source and encodes: {', '.join(mismatched) or 'none'} "
           "(compared over the frames all have; counts in the JSON).",
           "- RMS ΔY mark is the root mean square of marked − transcode in luma steps; 'static share' is the "
           "energy of that difference averaged over time over its mean energy (1 = a pattern that never changes, "
           "~1/frames = changes every frame). 'RMS ffmpeg−transcode' compares the two plain encodes: 0 means "
           "the project's transcode and the ffmpeg command line gave the same pictures.",
           "", "## Frames", "",
           f"Unmarked (transcode) | marked | luma difference ×{GAIN} around grey, {CROP_W}×{CROP_H} at 1:1 from the "
           f"CRF {DEFAULT_CRF} encodes, rows {SHEET_STEP_S:g} s apart, last row the difference averaged over "
           f"{SHEET_SECONDS:g} s:", "",
           *[f"- {s['sheet']}: `{s['file']}` ({s['clip']} from frame {s['first_frame']}, x={s['x']}, y={s['y']}; "
             f"RMS diff {s['rms_diff']:.2f}, static share {s['static_share']:.2f})" for s in sheets]]
    return "\n".join(md)


def say(summary: Sequence[dict[str, Any]]) -> list[str]:
    """One line per target: met or not, and by how much (written from the numbers, not by hand)."""
    lines = []
    for s in summary:
        parts = [f"median {s['median']:.3f}"
                 + (f" (limit {s['median_limit']:.2f})" if s["median_limit"] is not None else ""),
                 f"worst {s['worst']:.3f} on {s['worst_clip']} (limit {s['limit']:g})"]
        if s["failing"]:
            parts.append(f"{len(s['failing'])} of {s['clips']} clips outside the limit: {', '.join(s['failing'])}")
        lines.append(f"- **{'met' if s['met'] else 'NOT met'}**: {s['target']}; " + "; ".join(parts) + ".")
    return lines


if __name__ == "__main__":
    sys.exit(main())
