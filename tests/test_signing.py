"""Signing: credentials, the reusable signer, atomic output and refusals."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from outputs import OutputPathError, SameFileError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from _provenance import aimark_home, ca_and_leaf, clip, make_clip  # noqa: F401  (fixtures)
from manifests import (
    CredentialError,
    GenerationDescription,
    MediaError,
    Signer,
    SigningError,
    ValidationState,
    check_video,
    create_test_credentials,
    development_credentials,
    inspect_file,
    load_credentials,
    sign_file,
)

DESCRIPTION = GenerationDescription(author="Ada Li", model="VidGen", model_version="2.1", organisation="ACME")


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in keep)


@pytest.mark.parametrize("algorithm", ["es256", "ps256", "ed25519"])
def test_signs_with_pem_files_of_each_algorithm(tmp_path, clip, algorithm):
    files = create_test_credentials(tmp_path / "certs", algorithm=algorithm)
    signer = Signer.from_files(files.certificate, files.private_key)
    result = sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, signer)
    assert result.signer.algorithm == algorithm
    report = inspect_file(tmp_path / "signed.mp4", trust_anchors=files.root)
    assert report.state is ValidationState.TRUSTED
    assert report.signer.algorithm.lower() == algorithm


def test_without_credentials_the_development_identity_signs(tmp_path, clip, aimark_home):
    result = sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION)
    assert result.signer.development
    assert result.signer.root == aimark_home / "development" / "root.pem"
    assert (aimark_home / "development" / "signer-key.pem").stat().st_mode & 0o077 == 0
    assert inspect_file(tmp_path / "signed.mp4").verdict == "valid but untrusted (development credentials)"


def test_development_identity_is_made_once_and_reused(tmp_path):
    first = development_credentials(tmp_path)
    second = development_credentials(tmp_path)
    assert first.chain_pem == second.chain_pem and first.development


def test_one_signer_signs_many_files_and_input_is_unchanged(tmp_path, clip):
    before = hashlib.sha256(clip.read_bytes()).hexdigest()
    signer = Signer.development()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        sign_file(clip, tmp_path / name, DESCRIPTION, signer)
        assert inspect_file(tmp_path / name).state is ValidationState.VALID
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == before
    assert leftovers(tmp_path, {"clip.mp4", "a.mp4", "b.mp4", "c.mp4"}) == []


def test_mov_and_audio_are_signed(tmp_path):
    mov = make_clip(tmp_path / "clip.mov", width=160, height=96, frames=25, audio=True, container_format="mov")
    sign_file(mov, tmp_path / "signed.mov", DESCRIPTION)
    assert inspect_file(tmp_path / "signed.mov").state is ValidationState.VALID


def test_callback_signer_for_keys_in_a_kms(tmp_path, clip):
    files = create_test_credentials(tmp_path / "certs")
    key = serialization.load_pem_private_key(files.private_key.read_bytes(), None)
    calls = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    signer = Signer.from_callback(kms_sign, files.certificate.read_bytes())
    sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, signer)
    assert calls
    assert inspect_file(tmp_path / "signed.mp4", trust_anchors=files.root).state is ValidationState.TRUSTED


def test_callback_failure_is_named(tmp_path, clip):
    files = create_test_credentials(tmp_path / "certs")

    def broken(data: bytes) -> bytes:
        raise PermissionError("kms: access denied for key alias/video")

    signer = Signer.from_callback(broken, files.certificate.read_bytes())
    with pytest.raises(SigningError, match="access denied"):
        sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, signer)
    assert leftovers(tmp_path, {"clip.mp4", "certs"}) == []


@pytest.mark.parametrize("defect, message", [
    ({"expired": True}, "expired"),
    ({"key_usage": False}, "key usage"),
    ({"eku": False}, "extended key usage"),
    ({"aki": False}, "Authority Key Identifier"),
])
def test_certificates_outside_the_profile_are_refused(tmp_path, defect, message):
    _, chain, key = ca_and_leaf(tmp_path, **defect)
    with pytest.raises(CredentialError, match=message):
        load_credentials(chain, key)


def test_key_not_matching_the_certificate_is_refused(tmp_path):
    _, chain, _ = ca_and_leaf(tmp_path, organisation="One")
    _, _, other_key = ca_and_leaf(tmp_path, organisation="Two")
    with pytest.raises(CredentialError, match="does not match"):
        Signer.from_files(chain, other_key)


@pytest.mark.parametrize("which", ["certificate", "key"])
def test_unreadable_pem_is_refused(tmp_path, which):
    _, chain, key = ca_and_leaf(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a PEM file\n")
    arguments = (garbage, key) if which == "certificate" else (chain, garbage)
    with pytest.raises(CredentialError, match="PEM"):
        Signer.from_files(*arguments)
    with pytest.raises(CredentialError, match="cannot read"):
        Signer.from_files(tmp_path / "missing.pem", key)


def test_encrypted_key_needs_the_passphrase_from_the_environment(tmp_path, monkeypatch):
    files = create_test_credentials(tmp_path / "certs")
    key = serialization.load_pem_private_key(files.private_key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"s3cret")))
    monkeypatch.delenv("AIMARK_KEY_PASSWORD", raising=False)
    with pytest.raises(CredentialError, match="AIMARK_KEY_PASSWORD"):
        load_credentials(files.certificate, encrypted)
    monkeypatch.setenv("AIMARK_KEY_PASSWORD", "s3cret")
    assert load_credentials(files.certificate, encrypted).algorithm == "es256"


def test_unreachable_time_stamp_authority_fails_cleanly(tmp_path, clip):
    # Port 9 on the loopback address: nothing listens, so the connection is refused at once,
    # when the signer is made: before any file is checked or written.
    with pytest.raises(SigningError, match="time-stamp authority 'http://127.0.0.1:9/tsa' cannot be reached"):
        Signer.development(tsa_url="http://127.0.0.1:9/tsa")
    assert leftovers(tmp_path, {"clip.mp4"}) == []
    with pytest.raises(SigningError, match="not an http"):
        Signer.development(tsa_url="timestamp.example.com")


@pytest.mark.parametrize("name", ["clip.webm", "clip.mkv", "clip.avi"])
def test_unsupported_containers_name_the_supported_ones(tmp_path, name):
    source = tmp_path / name
    source.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(100))
    with pytest.raises(MediaError, match=r"MP4 \(.mp4, .m4v\) and MOV"):
        sign_file(source, tmp_path / "out.mp4", DESCRIPTION)
    assert leftovers(tmp_path, {name}) == []


def test_webm_content_behind_an_mp4_name_is_refused(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", width=160, height=96, frames=25, container_format="matroska")
    with pytest.raises(MediaError, match="not MP4 or MOV"):
        sign_file(source, tmp_path / "out.mp4", DESCRIPTION)


@pytest.mark.parametrize("faststart", [False, True], ids=["index-last", "index-first"])
def test_truncated_video_is_refused_before_signing(tmp_path, faststart):
    source = make_clip(tmp_path / "full.mp4", width=160, height=96, frames=50, faststart=faststart)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    with pytest.raises(MediaError, match="corrupt or truncated|truncated"):
        sign_file(truncated, tmp_path / "out.mp4", DESCRIPTION)
    assert leftovers(tmp_path, {"full.mp4", "truncated.mp4"}) == []


@pytest.mark.parametrize("faststart", [False, True], ids=["index-last", "index-first"])
def test_a_video_the_caller_encoded_is_counted_not_decoded_and_still_refused_when_cut(tmp_path, faststart):
    """``aimark stamp`` signs its own encoder's output: the check counts the packets against the
    frames encoded instead of decoding them again, and still refuses a file that lacks any."""
    source = make_clip(tmp_path / "full.mp4", width=160, height=96, frames=50, faststart=faststart)
    assert check_video(source, encoded_frames=50) == check_video(source)
    with pytest.raises(MediaError, match="truncated: 50 of 51 video frames are in the file"):
        check_video(source, encoded_frames=51)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    with pytest.raises(MediaError, match="corrupt or truncated|truncated"):
        check_video(truncated, encoded_frames=50)


def test_output_must_not_be_the_input(tmp_path, clip):
    with pytest.raises(SameFileError, match="is the input"):
        sign_file(clip, tmp_path / "." / "clip.mp4", DESCRIPTION)
    with pytest.raises(MediaError, match="another container type"):
        sign_file(clip, tmp_path / "clip.mov", DESCRIPTION)


def test_already_signed_input_is_not_silently_replaced(tmp_path, clip):
    sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION)
    with pytest.raises(MediaError, match="already carries Content Credentials"):
        sign_file(tmp_path / "signed.mp4", tmp_path / "again.mp4", DESCRIPTION)


def test_missing_output_folder_is_named(tmp_path, clip):
    with pytest.raises(OutputPathError, match="does not exist"):
        sign_file(clip, tmp_path / "no" / "such" / "out.mp4", DESCRIPTION)


def test_test_credentials_are_not_overwritten_and_keys_are_private(tmp_path):
    files = create_test_credentials(tmp_path / "certs", organisation="ACME")
    assert files.private_key.stat().st_mode & 0o077 == 0
    assert files.root_key.stat().st_mode & 0o077 == 0
    assert load_credentials(files.certificate, files.private_key).development
    with pytest.raises(CredentialError, match="already exists"):
        create_test_credentials(tmp_path / "certs")
