"""Two homes on this machine, end to end: a provider serves its PostgreSQL repository with `aimark serve`,
a stamping worker registers through it, and a platform (another home, no repository, no key) verifies a
stripped, re-encoded upload with `aimark verify --resolver`; forged, untrusted, slow and absent resolvers
are refused with their reasons."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Response

from _pipeline import platform_reencode
from _postgres import postgres_server  # noqa: F401  (fixture)
from _service import serving
from aimark.cli import main
from conftest import make_clip
from manifests.repository import embedded_store, manifest_label


@dataclass
class Homes:
    provider: Path
    platform: Path
    url: str
    root: Path
    public_upload: Path      # stamped with the public key, stripped and re-encoded
    private_upload: Path     # stamped with the provider's private key, the same
    public_identifier: str
    private_identifier: str
    other_store: bytes       # the signed manifest of another video, registered elsewhere
    copied_store: bytes      # a trusted manifest claiming the public upload's identifier, for other pictures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(home: Path, *args: str, env: dict[str, str] | None = None):
    """The aimark command as the person in ``home`` runs it."""
    result = CliRunner().invoke(main, list(args), env={"AIMARK_HOME": str(home), "AIMARK_SETTINGS": "", **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture(scope="module")
def homes(tmp_path_factory, postgres_server) -> Homes:
    provider, platform = tmp_path_factory.mktemp("provider-home"), tmp_path_factory.mktemp("platform-home")
    database = postgres_server.create_database()
    assert run(provider, "certs", "init", str(provider / "certs"), "--org", "ACME").exit_code == 0
    assert run(provider, "keygen", str(provider / "provider.key")).exit_code == 0
    assert run(provider, "tokens", "add", "worker-1", "--scope", "store", "--out", str(provider / "worker.token"),
               "--repository", database).exit_code == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from aimark.cli import main; main()", "serve", "--repository", database, "--port", str(port),
         "--key", str(provider / "provider.key")],
        env={**os.environ, "AIMARK_HOME": str(provider)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"aimark serve did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        signing = ["--cert", str(provider / "certs/signer.pem"), "--private-key", str(provider / "certs/signer-key.pem")]
        worker = {"AIMARK_REPOSITORY_TOKEN": (provider / "worker.token").read_text().strip()}
        stamped = {}
        for name, key in (("public", []), ("private", ["--key", str(provider / "provider.key")])):
            clip = make_clip(provider / f"{name}.mp4", width=640, height=360, frames=100, seed=len(name))
            result = run(provider, "stamp", str(clip), str(provider / f"{name}-stamped.mp4"), "--author", "Ada Li",
                         "--model", "VidGen", "--model-version", "2.1", "--org", "ACME", "--repository", url,
                         "--json", *key, *signing, env=worker)
            assert result.exit_code == 0, result.output
            stamped[name] = json.loads(result.output)
        # Another video, stamped into another repository: its manifest, and a copy claiming the public identifier.
        other = make_clip(provider / "other.mp4", width=640, height=360, frames=100, seed=7)
        elsewhere = ["--repository", str(provider / "elsewhere.sqlite"), *signing]
        assert run(provider, "stamp", str(other), str(provider / "other-stamped.mp4"), "--author", "Eve",
                   "--model", "Other", *elsewhere).exit_code == 0
        assert run(provider, "stamp", str(other), str(provider / "copied-stamped.mp4"), "--author", "Mallory",
                   "--model", "VidGen", "--id", stamped["public"]["identifier"],
                   "--repository", str(provider / "copies.sqlite"), *signing).exit_code == 0
        uploads = {name: platform_reencode(provider / f"{name}-stamped.mp4", platform / f"{name}-upload.mp4",
                                           height=288, bit_rate=600_000) for name in stamped}
        yield Homes(provider, platform, url, provider / "certs/root.pem", uploads["public"], uploads["private"],
                    stamped["public"]["identifier"], stamped["private"]["identifier"],
                    embedded_store(provider / "other-stamped.mp4"), embedded_store(provider / "copied-stamped.mp4"))
    finally:
        server.terminate()
        server.wait(timeout=20)


def verify(homes: Homes, upload: Path, *options: str) -> dict:
    result = run(homes.platform, "verify", str(upload), "--json", *options)
    assert result.exit_code in (0, 3, 4, 5), result.output
    data = json.loads(result.output)
    assert data["exit_status"] == result.exit_code
    return data


def test_the_platform_recovers_author_and_model_through_the_provider_resolver(homes):
    data = verify(homes, homes.public_upload, "--resolver", homes.url, "--trust-anchors", str(homes.root))
    assert data["manifest"]["state"] == "absent"
    assert data["verdict"] == "recovered" and (data["author"], data["model"]) == ("Ada Li", "VidGen 2.1")
    assert data["resolutions"] == [{"resolver": homes.url, "method": "byBinding", "accepted": True, "refused": None,
                                    "manifest_id": data["record"]["manifest_id"]}]
    assert data["record"]["identifier"] == homes.public_identifier and data["fingerprint"]["matches"]
    assert data["recovered_claims"]["organisation"] == "ACME"
    assert not (homes.platform / "repository.sqlite").exists()  # nothing of the provider's on the platform


def test_a_private_key_mark_is_resolved_by_content_only_when_the_platform_sends_it(homes):
    kept = verify(homes, homes.private_upload, "--resolver", homes.url, "--trust-anchors", str(homes.root))
    assert kept["verdict"] == "unlabelled" and kept["resolutions"] == []  # the video was not uploaded
    sent = verify(homes, homes.private_upload, "--resolver", homes.url, "--trust-anchors", str(homes.root),
                  "--send-content")
    assert sent["verdict"] == "recovered" and sent["author"] == "Ada Li" and sent["exit_status"] == 3
    assert sent["resolutions"][0]["method"] == "byContent" and sent["resolutions"][0]["accepted"]
    assert sent["record"]["identifier"] == homes.private_identifier
    assert any("found its own watermark in the uploaded pictures" in r["finding"] for r in sent["reasons"])


def test_evidence_finds_a_private_key_mark_without_uploading_the_video(homes):
    data = verify(homes, homes.private_upload, "--resolver", homes.url, "--trust-anchors", str(homes.root),
                  "--send-evidence")
    assert data["verdict"] == "recovered" and data["author"] == "Ada Li"
    assert [(r["method"], r["accepted"]) for r in data["resolutions"]] == [("byEvidence", True)]
    assert data["record"]["identifier"] == homes.private_identifier
    assert any("the evidence sent (not the video)" in r["finding"] for r in data["reasons"])


def test_without_the_providers_root_the_manifest_is_not_believed(homes):
    data = verify(homes, homes.public_upload, "--resolver", homes.url)
    assert data["verdict"] == "watermark-only" and data["author"] is None
    refused = data["resolutions"][0]["refused"]
    assert "valid but untrusted" in refused and "--trust-anchors" in refused


def forged_resolver(store: bytes) -> FastAPI:
    """A resolver that answers every lookup with the same signed manifest store (under its own label)."""
    app = FastAPI()
    label = manifest_label(store)

    @app.get("/matches/byBinding")
    def matches() -> dict:
        return {"matches": [{"manifestId": label}]}

    @app.get("/manifests/{manifest_id}")
    def manifest(manifest_id: str) -> Response:
        return Response(store, media_type="application/c2pa")

    return app


def test_a_forged_answer_with_another_videos_manifest_is_refused(homes):
    with serving(forged_resolver(homes.other_store)) as forged:
        data = verify(homes, homes.public_upload, "--resolver", forged, "--trust-anchors", str(homes.root))
    assert data["verdict"] == "watermark-only" and data["author"] is None
    assert "the manifest of another video" in data["resolutions"][0]["refused"]


def test_a_trusted_manifest_for_other_pictures_is_refused(homes):
    """The identifier is right and the signer trusted, but the signed fingerprint is of another video."""
    with serving(forged_resolver(homes.copied_store)) as forged:
        data = verify(homes, homes.public_upload, "--resolver", forged, "--trust-anchors", str(homes.root))
    assert data["verdict"] == "watermark-only" and data["author"] is None
    assert "signed in its manifest does not match these pictures" in data["resolutions"][0]["refused"]


def test_unreachable_and_slow_resolvers_are_reasons_and_the_next_one_answers(homes):
    slow = FastAPI()

    @slow.get("/matches/byBinding")
    def matches() -> dict:
        time.sleep(3)
        return {"matches": []}

    closed = f"http://127.0.0.1:{free_port()}"
    with serving(slow) as sluggish:
        data = verify(homes, homes.public_upload, "--resolver", closed, "--resolver", sluggish,
                      "--resolver", homes.url, "--resolver-timeout", "0.5", "--trust-anchors", str(homes.root))
    answers = data["resolutions"]
    assert [a["accepted"] for a in answers] == [False, False, True] and data["verdict"] == "recovered"
    assert "cannot be reached" in answers[0]["refused"]
    assert "did not answer within 0.5 s" in answers[1]["refused"]


def test_resolvers_come_from_the_settings_file_too(homes):
    settings = homes.platform / "platform.toml"
    settings.write_text(f'[verify]\nresolvers = ["{homes.url}"]\ntrust_anchors = "{homes.root}"\n')
    data = verify(homes, homes.public_upload, "--settings", str(settings))
    assert data["verdict"] == "recovered" and data["resolutions"][0]["resolver"] == homes.url


def test_a_bad_resolver_url_is_one_error_line(homes):
    result = run(homes.platform, "verify", str(homes.public_upload), "--resolver", "file:///etc/passwd")
    assert result.exit_code == 2 and result.output.startswith("Error: resolver 'file:///etc/passwd' is not an http")


def test_a_resolver_that_floods_its_answer_is_cut_off(homes):
    flood = FastAPI()

    @flood.get("/matches/byBinding")
    def matches() -> Response:
        return Response(b"[" * (3 << 20), media_type="application/json")

    with serving(flood) as flooding:
        data = verify(homes, homes.public_upload, "--resolver", flooding, "--trust-anchors", str(homes.root))
    assert data["verdict"] == "watermark-only"
    assert "sent more than 1,048,576 bytes" in data["resolutions"][0]["refused"]


def test_scan_recovers_the_training_choices_through_the_provider_resolver(homes):
    upload = str(homes.public_upload)
    believed = run(homes.platform, "scan", upload, "--json-lines", "--quiet", "--resolver", homes.url,
                   "--trust-anchors", str(homes.root))
    assert believed.exit_code == 0, believed.output
    row = json.loads(believed.stdout)
    assert row["ai_evidence"] == ["watermark:" + row["ai_evidence"][0].split(":", 1)[1], f"resolver:{homes.url}",
                                  "c2pa:trainedAlgorithmicMedia"]
    assert (row["identifier"], row["author"], row["provider"], row["model"]) == (
        homes.public_identifier, "Ada Li", "ACME", "VidGen")
    assert (row["ai_training"], row["decision"]) == ("notAllowed", "exclude")  # the stamp's default policy
    untrusted = json.loads(run(homes.platform, "scan", upload, "--json-lines", "--quiet", "--resolver",
                               homes.url).stdout)
    assert untrusted["author"] is None and untrusted["ai_training"] == "unspecified"
    assert untrusted["decision"] == "use" and any(r.startswith(f"resolver {homes.url} was not believed")
                                                  for r in untrusted["reasons"])
