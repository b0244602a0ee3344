"""The resolution service over real HTTP: uvicorn on a loopback port, on SQLite and on a real PostgreSQL
server, with a stamping worker registering through it, every status code, the tokens and the limits."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

import manifests
import watermark
from _postgres import postgres_server  # noqa: F401  (fixture)
from _service import serving
from aimark.remote import RemoteRepository
from aimark.resolver import ResolverClient
from aimark.service import ServiceConfig, TokenStore, create_app
from aimark.settings import Settings
from aimark.stamp import Stamper
from conftest import make_clip
from manifests import WATERMARK_ALGORITHM, binding_value
from manifests.repository import embedded_store, open_repository


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # object arrays are pickled: the service must refuse them
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


MEDIA = "application/vnd.aimark.evidence+npz"
STILL = np.zeros((1, 3), np.int16)


@pytest.mark.parametrize("body, media, status, words", [
    (b"not npz", MEDIA, 400, "not a NumPy .npz archive"),
    (npz(images=np.zeros((1, 64, 64), np.float16)), MEDIA, 400, "not a NumPy .npz archive"),
    (npz(images=np.zeros((64, 64), np.float16), keys=STILL), MEDIA, 400, "3-D float16"),
    (npz(images=np.zeros((1, 64, 64), np.float32), keys=STILL), MEDIA, 400, "3-D float16"),
    (npz(images=np.zeros((1, 8, 8), np.float16), keys=STILL), MEDIA, 400, "outside 32-4096"),
    (npz(images=np.zeros((2, 64, 64), np.float16), keys=np.zeros((2, 3), np.int16)), MEDIA, 400, "distinct"),
    (npz(images=np.zeros((1, 64, 64), np.float16), keys=np.array([[1, 0, 0]], np.int16)), MEDIA, 400,
     "one of them (0, 0, 0)"),
    (npz(images=np.zeros((2, 64, 64), np.float16), keys=np.array([[0, 0, 0], [9, 0, 0]], np.int16)), MEDIA, 400,
     "views 0 to 7"),
    (npz(images=np.zeros((13, 32, 32), np.float16), keys=np.arange(39, dtype=np.int16).reshape(13, 3)), MEDIA, 400,
     "1 to 12 are accepted"),
    (npz(images=np.full((1, 64, 64), np.inf, np.float16), keys=STILL), MEDIA, 400, "not finite"),
    (npz(images=np.array([object()]), keys=STILL), MEDIA, 400, "not a NumPy .npz archive"),
    (b"\0" * 100, "application/octet-stream", 415, "vnd.aimark.evidence"),
    (b"\0" * (8 << 20), MEDIA, 413, "at most"),
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
