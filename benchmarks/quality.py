"""Quality: how much the mark changes the picture, measured where it matters.

Per clip, the marked encode (``embed_file``) is compared with the unmarked
encode at the same settings (``transcode``: same decoder, encoder, CRF 18,
preset medium), so the number isolates the mark from the codec: mean luma
PSNR (per-frame PSNR averaged; identical frames count as 100 dB) and mean luma
SSIM (Gaussian 11x11, sigma 1.5, as Wang et al.). Targets: PSNR >= 42 dB and
SSIM >= 0.99 per clip. Both encodes are also compared with the source, for
scale.

It also saves PNG crops (flat area, smooth gradient, dark scene and a
textured area, found automatically in the 1080p clips) of unmarked, marked and
the luma difference amplified x10 around mid-grey into
``benchmarks/results/frames/`` so a person can look for visible patterns.

    python benchmarks/quality.py [--quick]
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from common import (EMBED_SETTINGS, RESULTS_DIR, WORK_DIR, Clip, Run, baseline_transcode, embed,
                    identifier_for, load_clips, load_watermark, log, md_table, parser, stopwatch)
from videoio import decode, luma

PSNR_TARGET = 42.0
SSIM_TARGET = 0.99
#: PSNR given to a frame pair that is bit-identical (PSNR is infinite there).
PSNR_CAP = 100.0
CROP = 256
#: Amplification of the difference image.
GAIN = 10


def psnr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB capped at :data:`PSNR_CAP`, MSE) of two uint8 planes."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return (PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * np.log10(255.0 ** 2 / mse))), mse


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


@dataclass
class Candidate:
    """A crop location worth showing, with the feature that chose it."""

    kind: str
    clip: Clip
    frame: int
    x: int
    y: int
    value: float


def _candidates(clip: Clip, frame: int, y: np.ndarray) -> list[Candidate]:
    """Score 256x256 blocks of one unmarked luma plane for each crop kind."""
    out = []
    h, w = y.shape
    lap = np.abs(cv2.Laplacian(y.astype(np.float32), cv2.CV_32F))
    for by in range(0, h - CROP + 1, CROP // 2):
        for bx in range(0, w - CROP + 1, CROP // 2):
            block = y[by:by + CROP, bx:bx + CROP].astype(np.float32)
            mean, std = float(block.mean()), float(block.std())
            detail = float(lap[by:by + CROP, bx:bx + CROP].mean())
            smooth = cv2.GaussianBlur(block, (0, 0), 8)
            span = float(np.percentile(smooth, 95) - np.percentile(smooth, 5))
            if 60 <= mean <= 200:
                out.append(Candidate("flat", clip, frame, bx, by, -std))
                out.append(Candidate("gradient", clip, frame, bx, by, span / (1 + 4 * detail)))
                out.append(Candidate("texture", clip, frame, bx, by, detail))
            if 10 <= mean <= 45:
                out.append(Candidate("dark", clip, frame, bx, by, -abs(mean - 25) + std))
    return out


def _save_crop(c: Candidate, unmarked: Path, marked: Path, folder: Path) -> Path:
    """Write ``<kind>_<clip>.png``: unmarked | marked | 128 + 10 x (marked - unmarked) luma."""
    frames = []
    for path in (unmarked, marked):
        for i, tf in enumerate(decode(path)):
            if i == c.frame:
                frames.append((tf.frame.to_ndarray(format="rgb24"), luma(tf.frame)))
                break
    (ru, yu), (rm, ym) = frames
    sl = np.s_[c.y:c.y + CROP, c.x:c.x + CROP]
    diff = np.clip(128 + GAIN * (ym[sl].astype(np.int16) - yu[sl].astype(np.int16)), 0, 255).astype(np.uint8)
    panel = np.concatenate([ru[sl], rm[sl], np.repeat(diff[..., None], 3, axis=2)], axis=1)
    label = np.full((22, panel.shape[1], 3), 255, np.uint8)
    text = (f"{c.kind}: {c.clip.name} frame {c.frame} at ({c.x},{c.y}) | unmarked | marked | "
            f"luma diff x{GAIN} + 128")
    cv2.putText(label, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    path = folder / f"{c.kind}_{c.clip.name.replace('@', '_')}.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([label, panel]), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


def measure(clip: Clip, unmarked: Path, marked: Path) -> tuple[dict[str, Any], list[Candidate]]:
    """Frame-by-frame metrics of one clip, plus crop candidates from its frames."""
    rows: dict[str, list[float]] = {k: [] for k in ("psnr", "mse", "ssim", "src_marked", "src_unmarked",
                                                    "mad", "maxd")}
    candidates: list[Candidate] = []
    counts = [0, 0, 0]
    for i, (s, u, m) in enumerate(zip(decode(clip.path), decode(unmarked), decode(marked))):
        ys, yu, ym = luma(s.frame), luma(u.frame), luma(m.frame)
        ys = ys[:ym.shape[0], :ym.shape[1]]  # the encodes drop an odd last row or column (720x405 -> 720x404)
        p, mse = psnr(yu, ym)
        rows["psnr"].append(p)
        rows["mse"].append(mse)
        rows["ssim"].append(ssim(yu, ym))
        rows["src_marked"].append(psnr(ys, ym)[0])
        rows["src_unmarked"].append(psnr(ys, yu)[0])
        d = np.abs(yu.astype(np.int16) - ym.astype(np.int16))
        rows["mad"].append(float(d.mean()))
        rows["maxd"].append(float(d.max()))
        if clip.is_hd and i % 25 == 12:
            candidates += _candidates(clip, i, yu)
    for n, path in enumerate((clip.path, unmarked, marked)):
        counts[n] = sum(1 for _ in decode(path)) if n else clip.frames
    mean_mse = float(np.mean(rows["mse"]))
    result = {
        "clip": clip.name,
        "frames_compared": len(rows["psnr"]),
        "frames": {"source": counts[0], "unmarked": counts[1], "marked": counts[2]},
        "psnr_mean": float(np.mean(rows["psnr"])),
        "psnr_min": float(np.min(rows["psnr"])),
        "psnr_of_mean_mse": PSNR_CAP if mean_mse == 0 else float(10 * np.log10(255.0 ** 2 / mean_mse)),
        "ssim_mean": float(np.mean(rows["ssim"])),
        "ssim_min": float(np.min(rows["ssim"])),
        "psnr_source_vs_marked": float(np.mean(rows["src_marked"])),
        "psnr_source_vs_unmarked": float(np.mean(rows["src_unmarked"])),
        "mean_abs_luma_change": float(np.mean(rows["mad"])),
        "max_abs_luma_change": float(np.max(rows["maxd"])),
    }
    result["meets_target"] = result["psnr_mean"] >= PSNR_TARGET and result["ssim_mean"] >= SSIM_TARGET
    return result, candidates


def pick(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The best candidate per kind, each from a different clip where possible."""
    chosen: list[Candidate] = []
    for kind in ("flat", "gradient", "dark", "texture"):
        ranked = sorted((c for c in candidates if c.kind == kind), key=lambda c: -c.value)
        used = {c.clip.name for c in chosen}
        best = next((c for c in ranked if c.clip.name not in used), ranked[0] if ranked else None)
        if best is not None:
            chosen.append(best)
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    wm = load_watermark()
    clips = load_clips(quick=args.quick)
    key = wm.Key.generate()
    run = Run("quality", args, {
        "embed": EMBED_SETTINGS, "baseline": "watermark.transcode with the same settings",
        "psnr_target_db": PSNR_TARGET, "ssim_target": SSIM_TARGET, "psnr_cap_db": PSNR_CAP,
        "ssim": "luma, Gaussian 11x11 sigma 1.5, 5-pixel border excluded",
        "clips": [c.describe() for c in clips],
    }, watermark=wm)
    work = WORK_DIR / "quality"
    shutil.rmtree(work, ignore_errors=True)
    results, candidates, files = [], [], {}
    for clip in clips:
        folder = work / clip.name.replace("@", "_")
        folder.mkdir(parents=True, exist_ok=True)
        unmarked, marked = folder / "unmarked.mp4", folder / "marked.mp4"
        with stopwatch() as t_base:
            baseline_transcode(wm, clip.path, unmarked, **EMBED_SETTINGS)
        with stopwatch() as t_mark:
            embed(wm, clip.path, marked, key, identifier_for(clip.name))
        result, found = measure(clip, unmarked, marked)
        result["seconds"] = {"transcode": round(t_base["s"], 2), "embed": round(t_mark["s"], 2)}
        result["audio"] = {"source": clip.has_audio, "marked": _has_audio(marked),
                           "unmarked": _has_audio(unmarked)}
        results.append(result)
        candidates += found
        files[clip.name] = (unmarked, marked)
        log(f"{clip.name}: PSNR {result['psnr_mean']:.2f} dB (min {result['psnr_min']:.2f}), "
            f"SSIM {result['ssim_mean']:.4f}")

    frames_dir = args.out / "frames"
    shutil.rmtree(frames_dir, ignore_errors=True)
    frames_dir.mkdir(parents=True)
    crops = []
    for c in pick(candidates):
        path = _save_crop(c, *files[c.clip.name], frames_dir)
        crops.append({"kind": c.kind, "clip": c.clip.name, "frame": c.frame, "x": c.x, "y": c.y,
                      "file": str(path.relative_to(args.out))})

    rows = [[r["clip"], r["frames_compared"], f"{r['psnr_mean']:.2f}", f"{r['psnr_min']:.2f}",
             f"{r['ssim_mean']:.4f}", f"{r['ssim_min']:.4f}", f"{r['mean_abs_luma_change']:.2f}",
             f"{r['max_abs_luma_change']:.0f}", f"{r['psnr_source_vs_unmarked']:.2f}",
             f"{r['psnr_source_vs_marked']:.2f}", "✓" if r["meets_target"] else "✗"]
            for r in results]
    mismatched = [r["clip"] for r in results if len(set(r["frames"].values())) > 1]
    md = [
        f"Marked encode vs unmarked encode at the same settings (x264 CRF {EMBED_SETTINGS['crf']}, "
        f"preset {EMBED_SETTINGS['preset']}), luma only. Targets: mean PSNR ≥ {PSNR_TARGET:g} dB "
        f"and mean SSIM ≥ {SSIM_TARGET} per clip. 'src→' columns compare each encode with the "
        "source, for scale. |ΔY| is the mean and max absolute luma change the mark made.",
        "",
        md_table(["clip", "frames", "PSNR mean", "PSNR min", "SSIM mean", "SSIM min", "mean |ΔY|",
                  "max |ΔY|", "src→unmarked PSNR", "src→marked PSNR", "target"], rows),
        "",
        f"Clips meeting both targets: {sum(r['meets_target'] for r in results)}/{len(results)}. "
        f"Frame-count mismatches: {', '.join(mismatched) if mismatched else 'none'}.",
        "",
        "Audio kept by embed_file (source → marked): "
        + ", ".join(f"{r['clip']} {'yes' if r['audio']['marked'] else 'NO'}"
                    for r in results if r["audio"]["source"]) + ".",
        "",
        f"Crops (unmarked | marked | luma difference ×{GAIN} around grey 128), {CROP}×{CROP} at 1:1:",
        "",
        *[f"- {c['kind']}: `{c['file']}` ({c['clip']}, frame {c['frame']}, x={c['x']}, y={c['y']})"
          for c in crops],
    ]
    run.write({"clips": results, "crops": crops}, "\n".join(md))


def _has_audio(path: Path) -> bool:
    import av

    with av.open(str(path)) as container:
        return bool(container.streams.audio)


if __name__ == "__main__":
    sys.exit(main())
