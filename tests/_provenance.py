"""Shared fixtures and helpers for the provenance tests (imported by the test modules).

Small clips are generated with PyAV from a seeded rng; the real clips live in
../shared/data/videos and tests that need them skip when it is absent.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import make_clip
from conftest import real_clip as shared_clip


def real_clip(name: str, tmp_path: Path) -> Path:
    """Copy a real clip into ``tmp_path`` (skips when the shared clips are absent)."""
    return Path(shutil.copy(shared_clip(name), tmp_path / name))


def flip_media_byte(path: Path, offset: int = 200) -> None:
    """Flip one byte inside the mdat payload (the coded pictures)."""
    data = bytearray(path.read_bytes())
    mdat = data.index(b"mdat")
    data[mdat + 4 + offset] ^= 0xFF
    path.write_bytes(bytes(data))


def ca_and_leaf(tmp_path: Path, *, organisation: str = "Example Corp", expired: bool = False,
                key_usage: bool = True, eku: bool = True, aki: bool = True) -> tuple[Path, Path, Path]:
    """A root and an ES256 leaf with chosen defects; returns (root, chain, key) PEM paths."""
    now = dt.datetime.now(dt.timezone.utc)
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Root")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                           x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Signer")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400)).not_valid_after(now + dt.timedelta(days=400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    end = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=30)
    builder = (x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name)
               .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=300)).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
    leaf = builder.sign(root_key, hashes.SHA256())
    folder = tmp_path / f"ca-{organisation.replace(' ', '-')}-{expired}{key_usage}{eku}{aki}"
    folder.mkdir()
    (folder / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (folder / "chain.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder / "root.pem", folder / "chain.pem", folder / "key.pem"


@pytest.fixture(autouse=True)
def aimark_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the development identity out of the real user folder (one per test session)."""
    home = tmp_path_factory.getbasetemp() / "aimark-home"
    monkeypatch.setenv("AIMARK_HOME", str(home))
    return home


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 1-second 160x96 H.264 MP4."""
    return make_clip(tmp_path / "clip.mp4", width=160, height=96, frames=25)
