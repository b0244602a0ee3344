"""The generation description and the manifest definition built from it."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from manifests import (DescriptionError, GenerationDescription, Permission, PictureFingerprint, TrainingMining, Use,
                       binding_value, identifier_from_binding, prompt_digest)
from manifests.manifest import (
    FINGERPRINT_ASSERTION,
    GENERATION_ASSERTION,
    TRAINED_ALGORITHMIC_MEDIA,
    WATERMARK_ALGORITHM,
    manifest_definition,
    propagation_definition,
)

WHEN = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone.utc)


def describe(**changes) -> GenerationDescription:
    fields = dict(author="Ada Li", model="VidGen", model_version="2.1", organisation="ACME",
                  created=WHEN, identifier="00c0ffee12345678")
    fields.update(changes)
    return GenerationDescription(**fields)


def assertions(definition: dict) -> dict[str, dict]:
    return {a["label"]: a for a in definition["assertions"]}


def test_created_action_says_trained_algorithmic_media_with_model_and_time():
    actions = assertions(manifest_definition(describe(), title="a.mp4"))["c2pa.actions"]["data"]["actions"]
    assert actions == [{
        "action": "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": "VidGen", "version": "2.1"},
        "when": "2026-03-01T12:30:00+00:00",
    }]


def test_author_and_organisation_go_in_cawg_metadata_not_creative_work():
    found = assertions(manifest_definition(describe(), title="a.mp4"))
    assert "stds.schema-org.CreativeWork" not in found
    metadata = found["cawg.metadata"]
    assert metadata["kind"] == "Json"  # CAWG requires JSON, c2pa-rs defaults to CBOR
    assert metadata["data"]["dc:creator"] == ["Ada Li"]
    assert metadata["data"]["dc:publisher"] == ["ACME"]
    assert metadata["data"]["dc:identifier"] == "00c0ffee12345678"


def test_organisation_is_optional():
    metadata = assertions(manifest_definition(describe(organisation=None), title="a.mp4"))["cawg.metadata"]
    assert "dc:publisher" not in metadata["data"]


def test_training_mining_defaults_to_the_stated_policy():
    entries = assertions(manifest_definition(describe(), title="a.mp4"))["cawg.training-mining"]["data"]["entries"]
    assert entries == {
        "cawg.data_mining": {"use": "notAllowed"},
        "cawg.ai_inference": {"use": "allowed"},
        "cawg.ai_training": {"use": "notAllowed"},
        "cawg.ai_generative_training": {"use": "notAllowed"},
    }


def test_each_training_mining_choice_can_be_set():
    policy = TrainingMining.parse(["ai_training=allowed", "data-mining=constrained:research only"])
    entries = assertions(manifest_definition(describe(training_mining=policy), title="a.mp4")
                         )["cawg.training-mining"]["data"]["entries"]
    assert entries["cawg.ai_training"] == {"use": "allowed"}
    assert entries["cawg.data_mining"] == {"use": "constrained", "constraint_info": "research only"}
    assert entries["cawg.ai_generative_training"] == {"use": "notAllowed"}


@pytest.mark.parametrize("choice", ["ai_training", "training=allowed", "ai_training=maybe",
                                    "ai_training=constrained"])
def test_bad_training_mining_choices_are_refused(choice):
    with pytest.raises(DescriptionError):
        TrainingMining.parse([choice])


def test_constraint_only_with_constrained():
    with pytest.raises(DescriptionError, match="constraint"):
        Permission(Use.ALLOWED, "only on Tuesdays")
    assert str(Permission.parse("constrained:see terms")) == "constrained:see terms"


def test_watermark_identifier_is_soft_binding_and_own_assertion_only_when_watermarked():
    found = assertions(manifest_definition(describe(watermarked=True), title="a.mp4"))
    assert found["c2pa.soft-binding"]["data"] == {
        "alg": WATERMARK_ALGORITHM, "blocks": [{"scope": {}, "value": "AMD/7hI0Vng="}]}  # 8 bytes, base64
    assert found[GENERATION_ASSERTION]["data"]["watermark"] == {
        "alg": WATERMARK_ALGORITHM, "identifier": "00c0ffee12345678"}
    assert FINGERPRINT_ASSERTION not in found
    unmarked = assertions(manifest_definition(describe(), title="a.mp4"))
    assert "c2pa.soft-binding" not in unmarked
    assert "watermark" not in unmarked[GENERATION_ASSERTION]["data"]


def test_the_key_and_the_fingerprint_travel_inside_the_signed_manifest():
    fingerprint = PictureFingerprint("org.aimark.fingerprint.1", bytes(range(128)), 640, 360)
    found = assertions(manifest_definition(describe(watermarked=True, watermark_key="6f2a8d0889d41834",
                                                    fingerprint=fingerprint), title="a.mp4"))
    assert found[GENERATION_ASSERTION]["data"]["watermark"]["key_id"] == "6f2a8d0889d41834"
    assert found[FINGERPRINT_ASSERTION]["data"] == {"alg": "org.aimark.fingerprint.1", "width": 640, "height": 360,
                                                   "value": base64.b64encode(bytes(range(128))).decode()}
    with pytest.raises(DescriptionError, match="picture size 0x360"):
        PictureFingerprint("org.aimark.fingerprint.1", b"x", 0, 360)


@pytest.mark.parametrize("identifier", ["00c0ffee12345678", "0000000000000000", "ffffffffffffffff"])
def test_binding_values_are_the_identifiers_bytes_in_base64(identifier):
    value = binding_value(identifier)
    assert base64.b64decode(value) == bytes.fromhex(identifier) and identifier_from_binding(value) == identifier


@pytest.mark.parametrize("value", ["", "AMD/7hI0Vg==", "AMD/7hI0Vng", "AMD_7hI0Vng=", "AMD/7hI0VngA", " AMD/7hI0Vng=",
                                   "AMD/7hI0Vng=\n", "ééé", "AAAAAAAAAAAAAAAA"])
def test_other_binding_values_are_refused(value):
    with pytest.raises(DescriptionError, match="not the standard base64 of 8 bytes"):
        identifier_from_binding(value)


def test_prompt_is_recorded_only_as_digest():
    digest = prompt_digest("a red fox in snow")
    own = assertions(manifest_definition(describe(prompt_digest=digest), title="a.mp4"))[GENERATION_ASSERTION]
    assert own["data"]["prompt_digest"] == digest
    assert digest.startswith("sha256:") and len(digest) == 71
    assert "red fox" not in str(manifest_definition(describe(prompt_digest=digest), title="a.mp4"))


def test_claim_generator_names_aimark_and_title_is_kept():
    definition = manifest_definition(describe(), title="out.mp4")
    assert definition["claim_generator_info"][0]["name"] == "aimark"
    assert definition["claim_generator_info"][0]["version"]
    assert definition["title"] == "out.mp4"


def test_model_version_is_optional():
    actions = assertions(manifest_definition(describe(model_version=None), title="a.mp4"))["c2pa.actions"]
    assert actions["data"]["actions"][0]["softwareAgent"] == {"name": "VidGen"}


@pytest.mark.parametrize("changes, message", [
    ({"author": " "}, "author"),
    ({"model": ""}, "model"),
    ({"identifier": "00C0FFEE12345678"}, "16 lowercase hex"),
    ({"identifier": "c0ffee"}, "16 lowercase hex"),
    ({"created": dt.datetime(2026, 3, 1)}, "time zone"),
    ({"prompt_digest": "a red fox"}, "sha256"),
])
def test_bad_descriptions_name_the_field(changes, message):
    with pytest.raises(DescriptionError, match=message):
        describe(**changes)


def test_identifier_defaults_to_random_64_bits():
    first, second = GenerationDescription(author="A", model="M"), GenerationDescription(author="A", model="M")
    assert first.identifier != second.identifier and len(first.identifier) == 16
    assert first.created.tzinfo is not None


def test_propagation_opens_the_parent_then_edits_metadata():
    definition = propagation_definition(title="p.mp4", propagator="VidShare", parent="parent")
    actions = assertions(definition)["c2pa.actions"]["data"]["actions"]
    assert actions[0] == {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
    assert actions[1]["action"] == "c2pa.edited.metadata"
    assert "VidShare" in actions[1]["description"]
