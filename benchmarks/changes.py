"""What changed between two marks: quality and robustness results, cell by cell.

Reads the ``quality.json`` and ``robustness.json`` of a previous run (a folder,
e.g. a copy of ``benchmarks/results`` taken before the mark changed) and of
the current one, and writes ``changes.md`` and ``changes.json``: per clip and
CRF the bits (marked/plain) and PSNR-Y against the source before and after;
per clip and attack the read (exact identifier or not) and its score before
and after, with the reads gained and lost. Only the cells both runs measured
are compared.

    python benchmarks/changes.py PREVIOUS_RESULTS_DIR [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from common import RESULTS_DIR, md_table


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _commit(run: dict[str, Any]) -> str:
    """The watermark commit a run measured (older runs kept it under ``mark``, newer under ``watermark``)."""
    meta = run["meta"]
    return (meta.get("watermark") or {}).get("commit") or (meta.get("mark") or {}).get("watermark_commit") or "?"


def quality(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    old = {(c["clip"], c["crf"]): c for c in before["results"]["clips"]}
    rows = []
    for clip in after["results"]["clips"]:
        previous = old.get((clip["clip"], clip["crf"]))
        if previous is None:
            continue
        rows.append({"clip": clip["clip"], "crf": clip["crf"],
                     "bits_before": round(previous["bits_ratio_vs_ffmpeg"], 3),
                     "bits_after": round(clip["bits_ratio_vs_ffmpeg"], 3),
                     "psnr_before": round(previous["marked"]["psnr"], 2), "psnr_after": round(clip["marked"]["psnr"], 2),
                     "ssim_before": round(previous["marked"]["ssim"], 4), "ssim_after": round(clip["marked"]["ssim"], 4)})
    lines = ["## Quality: bits and PSNR-Y against the source, before and after", ""]
    if not rows:
        return rows, lines + ["No clip measured by both runs.", ""]
    for crf in sorted({r["crf"] for r in rows}):
        at = [r for r in rows if r["crf"] == crf]
        lines += [f"CRF {crf}: bits marked/ffmpeg median {median(r['bits_before'] for r in at):.3f} -> "
                  f"{median(r['bits_after'] for r in at):.3f}, worst {max(r['bits_before'] for r in at):.3f} -> "
                  f"{max(r['bits_after'] for r in at):.3f}; PSNR-Y median {median(r['psnr_before'] for r in at):.2f} -> "
                  f"{median(r['psnr_after'] for r in at):.2f} dB.", ""]
    lines += [md_table(["clip", "CRF", "bits before", "bits after", "PSNR-Y before", "PSNR-Y after", "SSIM before",
                        "SSIM after"],
                       [[r["clip"], r["crf"], r["bits_before"], r["bits_after"], r["psnr_before"], r["psnr_after"],
                         r["ssim_before"], r["ssim_after"]] for r in rows]), ""]
    return rows, lines


def _pairing(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Whether the two runs marked with the same key (``robustness.py --key-seed``): only then is a cell that
    flips the mark's doing rather than the key's luck."""
    keys = [run["meta"]["settings"].get("key", "") for run in (before, after)]
    ids = [k[k.find("(key_id "):] if "(key_id " in k else None for k in keys]
    if ids[0] is not None and ids[0] == ids[1]:
        return f"Paired: both runs marked with the same key {ids[0][1:-1]}."
    return ("Not paired: the runs marked with different keys (" + " / ".join(k or "?" for k in keys) + "); on a clip "
            "near its margin a cell can flip by the key's luck (rerun with `robustness.py --key-seed` to pair).")


def robustness(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    def cells(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["clip"], r["attack"]): r for r in run["results"]["records"] if r.get("system", "aimark") == "aimark"}

    old, new = cells(before), cells(after)
    rows = []
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        rows.append({"clip": key[0], "attack": key[1], "ok_before": a["ok"], "ok_after": b["ok"],
                     "score_before": a["reading"].get("score"), "score_after": b["reading"].get("score")})
    gained = [r for r in rows if r["ok_after"] and not r["ok_before"]]
    lost = [r for r in rows if r["ok_before"] and not r["ok_after"]]

    def score(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["## Robustness: exact identifier read before and after", "",
             f"{len(rows)} cells measured by both runs: {sum(r['ok_before'] for r in rows)} read before, "
             f"{sum(r['ok_after'] for r in rows)} after; **{len(gained)} gained, {len(lost)} lost**.", "",
             _pairing(before, after), ""]
    if gained or lost:
        lines += [md_table(["clip", "attack", "before", "after"],
                           [[r["clip"], r["attack"], ("✓ " if r["ok_before"] else "✗ ") + score(r["score_before"]),
                             ("✓ " if r["ok_after"] else "✗ ") + score(r["score_after"])] for r in gained + lost]), ""]
    deltas = [r["score_after"] - r["score_before"] for r in rows
              if r["score_after"] is not None and r["score_before"] is not None]
    if deltas:
        lines += [f"Score change over those cells: median {median(deltas):+.2f}, lowest {min(deltas):+.2f}, "
                  f"highest {max(deltas):+.2f} (the score a detection needs changed too: see the detector's bound).", ""]
    return rows, lines


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("previous", type=Path, help="folder of the previous run's quality.json and robustness.json")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the current run (default: benchmarks/results)")
    args = p.parse_args(argv)
    previous, out = args.previous, args.out
    if not any((previous / f"{name}.json").exists() for name in ("quality", "robustness")):
        p.error(f"{previous} holds neither quality.json nor robustness.json")
    results: dict[str, Any] = {"previous": str(previous)}
    md = ["# changes", "", f"Current results in `{out}` against the previous ones in `{previous}`.", ""]
    for name, compare in (("quality", quality), ("robustness", robustness)):
        before, after = _load(previous, name), _load(out, name)
        if before is None or after is None:
            md += [f"## {name}", "", f"Not compared: {name}.json is missing from one of the two runs.", ""]
            continue
        md += [f"Previous {name}: {before['meta']['date']} (mark {_commit(before)}); "
               f"current: {after['meta']['date']} (mark {_commit(after)}).", ""]
        rows, lines = compare(before, after)
        results[name] = rows
        md += lines
    (out / "changes.md").write_text("\n".join(md) + "\n")
    (out / "changes.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out / 'changes.md'}")


if __name__ == "__main__":
    main()
