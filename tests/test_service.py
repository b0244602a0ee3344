"""The resolution service over real HTTP: uvicorn on a loopback port, on SQLite and on a real PostgreSQL
server, with a stamping worker registering through it, every status code, the tokens and the limits."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

import manifests
import watermark
from _postgres import postgres_server  # noqa: F401  (fixture)
from _service import serving
from aimark.cli import main
from aimark.evidence import Accumulator
from aimark.remote import RemoteRepository
from aimark.resolver import ResolverClient
from aimark.service import ServiceConfig, TokenStore, create_app
from aimark.settings import Settings
from aimark.stamp import Stamper
from conftest import make_clip
from manifests import WATERMARK_ALGORITHM, binding_value
from manifests.repository import RepositoryError, embedded_store, open_repository
from watermark.video import read_pictures


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


@dataclass
class Provider:
    url: str
    location: str
    store_token: str
    fetch_token: str
    stamped: Path
    identifier: str
    manifest_id: str
    uploads: Path
    key: watermark.Key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def provider(request, tmp_path_factory) -> Provider:
    """A provider's service with one video stamped by a worker that registered through it."""
    folder = tmp_path_factory.mktemp("provider")
    location = (str(folder / "repo.sqlite") if request.param == "sqlite"
                else request.getfixturevalue("postgres_server").create_database())
    with open_repository(location) as repo:
        store = TokenStore(repo.database)
        store_token, fetch_token = store.create("worker", ["store"]), store.create("reader", ["fetch"])
    key = watermark.Key.generate()
    uploads = folder / "uploads"
    uploads.mkdir()
    config = ServiceConfig(location, keys=(key,), upload_folder=uploads, max_upload_bytes=5 << 20)
    with serving(create_app(config)) as url:
        certificates = manifests.create_test_credentials(folder / "certs", organisation="ACME")
        signer = manifests.Signer.from_files(certificates.certificate, certificates.private_key)
        with Stamper(Settings(organisation="ACME"), key=key, signer=signer,
                     repository=RemoteRepository(url, store_token)) as stamper:
            result = stamper.stamp(make_clip(folder / "gen.mp4", frames=50), folder / "stamped.mp4",
                                   author="Ada Li", model="VidGen", model_version="2.1")
        yield Provider(url, location, store_token, fetch_token, result.path, result.identifier, result.manifest_id,
                       uploads, key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_worker_registered_through_the_service(provider):
    with open_repository(provider.location) as repo:
        record = repo.get(provider.identifier)
    assert record.manifest_id == provider.manifest_id and record.author == "Ada Li" and record.organisation == "ACME"
    assert record.store == embedded_store(provider.stamped) and record.key_id == provider.key.key_id
    assert record.width == 480 and record.height == 272 and len(record.fingerprint) == 2 * 64


def test_by_binding_get_and_post_find_the_manifest(provider):
    value = binding_value(provider.identifier)
    expected = {"matches": [{"manifestId": provider.manifest_id, "similarityScore": 100}]}
    got = httpx.get(f"{provider.url}/matches/byBinding", params={"alg": WATERMARK_ALGORITHM, "value": value})
    assert got.status_code == 200 and got.json() == expected
    posted = httpx.post(f"{provider.url}/matches/byBinding", json={"alg": WATERMARK_ALGORITHM, "value": value})
    assert posted.status_code == 200 and posted.json() == expected
    other = httpx.get(f"{provider.url}/matches/byBinding",
                      params={"alg": WATERMARK_ALGORITHM, "value": binding_value("0123456789abcdef")})
    assert other.status_code == 200 and other.json() == {"matches": []}


def test_the_manifest_is_served_as_application_c2pa(provider):
    response = httpx.get(f"{provider.url}/manifests/{provider.manifest_id}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/c2pa"
    assert response.content == embedded_store(provider.stamped)
    assert response.headers["last-modified"].endswith(" GMT")
    with ResolverClient(provider.url) as client:
        fetched = client.manifest(provider.manifest_id)
    assert fetched.store == response.content and fetched.registered is not None


@pytest.mark.parametrize("params, status, words", [
    ({"alg": WATERMARK_ALGORITHM, "value": "not base64!"}, 400, "value: String should match pattern"),
    ({"alg": WATERMARK_ALGORITHM, "value": "AMD/7hI0Vnh="}, 400, "value: String should match pattern"),
    ({"alg": "com.other.watermark", "value": "AMD/7hI0Vng="}, 400, "alg: Input should be 'org.aimark.watermark.1'"),
    ({"value": "AMD/7hI0Vng="}, 400, "alg: Field required"),
    ({"alg": WATERMARK_ALGORITHM, "value": "AMD/7hI0Vng=", "maxResults": "0"}, 400, "maxResults"),
    ({"alg": WATERMARK_ALGORITHM, "value": "A" * 3000}, 414, "POST the binding"),
])
def test_bad_lookups_get_the_spec_status_and_one_line(provider, params, status, words):
    response = httpx.get(f"{provider.url}/matches/byBinding", params=params)
    assert response.status_code == status and words in response.json()["detail"]


def test_manifest_ids_that_are_malformed_or_unknown(provider):
    assert httpx.get(f"{provider.url}/manifests/not-a-urn").status_code == 400
    missing = httpx.get(f"{provider.url}/manifests/urn:c2pa:00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "no manifest" in missing.json()["detail"]
    assert httpx.get(f"{provider.url}/nothing/here").json() == {"detail": "Not Found"}


def test_registration_needs_a_store_token(provider):
    store = embedded_store(provider.stamped)
    headers = {"Content-Type": "application/c2pa"}
    anonymous = httpx.post(f"{provider.url}/manifests", content=store, headers=headers)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    wrong = httpx.post(f"{provider.url}/manifests", content=store, headers={**headers, **bearer("aimark_guess")})
    assert wrong.status_code == 401 and "not one of this service's" in wrong.json()["detail"]
    reader = httpx.post(f"{provider.url}/manifests", content=store, headers={**headers, **bearer(provider.fetch_token)})
    assert reader.status_code == 403 and "lacks the store scope" in reader.json()["detail"]
    again = httpx.post(f"{provider.url}/manifests", content=store, headers={**headers, **bearer(provider.store_token)})
    assert again.status_code == 409 and "already registered" in again.json()["detail"]


@pytest.mark.parametrize("body, media, status, words", [
    (b"not a store", "application/c2pa", 400, "does not validate"),
    (b"\0" * 100, "application/json", 415, "application/c2pa"),
    (b"x" * (17 << 20), "application/c2pa", 413, "at most"),
])
def test_bad_registrations(provider, body, media, status, words):
    response = httpx.post(f"{provider.url}/manifests", content=body,
                          headers={"Content-Type": media, **bearer(provider.store_token)})
    assert response.status_code == status and words in response.json()["detail"]


def test_a_signed_store_without_aimark_assertions_is_refused(provider, tmp_path):
    signed = tmp_path / "signed.mp4"
    manifests.sign_file(make_clip(tmp_path / "c.mp4", frames=10), signed,
                        manifests.GenerationDescription(author="Eve", model="Other"))
    response = httpx.post(f"{provider.url}/manifests", content=embedded_store(signed),
                          headers={"Content-Type": "application/c2pa", **bearer(provider.store_token)})
    assert response.status_code == 400 and "lacks a soft binding of org.aimark.watermark.1" in response.json()["detail"]


def test_bindings_confirm_only_what_the_manifest_declares(provider):
    def post(value: str, manifest_id: str = provider.manifest_id) -> httpx.Response:
        return httpx.post(f"{provider.url}/bindings", headers=bearer(provider.store_token),
                          json={"alg": WATERMARK_ALGORITHM, "bindingValue": value, "manifestId": manifest_id})

    assert post(binding_value(provider.identifier)).status_code == 204
    assert post(binding_value("0123456789abcdef")).status_code == 400
    assert post(binding_value(provider.identifier), "urn:c2pa:unknown").status_code == 404
    assert httpx.post(f"{provider.url}/bindings", json={}).status_code == 401


def test_by_content_finds_a_private_key_mark(provider):
    with ResolverClient(provider.url) as client:
        matches = client.by_content(provider.stamped, "video/mp4")
    assert [m.manifest_id for m in matches] == [provider.manifest_id] and matches[0].similarity == 100
    unmarked = make_clip(provider.uploads.parent / "plain.mp4", frames=25, seed=3)
    with ResolverClient(provider.url) as client:
        assert client.by_content(unmarked, "video/mp4") == []
    assert list(provider.uploads.iterdir()) == []  # every upload deleted


@pytest.mark.parametrize("body, media, status, words", [
    (b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/passwd\n", "video/mp4", 415, "not a video container"),
    (b"\0\0\0\x18ftypisom" + b"\0" * 100, "video/mp4", 400, "cannot be decoded"),
    (b"", "video/mp4", 400, "no body"),
    (b"GIF89a", "image/gif", 415, "video/*"),
    (b"\0" * (6 << 20), "video/mp4", 413, "larger than the service's limit"),
])
def test_by_content_refusals(provider, body, media, status, words):
    response = httpx.post(f"{provider.url}/matches/byContent", content=body, headers={"Content-Type": media},
                          timeout=30)
    assert response.status_code == status and words in response.json()["detail"], response.text
    assert "/" + provider.uploads.name not in response.text  # the service's own paths never leak
    assert list(provider.uploads.iterdir()) == []


def test_a_streamed_upload_past_the_limit_is_cut_off_and_deleted(provider):
    def body():
        for _ in range(8):
            yield b"\0\0\0\x18ftypisom" + bytes(1 << 20)

    response = httpx.post(f"{provider.url}/matches/byContent", content=body(), headers={"Content-Type": "video/mp4"},
                          timeout=30)  # chunked: no Content-Length to refuse it early
    assert response.status_code == 413
    assert list(provider.uploads.iterdir()) == []


def test_supported_algorithms_health_and_the_openapi_document(provider):
    assert httpx.get(f"{provider.url}/services/supportedAlgorithms").json() == {
        "watermarks": [{"alg": WATERMARK_ALGORITHM}], "fingerprints": []}
    assert httpx.get(f"{provider.url}/health").json()["status"] == "ok"
    document = httpx.get(f"{provider.url}/openapi.json").json()
    assert document["info"]["version"] == "1.1.0"
    assert {"/matches/byBinding", "/matches/byContent", "/manifests/{manifestId}", "/manifests", "/bindings",
            "/services/supportedAlgorithms"} <= set(document["paths"])


def test_a_remote_repository_finds_records_and_refuses_duplicates(provider):
    with RemoteRepository(provider.url, provider.store_token) as remote:
        record = remote.get(provider.identifier)
        assert record.manifest_id == provider.manifest_id and record.author == "Ada Li"
        assert remote.get("0123456789abcdef") is None
        with pytest.raises(RepositoryError, match="already registered"):
            remote.add(record)
    with pytest.raises(RepositoryError, match="needs a token with the store scope"):
        RemoteRepository(provider.url, None)


def test_reads_can_require_a_fetch_token(tmp_path):
    location = str(tmp_path / "repo.sqlite")
    with open_repository(location) as repo:
        store = TokenStore(repo.database)
        fetch, write = store.create("reader", ["fetch"]), store.create("worker", ["store"])
    with serving(create_app(ServiceConfig(location, anonymous_reads=False))) as url:
        lookup = f"{url}/matches/byBinding?alg={WATERMARK_ALGORITHM}&value=AMD/7hI0Vng="
        assert httpx.get(lookup).status_code == 401
        assert httpx.get(lookup, headers=bearer(write)).status_code == 200  # a writer may read
        assert httpx.post(f"{url}/manifests", content=b"x", headers={"Content-Type": "application/c2pa",
                                                                      **bearer(fetch)}).status_code == 403
        assert httpx.get(lookup, headers=bearer(fetch)).json() == {"matches": []}
        assert httpx.get(f"{url}/services/supportedAlgorithms").status_code == 200
        with open_repository(location) as repo:
            TokenStore(repo.database).revoke("reader")
        assert httpx.get(lookup, headers=bearer(fetch)).status_code == 401  # revoked at once


def test_tokens_are_stored_hashed(tmp_path):
    location = str(tmp_path / "repo.sqlite")
    with open_repository(location) as repo:
        token = TokenStore(repo.database).create("worker", ["store"])
        stored = repo.database.execute("SELECT name, digest, scopes FROM service_tokens")
    assert token.startswith("aimark_") and len(token) > 40
    assert stored[0][0] == "worker" and token not in json.dumps(stored) and len(stored[0][1]) == 64


def test_one_upload_slot_busy_means_503(tmp_path):
    location = str(tmp_path / "repo.sqlite")
    release = threading.Event()

    def slow():
        yield b"\0\0\0\x18ftypisom"
        release.wait(20)
        yield b"\0" * 10

    with serving(create_app(ServiceConfig(location, max_concurrent_uploads=1))) as url:
        first = threading.Thread(target=lambda: httpx.post(f"{url}/matches/byContent", content=slow(),
                                                           headers={"Content-Type": "video/mp4"}, timeout=30))
        first.start()
        try:
            time.sleep(0.5)
            busy = httpx.post(f"{url}/matches/byContent", content=b"x", headers={"Content-Type": "video/mp4"})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "60"
        finally:
            release.set()
            first.join()


def test_decoding_longer_than_the_limit_is_413(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=50)
    with serving(create_app(ServiceConfig(str(tmp_path / "repo.sqlite"), max_decode_seconds=0.001))) as url:
        response = httpx.post(f"{url}/matches/byContent", content=clip.read_bytes(),
                              headers={"Content-Type": "video/mp4"}, timeout=30)
    assert response.status_code == 413 and "decoding limit" in response.json()["detail"]


def test_cli_tokens_add_list_revoke(tmp_path):
    location = str(tmp_path / "repo.sqlite")
    runner = CliRunner()
    out = tmp_path / "worker.token"
    added = runner.invoke(main, ["tokens", "add", "worker-1", "--scope", "store", "--out", str(out),
                                 "--repository", location])
    assert added.exit_code == 0 and out.read_text().startswith("aimark_") and (out.stat().st_mode & 0o777) == 0o600
    again = runner.invoke(main, ["tokens", "add", "worker-2", "--scope", "store", "--out", str(out),
                                 "--repository", location])
    assert again.exit_code == 2 and "already exists" in again.output and out.read_text().startswith("aimark_")
    listed = runner.invoke(main, ["tokens", "list", "--json", "--repository", location])
    assert [t["name"] for t in json.loads(listed.output)["tokens"]] == ["worker-1"]
    assert out.read_text().strip() not in listed.output
    bad = runner.invoke(main, ["tokens", "add", "bad name", "--scope", "store", "--repository", location])
    assert bad.exit_code == 2 and bad.output.startswith("Error: token name 'bad name'")
    assert runner.invoke(main, ["tokens", "revoke", "worker-1", "--repository", location]).exit_code == 0
    gone = runner.invoke(main, ["tokens", "revoke", "worker-1", "--repository", location])
    assert gone.exit_code == 2 and "no token named 'worker-1'" in gone.output


def test_service_commands_have_help_with_an_example():
    for command in (main.commands["serve"], *main.commands["tokens"].commands.values()):
        assert "Example" in (command.help or ""), command.name
    assert base64.b64decode(binding_value("00c0ffee12345678")).hex() == "00c0ffee12345678"


def test_key_independent_evidence_finds_a_private_mark_without_the_video(provider):
    accumulator = Accumulator()
    for picture in read_pictures(provider.stamped):
        accumulator.add(watermark.frame_evidence(picture))
    body = accumulator.encode()
    assert len(body) < 400_000  # a few hundred kilobytes, whatever the video's length
    with ResolverClient(provider.url) as client:
        assert [m.manifest_id for m in client.by_evidence(body)] == [provider.manifest_id]
    unmarked = Accumulator()
    for picture in read_pictures(make_clip(provider.uploads.parent / "other.mp4", frames=25, seed=5)):
        unmarked.add(watermark.frame_evidence(picture))
    with ResolverClient(provider.url) as client:
        assert client.by_evidence(unmarked.encode()) == []


@pytest.mark.parametrize("body, media, status, words", [
    (b"not npy", "application/vnd.aimark.evidence+npy", 400, "not a NumPy .npy array"),
    (npy(np.zeros((288, 512), np.float32)), "application/vnd.aimark.evidence+npy", 400, "2-D float16"),
    (npy(np.zeros((8, 8), np.float16)), "application/vnd.aimark.evidence+npy", 400, "outside 32-4096"),
    (npy(np.full((64, 64), np.inf, np.float16)), "application/vnd.aimark.evidence+npy", 400, "not finite"),
    (npy(np.array([object()])), "application/vnd.aimark.evidence+npy", 400, "not a NumPy .npy array"),
    (b"\0" * 100, "application/octet-stream", 415, "vnd.aimark.evidence"),
    (b"\0" * (3 << 20), "application/vnd.aimark.evidence+npy", 413, "at most"),
])
def test_bad_evidence_is_refused(provider, body, media, status, words):
    response = httpx.post(f"{provider.url}/vendor/org.aimark/matches/byEvidence", content=body,
                          headers={"Content-Type": media})
    assert response.status_code == status and words in response.json()["detail"], response.text


def test_a_registration_is_undone_through_the_service(tmp_path):
    """The stamper's 'register, then publish' step: when publishing fails, the worker deletes what it registered."""
    location = str(tmp_path / "repo.sqlite")
    with open_repository(location) as repo:
        store = TokenStore(repo.database)
        write, read = store.create("worker", ["store"]), store.create("reader", ["fetch"])
    clip = make_clip(tmp_path / "gen.mp4", frames=25)
    with serving(create_app(ServiceConfig(location))) as url:
        with Stamper(Settings(), repository=RemoteRepository(url, write)) as stamper:
            result = stamper.stamp(clip, tmp_path / "stamped.mp4", author="Ada", model="VidGen")
        manifest = f"{url}/manifests/{result.manifest_id}"
        assert httpx.delete(manifest, headers=bearer(read)).status_code == 403
        with RemoteRepository(url, write) as remote:
            remote.remove(result.identifier)
            assert remote.get(result.identifier) is None
        assert httpx.get(manifest).status_code == 404
        assert httpx.delete(manifest, headers=bearer(write)).status_code == 404
