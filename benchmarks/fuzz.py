"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers that take outside input.

Each target feeds mutated bytes to one parser a user or an attacker controls:
key files, settings TOML, identifiers, AIGC labels, training-and-mining
choices, certificate PEM, manifest stores read from files, and the MP4 box
structure. A parser may refuse input only with its package's user error
(``KeyFileError``, ``SettingsError``, ``RepositoryError``, ``MediaError`` ...),
which the command line shows as one ``Error:`` line; anything else (a
``KeyError``, an ``IndexError``, a ``struct.error``) would be a traceback and
is a finding. Findings are grouped by exception type and place, and the first
input of each is saved, to be turned into a test.

Each target runs in a process of its own for ``--seconds`` (bounded), from a
seed corpus of valid inputs made here. Results: ``results/fuzz.md`` and
``fuzz.json`` (executions, coverage, findings per target).

    python benchmarks/fuzz.py                 # 60 s per target
    python benchmarks/fuzz.py --seconds 10 --target key --target settings
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, Run, log, md_table, parser  # noqa: E402

#: Targets and the user errors each parser may raise (by module path and name, imported in the child).
EXPECTED = {
    "key": ["watermark.errors.KeyFileError"],
    "settings": ["aimark.errors.SettingsError", "watermark.errors.WatermarkError", "manifests.errors.ManifestError"],
    "identifier": ["watermark.errors.IdentifierError", "manifests.errors.DescriptionError"],
    "aigc_label": ["manifests.errors.DescriptionError"],
    "training_mining": ["manifests.errors.DescriptionError"],
    "certificate": ["manifests.errors.CredentialError"],
    "manifest_store": ["manifests.errors.ManifestError"],
    "mp4_boxes": ["manifests.errors.MediaError"],
}


def _resolve(name: str) -> type:
    module, _, attribute = name.rpartition(".")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


def _targets(scratch: Path) -> dict[str, Callable[[bytes], None]]:
    """One function per target, taking the fuzzer's bytes (imported under atheris' instrumentation)."""
    from aimark.settings import Settings
    from manifests.boxes import check_structure, manifest_store_bytes
    from manifests.credentials import load_chain
    from manifests.description import TrainingMining, check_identifier
    from manifests.labels import AigcLabel
    from manifests.repository import manifest_label, stored_claims, stored_disclosures
    from watermark.keys import Key
    from watermark.payload import parse_identifier

    def through_file(suffix: str, read: Callable[[Path], object]) -> Callable[[bytes], None]:
        path = scratch / f"input{suffix}"

        def target(data: bytes) -> None:
            path.write_bytes(data)
            read(path)

        return target

    def text(data: bytes) -> str:
        return data.decode("utf-8", "replace")

    def identifier(data: bytes) -> None:
        value = text(data)
        try:
            parse_identifier(value)
        finally:
            check_identifier(value.strip().lower())

    def store(data: bytes) -> None:
        manifest_label(data)
        stored_claims(data)
        stored_disclosures(data, None)

    def boxes(path: Path) -> None:
        try:
            check_structure(path)
        finally:
            manifest_store_bytes(path)

    return {
        "key": through_file(".key", Key.load),
        "settings": through_file(".toml", Settings.load),
        "identifier": identifier,
        "aigc_label": lambda data: AigcLabel.from_json(text(data)),
        "training_mining": lambda data: TrainingMining.parse(text(data).split("\n")),
        "certificate": lambda data: load_chain(data, "fuzzed certificate"),
        "manifest_store": store,
        "mp4_boxes": through_file(".mp4", boxes),
    }


def _seeds(folder: Path) -> dict[str, list[bytes]]:
    """Valid inputs of every kind, made here (a tiny clip signed with development credentials)."""
    import av
    import numpy as np

    import manifests
    import watermark

    folder.mkdir(parents=True)
    os.environ["AIMARK_HOME"] = str(folder / "home")
    clip, signed = folder / "clip.mp4", folder / "signed.mp4"
    with av.open(str(clip), "w") as output:
        stream = output.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * index, np.uint8), format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    description = manifests.GenerationDescription(author="Ada", model="VidGen", model_version="2.1",
                                                  organisation="ACME", identifier="00c0ffee12345678")
    manifests.sign_file(clip, signed, description, aigc=manifests.aigc_label(description))
    watermark.Key.generate().save(folder / "seed.key")
    credentials = manifests.development_credentials(folder / "home")
    return {
        "key": [(folder / "seed.key").read_bytes()],
        "settings": [b'organisation = "ACME"\nproducer = "ACME-AI-001"\nprofile = "cn"\n[watermark]\n'
                     b'strength = 1.0\n[notice]\nshow = true\nposition = "top-left"\nseconds = 2.0\n'
                     b'[training_mining]\nai_training = "constrained:licence"\n[encoder]\ncodec = "libx264"\n'
                     b'crf = 18\npreset = "medium"\nkeep_format = false\n'],
        "identifier": [b"00c0ffee12345678", b"0x00C0FFEE12345678"],
        "aigc_label": [manifests.aigc_label(description).to_json().encode("utf-8")],
        "training_mining": [b"ai_training=allowed\ndata_mining=constrained:see terms"],
        "certificate": [credentials.chain_pem],
        "manifest_store": [manifests.embedded_store(signed)],
        "mp4_boxes": [signed.read_bytes()],
    }


def _child(name: str, seconds: int, work: Path) -> None:
    """Fuzz one target until ``seconds`` have passed; findings go to ``work/findings.jsonl``."""
    import atheris

    with atheris.instrument_imports(include=["watermark", "manifests", "aimark", "outputs"]):
        targets = _targets(work)
    target, expected = targets[name], tuple(_resolve(e) for e in EXPECTED[name])
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        try:
            target(data)
        except expected:
            pass
        except Exception as error:  # a finding: anything but the parser's own user error
            frames = [f for f in traceback.extract_tb(error.__traceback__) if str(REPO_ROOT) in f.filename]
            place = f"{Path(frames[-1].filename).relative_to(REPO_ROOT)}:{frames[-1].lineno}" if frames else "?"
            signature = f"{type(error).__name__} at {place}"
            if signature not in seen:
                seen.add(signature)
                with open(work / "findings.jsonl", "a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps({"signature": signature, "message": str(error)[:300],
                                               "input": base64.b64encode(data).decode("ascii")}) + "\n")

    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-print_final_stats=1", "-rss_limit_mb=3072",
                   "-max_len=65536", str(work / "corpus")], one_input)
    atheris.Fuzz()


def _fuzz(name: str, seconds: int, seeds: list[bytes], root: Path) -> dict:
    work = root / name
    (work / "corpus").mkdir(parents=True)
    for index, seed in enumerate(seeds):
        (work / "corpus" / f"seed{index}").write_bytes(seed)
    log(f"fuzzing {name} for {seconds} s")
    done = subprocess.run([sys.executable, __file__, "--child", name, "--seconds", str(seconds),
                           "--work", str(work)], capture_output=True, text=True, timeout=seconds + 300)
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", done.stderr))
    coverage = re.findall(r"cov: (\d+) ft: (\d+)", done.stderr)
    findings_file = work / "findings.jsonl"
    findings = ([json.loads(line) for line in findings_file.read_text().splitlines()]
                if findings_file.exists() else [])
    return {"target": name, "seconds": seconds, "exit_code": done.returncode,
            "executions": int(stats.get("number_of_executed_units", 0)),
            "executions_per_second": int(stats.get("average_exec_per_sec", 0)),
            "coverage_edges": int(coverage[-1][0]) if coverage else None,
            "features": int(coverage[-1][1]) if coverage else None,
            "corpus_files": len(list((work / "corpus").iterdir())),
            "findings": findings,
            "log_tail": done.stderr.strip().splitlines()[-3:] if done.returncode else []}


def _markdown(results: list[dict], seconds: int) -> str:
    rows = [(r["target"], r["seconds"], f"{r['executions']:,}", f"{r['executions_per_second']:,}",
             r["coverage_edges"], r["corpus_files"], len(r["findings"])) for r in results]
    lines = [f"Each target ran in its own process for {seconds} s from seeds made by the script; a finding is "
             "any exception other than the parser's own user error (one `Error:` line on the command line).",
             "", md_table(["target", "seconds", "executions", "exec/s", "coverage edges", "corpus", "findings"],
                          rows), ""]
    found = [(r["target"], f) for r in results for f in r["findings"]]
    if found:
        lines += ["## Findings", "", md_table(["target", "exception and place", "message"],
                                              [(t, f["signature"], f["message"][:120]) for t, f in found])]
    else:
        lines += ["No findings in this run."]
    fixed = _earlier_findings()
    if fixed:
        lines += ["", "## Earlier findings, fixed", "",
                  "Inputs earlier runs found, kept in `tests/fuzz_findings/` and refused with the parser's own "
                  "user error since (`tests/test_fuzz_findings.py`):", "",
                  md_table(["input", "target", "raised before the fix"],
                           [(name, name.split("-")[0], name.rsplit("-", 1)[1].removesuffix(".bin")) for name in fixed])]
    return "\n".join(lines)


def _earlier_findings() -> list[str]:
    return sorted(path.name for path in (REPO_ROOT / "tests" / "fuzz_findings").glob("*.bin"))


def main() -> None:
    if "--child" in sys.argv:
        child = argparse.ArgumentParser()
        child.add_argument("--child")
        child.add_argument("--seconds", type=int)
        child.add_argument("--work", type=Path)
        known, _ = child.parse_known_args()
        sys.argv = [sys.argv[0]]
        _child(known.child, known.seconds, known.work)
        return
    options = parser(__doc__.split("\n")[0])
    options.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    options.add_argument("--target", action="append", choices=list(EXPECTED), help="only these targets")
    args = options.parse_args()
    seconds = 10 if args.quick else args.seconds
    names = args.target or list(EXPECTED)
    run = Run("fuzz", args, {"seconds_per_target": seconds, "targets": names})
    with tempfile.TemporaryDirectory() as folder:
        seeds = _seeds(Path(folder) / "seeds")
        results = [_fuzz(name, seconds, seeds[name], Path(folder) / "runs") for name in names]
    for result in results:
        log(f"{result['target']}: {result['executions']:,} executions, {len(result['findings'])} finding(s)")
    run.write({"targets": results, "earlier_findings_fixed": _earlier_findings()}, _markdown(results, seconds))


if __name__ == "__main__":
    main()
