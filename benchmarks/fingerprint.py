"""Content fingerprint (``watermark.contentid`` + ``watermark.contentindex``) against the ISCC Video-Code.

Registers the five shared clips and three made ones (a slow pan over a still,
two screen recordings with the same layout and other text) in an index that
also holds 10,000 synthetic works, then, for every clip and its 1080p
version and each transformation, searches the transformed copy: is the
source found, with which score and time span; and how far is the copy's ISCC
Video-Code from the source's. Non-matches: every copy against every other
registered work (score of the best alignment; ISCC distance). Also the cost
per frame at 720p and 1080p and the lookup time with 10,000 and 1,000,000
registered works, for both.

    python benchmarks/fingerprint.py [--quick] [--keep]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import av
import cv2
import numpy as np

from common import WORK_DIR, Run, load_clips, log, md_table, parser, stopwatch
import attacks
from clips import write_once
from videoio import H264_CRF16

from manifests.contentstore import SQLiteContentStore
from watermark import contentid, iscc
from watermark.contentindex import ContentIndex, MemoryStore
from watermark.video import read_pictures

ATTACK_NAMES = ("h264_crf28", "downscale_360p", "crop_center_80", "excerpt_2s_middle", "fps_15",
                "brightness_plus20", "contrast_x1_3", "caption_box", "hflip", "crf30_crop71_480p")
QUICK_ATTACKS = ("downscale_360p", "crop_center_80", "excerpt_2s_middle", "caption_box", "hflip")
SYNTHETIC_WORKS = 10_000
MADE = WORK_DIR / "clips" / "made"


# --- clips made here -----------------------------------------------------------------------------


def _write(path: Path, frames: Callable[[int], np.ndarray], count: int, rate: int = 25) -> Path:
    def encode(tmp: Path) -> int:
        with av.open(str(tmp), "w") as output:
            stream = output.add_stream(H264_CRF16.codec, rate=rate, options=H264_CRF16.options())
            first = frames(0)
            stream.width, stream.height, stream.pix_fmt = first.shape[1], first.shape[0], "yuv420p"
            for i in range(count):
                output.mux(stream.encode(av.VideoFrame.from_ndarray(frames(i), format="rgb24")))
            output.mux(stream.encode())
        return count
    write_once(path, encode)
    return path


def pan_over_still(path: Path) -> Path:
    """8 s at 1280x720: a slow pan (60 px/s) across a seeded 1/f still, as generated videos often are."""
    rng = np.random.default_rng(7)
    h, w = 900, 1900
    still = sum(cv2.resize(rng.standard_normal((h // s, w // s)).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_CUBIC) * s for s in (4, 16, 64, 160))
    still = (still - still.min()) / (still.max() - still.min())
    rgb = np.stack([still * 220 + 20, still ** 1.5 * 200 + 30, 230 - still * 180], axis=-1).astype(np.uint8)
    return _write(path, lambda i: np.ascontiguousarray(rgb[90:810, int(i * 2.4):int(i * 2.4) + 1280]), 200)


def screen_recording(path: Path, seed: int) -> Path:
    """8 s at 1280x720: an editor window, text typed line by line, a moving cursor (same layout for every seed)."""
    rng = np.random.default_rng(seed)
    words = ["def", "return", "index", "for", "in", "range", "self", "match", "video", "import", "print", "if"]
    lines = [" ".join(rng.choice(words, rng.integers(2, 7))) for _ in range(40)]

    def frame(i: int) -> np.ndarray:
        img = np.full((720, 1280, 3), 250, np.uint8)
        img[:40] = (60, 60, 70)
        img[40:, :220] = (235, 235, 240)
        for k in range(8):
            cv2.putText(img, f"file_{k}.py", (16, 80 + 36 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (40, 40, 40), 1)
        shown = min(len(lines), i // 10 + 1)
        for k, line in enumerate(lines[max(0, shown - 17):shown]):
            cv2.putText(img, line, (250, 80 + 36 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 120), 2)
        x, y = 300 + int(400 * np.sin(i / 30)), 300 + int(150 * np.cos(i / 45))
        cv2.fillConvexPoly(img, np.array([[x, y], [x + 14, y + 34], [x + 24, y + 20]]), (0, 0, 0))
        return img

    return _write(path, frame, 200)


# --- measurements --------------------------------------------------------------------------------


def synthetic(count: int, seed: int, segments: int = 10) -> list[contentid.Fingerprint]:
    """Made-up registered works: slowly changing random directions, one per second."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, count, 10_000):
        n = min(10_000, count - start)
        v = rng.standard_normal((n, 1, contentid.DIMENSIONS)) + 0.5 * np.cumsum(
            rng.standard_normal((n, segments, contentid.DIMENSIONS)), axis=1)
        v = (v / np.linalg.norm(v, axis=2, keepdims=True)).astype(np.float32)
        out += [contentid.Fingerprint(x, np.ones(segments, bool)) for x in v]
    return out


def expected_span(attack: str, duration: float) -> tuple[float, float]:
    if attack == "excerpt_2s_middle" and duration > 2:
        return duration / 2 - 1, duration / 2 + 1
    return 0.0, duration


def frame_costs(path: Path, frames: int = 60) -> dict[str, float]:
    """Median milliseconds per frame: the thumbnail alone, and the whole sampler step."""
    thumbs, adds = [], []
    sampler = contentid.ContentSampler()
    for k, picture in enumerate(read_pictures(path)):
        if k >= frames:
            break
        t = time.perf_counter()
        contentid.thumbnail(picture.luma, bit_depth=picture.bit_depth)
        thumbs.append(time.perf_counter() - t)
        t = time.perf_counter()
        sampler.add(picture.luma, picture.time, bit_depth=picture.bit_depth)
        adds.append(time.perf_counter() - t)
    return {"thumbnail_ms": 1000 * statistics.median(thumbs), "sampler_ms": 1000 * statistics.median(adds)}


def iscc_cost(path: Path, frames: int) -> float:
    """Milliseconds per source frame of :func:`watermark.iscc.frame_signatures` (decode included)."""
    with stopwatch() as t:
        iscc.frame_signatures(path)
    return 1000 * t["s"] / frames


def decode_cost(path: Path, frames: int) -> float:
    with stopwatch() as t:
        for _ in read_pictures(path):
            pass
    return 1000 * t["s"] / frames


def hamming_scan(codes: np.ndarray, code: int) -> np.ndarray:
    x = codes ^ np.uint64(code)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="keep the transformed copies")
    p.add_argument("--no-million", action="store_true", help="skip the 1,000,000-work lookups")
    args = p.parse_args(argv)
    run = Run("fingerprint", args, {"attacks": QUICK_ATTACKS if args.quick else ATTACK_NAMES,
                                    "synthetic_works": SYNTHETIC_WORKS,
                                    "features": {"period_s": contentid.PERIOD, "anchor": contentid.ANCHOR,
                                                 "scales": contentid.SCALES, "grid": contentid.GRID,
                                                 "dimensions": contentid.DIMENSIONS, "bands": contentid.BANDS,
                                                 "band_bits": contentid.BAND_BITS,
                                                 "probe_bits": contentid.PROBE_BITS}})
    clips = load_clips(quick=args.quick)
    made = [pan_over_still(MADE / "pan_still.mp4"), screen_recording(MADE / "screen_a.mp4", 1),
            screen_recording(MADE / "screen_b.mp4", 2)]
    made_names = ["pan", "screen_a", "screen_b"]
    sources = [(c.name, c.path) for c in clips] + list(zip(made_names, made))
    registered = {c.name: c.path for c in clips if not c.is_hd}
    registered.update(dict(zip(made_names, made)))

    log(f"registering {len(registered)} works and {SYNTHETIC_WORKS:,} synthetic ones")
    index = ContentIndex()
    fingerprints, codes = {}, {}
    for name, path in registered.items():
        fingerprints[name] = contentid.sample_file(path).fingerprint()
        index.add(name, fingerprints[name])
        codes[name] = iscc.video_code_file(path)
    for k, fp in enumerate(synthetic(SYNTHETIC_WORKS, seed=1)):
        index.add(f"synthetic-{k}", fp)
    indexed = index.store.counts()[1]

    chosen = [a for a in attacks.ATTACKS if a.name in (QUICK_ATTACKS if args.quick else ATTACK_NAMES)]
    folder = WORK_DIR / "fingerprint"
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name, path in sources:
        work = name.split("@")[0]
        for attack in chosen:
            dst = folder / f"{name.replace('@', '_')}__{attack.name}{attack.output.suffix}"
            note = attack.func(path, dst)
            sampler = contentid.sample_file(dst)
            query = sampler.query()
            with stopwatch() as t:
                found = index.search(query, max_false_match=1.0)
            top = found[0] if found else None
            duration = attacks.video_span(path)
            span = expected_span(attack.name, duration)
            ok = bool(top and top.work == work and top.matches)
            span_ok = bool(ok and abs(top.work_span[0] - span[0]) <= 1.0 and abs(top.work_span[1] - span[1]) <= 1.0)
            others = []
            for other, fp in fingerprints.items():
                if other == work:
                    continue
                m = contentid.compare(fp, query, searched_segments=indexed)
                others.append({"work": other, "score": m.score if m else 0.0,
                               "similarity": m.similarity if m else None})
            code = iscc.video_code_file(dst)
            row = {"clip": name, "attack": attack.name, "note": note, "found": ok, "span_ok": span_ok,
                   "score": top.score if top and top.work == work else 0.0,
                   "similarity": top.similarity if top and top.work == work else None,
                   "work_span": list(top.work_span) if top else None, "expected_span": list(span),
                   "scale": top.scale if top else None, "mirrored": top.mirrored if top else None,
                   "wrong_match": bool(top and top.work != work and top.matches),
                   "search_ms": 1000 * t["s"],
                   "best_non_match": max(others, key=lambda o: o["score"]) if others else None,
                   "iscc_distance": iscc.distance(code, codes[work]),
                   "iscc_nearest_other": min(iscc.distance(code, c) for o, c in codes.items() if o != work)}
            rows.append(row)
            log(f"{name} {attack.name}: found={ok} span={span_ok} score={row['score']:.1f} "
                f"best other={row['best_non_match']['score']:.1f} iscc={row['iscc_distance']}/"
                f"{row['iscc_nearest_other']}")
            if not args.keep:
                dst.unlink()

    # Registered works against each other: unrelated originals (and the two screen recordings).
    pairs = []
    for a, fa in fingerprints.items():
        for b in fingerprints:
            if a != b:
                m = contentid.compare(fa, contentid.sample_file(registered[b]).query(), searched_segments=indexed)
                pairs.append({"work": a, "query": b, "score": m.score if m else 0.0,
                              "iscc_distance": iscc.distance(codes[a], codes[b])})

    log("costs per frame")
    costs = {}
    for clip in clips:
        if clip.name in ("bbb", "bbb@1080p"):
            label = "1080p" if clip.is_hd else "720p"
            costs[label] = {**frame_costs(clip.path), "decode_ms": decode_cost(clip.path, clip.frames),
                            "iscc_ms_per_source_frame": iscc_cost(clip.path, clip.frames)}

    log("lookup times")
    queries = [q for q in rows if q["attack"] in ("crop_center_80", "excerpt_2s_middle", "downscale_360p")][:4]
    query_objects = []
    for q in queries:
        src = dict(sources)[q["clip"]]
        dst = folder / "lookup.mp4"
        next(a for a in attacks.ATTACKS if a.name == q["attack"]).func(src, dst)
        query_objects.append((q["clip"].split("@")[0], contentid.sample_file(dst).query(),
                              0))
        dst.unlink()
    lookups: dict[str, Any] = {}
    sizes = [10_000] + ([] if args.no_million else [1_000_000])
    for size in sizes:
        for kind in ("memory", "sqlite"):
            if kind == "sqlite" and size > 10_000:
                continue
            db = folder / f"lookup_{size}.sqlite"
            if db.exists():
                db.unlink()
            store = MemoryStore() if kind == "memory" else SQLiteContentStore(db)
            big = ContentIndex(store)
            with stopwatch() as build:
                for name, fp in fingerprints.items():
                    big.add(name, fp)
                for k, fp in enumerate(synthetic(size - len(fingerprints), seed=2)):
                    big.add(f"synthetic-{k}", fp)
                big.search(query_objects[0][1])  # sorts the memory store's postings once
            times, right = [], 0
            for work, query, _ in query_objects * 3:
                with stopwatch() as t:
                    found = big.search(query)
                times.append(1000 * t["s"])
                right += bool(found and found[0].work == work)
            lookups[f"{kind}_{size}"] = {"works": size, "build_s": build["s"], "median_ms": statistics.median(times),
                                         "max_ms": max(times), "found": f"{right}/{len(times)}"}
            log(f"{kind} {size:,}: {lookups[f'{kind}_{size}']}")
            big.close()
            if db.exists():
                db.unlink()
        rng = np.random.default_rng(3)
        codes_array = rng.integers(0, 2**63, size, dtype=np.int64).astype(np.uint64)
        times = []
        for _ in range(12):
            with stopwatch() as t:
                distances = hamming_scan(codes_array, int(rng.integers(0, 2**63)))
                np.argpartition(distances, 10)[:10]
            times.append(1000 * t["s"])
        lookups[f"iscc_scan_{size}"] = {"works": size, "median_ms": statistics.median(times)}

    results = {"rows": rows, "registered_pairs": pairs, "costs": costs, "lookups": lookups,
               "indexed_segments": indexed}
    run.write(results, markdown(rows, pairs, costs, lookups, indexed))


def markdown(rows, pairs, costs, lookups, indexed) -> str:
    attacks_seen = list(dict.fromkeys(r["attack"] for r in rows))
    clips_seen = list(dict.fromkeys(r["clip"] for r in rows))
    non_match_scores = [r["best_non_match"]["score"] for r in rows] + [p["score"] for p in pairs]
    iscc_non = [r["iscc_nearest_other"] for r in rows] + [p["iscc_distance"] for p in pairs]
    threshold = min(iscc_non) - 1
    out = ["## Summary", ""]
    found = sum(r["found"] for r in rows)
    spans = sum(r["span_ok"] for r in rows)
    iscc_found = sum(r["iscc_distance"] <= threshold for r in rows)
    out.append(f"- content fingerprint: {found}/{len(rows)} transformed copies found as their source "
               f"(false-match probability <= {contentid.MAX_FALSE_MATCH:g} with {indexed:,} registered "
               f"segments), {spans}/{len(rows)} with the source's time span within 1 s; wrong matches: "
               f"{sum(r['wrong_match'] for r in rows)}.")
    out.append(f"- nearest non-match: score {max(non_match_scores):.2f} (a match needs "
               f"{-np.log10(contentid.MAX_FALSE_MATCH):.0f}); score = -log10 false-match probability.")
    out.append(f"- ISCC Video-Code: {iscc_found}/{len(rows)} copies within {threshold} bits of their source "
               f"(the threshold just below the nearest unrelated pair, {min(iscc_non)} bits: as generous to "
               "ISCC as the data allow).")
    out += ["", "## Per transform (found / copies; median score; ISCC within threshold)", ""]
    table = []
    for a in attacks_seen:
        rs = [r for r in rows if r["attack"] == a]
        table.append([a, f"{sum(r['found'] for r in rs)}/{len(rs)}", f"{sum(r['span_ok'] for r in rs)}/{len(rs)}",
                      f"{statistics.median(r['score'] for r in rs):.1f}",
                      f"{min(r['score'] for r in rs):.1f}",
                      f"{statistics.median(r['best_non_match']['score'] for r in rs):.2f}",
                      f"{sum(r['iscc_distance'] <= threshold for r in rs)}/{len(rs)}",
                      f"{statistics.median(r['iscc_distance'] for r in rs):g}",
                      f"{min(r['iscc_nearest_other'] for r in rs)}"])
    out.append(md_table(["transform", "found", "span ok", "median score", "lowest score",
                         "median best non-match", "ISCC found", "ISCC median distance",
                         "ISCC nearest other"], table))
    out += ["", "## Per clip and transform (score; ISCC distance to source / to nearest other)", ""]
    cells = []
    for c in clips_seen:
        line = [c]
        for a in attacks_seen:
            r = next(x for x in rows if x["clip"] == c and x["attack"] == a)
            line.append(("" if r["found"] else "MISS ") + f"{r['score']:.0f}; {r['iscc_distance']}/"
                        f"{r['iscc_nearest_other']}")
        cells.append(line)
    out.append(md_table(["clip"] + attacks_seen, cells))
    out += ["", "## Score distributions", ""]
    match_scores = sorted(r["score"] for r in rows if r["found"])
    out.append(f"- matches: min {match_scores[0]:.1f}, 10th percentile "
               f"{np.percentile(match_scores, 10):.1f}, median {statistics.median(match_scores):.1f}" if match_scores
               else "- matches: none")
    out.append(f"- non-matches ({len(non_match_scores)} pairs: every copy against every other registered work, "
               f"and the registered works against each other): max {max(non_match_scores):.2f}, "
               f"99th percentile {np.percentile(non_match_scores, 99):.2f}; pairs with any matching segment: "
               f"{sum(s > 0 for s in non_match_scores)}")
    worst = max(pairs, key=lambda p: p["score"])
    out.append(f"- nearest non-match among registered works: {worst['query']} against {worst['work']}, score "
               f"{worst['score']:.2f}")
    out.append(f"- ISCC distances: copies to their source median "
               f"{statistics.median(r['iscc_distance'] for r in rows):g} (max {max(r['iscc_distance'] for r in rows)}); "
               f"unrelated pairs min {min(iscc_non)}, median {statistics.median(iscc_non):g}")
    out += ["", "## Cost per frame (median ms)", ""]
    out.append(md_table(["size", "decode", "thumbnail", "sampler step", "ISCC signatures per source frame"],
                        [[k, f"{v['decode_ms']:.2f}", f"{v['thumbnail_ms']:.2f}", f"{v['sampler_ms']:.2f}",
                          f"{v['iscc_ms_per_source_frame']:.2f}"] for k, v in costs.items()]))
    out += ["", "ISCC's cost includes PyAV's decode and the pipe to the ffmpeg program's signature filter "
            "(5 frames a second at the source size).", "", "## Lookup time", ""]
    out.append(md_table(["index", "works", "build s", "median ms", "max ms", "found"],
                        [[k, f"{v['works']:,}", f"{v.get('build_s', 0):.1f}", f"{v['median_ms']:.1f}",
                          f"{v.get('max_ms', 0):.1f}", v.get("found", "")] for k, v in lookups.items()]))
    out += ["", "Synthetic works have 10 one-second segments of slowly changing random directions; the real "
            "works are registered among them and each lookup query is a transformed copy (crop, excerpt, "
            "downscale). `iscc_scan` is a linear Hamming scan of 64-bit codes in numpy (ISCC has one code per "
            "video, so it needs no more), which finds near codes but cannot find excerpts or crops."]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
