"""Ownership in the manifest: who holds the copyright under which terms, and who contributed what."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import manifests
from _pipeline import home, platform_reencode  # noqa: F401  (fixture)
from aimark.cli import main
from aimark.errors import SettingsError
from aimark.report import html_report, text_report
from aimark.settings import Settings
from aimark.stamp import stamp
from aimark.verify import verify
from conftest import make_clip
from manifests.reading import manifest_store

TERMS = "https://acme.example/terms"


def _metadata(path: Path) -> dict:
    store = manifest_store(path)[0]
    active = store["manifests"][store["active_manifest"]]
    return {a["label"]: a["data"] for a in active["assertions"]}


def test_rights_and_contributions_in_standard_fields_and_our_assertion(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=10)
    (tmp_path / "prompt.txt").write_text("a red fox in snow", encoding="utf-8")
    (tmp_path / "expanded.txt").write_text("a red fox in deep snow, golden hour", encoding="utf-8")
    reference = make_clip(tmp_path / "reference.mp4", frames=2, seed=4)
    result = CliRunner().invoke(main, [
        "sign", str(source), str(tmp_path / "signed.mp4"), "--author", "Ada Li", "--model", "VidGen",
        "--model-version", "2.1", "--org", "ACME", "--rights-holder", "both", "--rights-terms", TERMS,
        "--prompt-file", str(tmp_path / "prompt.txt"), "--expansion-file", str(tmp_path / "expanded.txt"),
        "--input-file", str(reference)])
    assert result.exit_code == 0, result.output
    assertions = _metadata(tmp_path / "signed.mp4")
    metadata = assertions["cawg.metadata"]
    year = assertions["c2pa.actions.v2"]["actions"][0]["when"][:4]
    assert metadata["dc:rights"] == f"Copyright {year} Ada Li and ACME"
    assert metadata["xmpRights:Owner"] == ["Ada Li", "ACME"] and metadata["xmpRights:Marked"] is True
    assert metadata["xmpRights:WebStatement"] == TERMS
    assert metadata["@context"]["xmpRights"] == "http://ns.adobe.com/xap/1.0/rights/"
    generation = assertions["org.aimark.generation"]
    assert generation["rights"]["holder"] == "both"
    assert generation["contributions"]["user"] == {
        "name": "Ada Li", "prompt_digest": manifests.prompt_digest("a red fox in snow"),
        "input_digests": [manifests.file_digest(reference)]}
    assert generation["contributions"]["provider"] == {
        "name": "ACME", "model": "VidGen", "model_version": "2.1",
        "prompt_expansion_digest": manifests.prompt_digest("a red fox in deep snow, golden hour")}

    claims = manifests.inspect_file(tmp_path / "signed.mp4").claims
    assert (claims.rights_holder, claims.rights_owners, claims.rights_terms) == ("both", ("Ada Li", "ACME"), TERMS)
    assert claims.ownership() == f"both (Ada Li, ACME): Copyright {year} Ada Li and ACME; terms {TERMS}"
    assert claims.contributed() == "user: prompt, 1 input; provider: prompt expansion, model VidGen 2.1"
    shown = CliRunner().invoke(main, ["inspect", str(tmp_path / "signed.mp4")]).output
    assert f"Rights           {claims.ownership()}" in shown
    assert "Contributions    user: prompt, 1 input; provider: prompt expansion, model VidGen 2.1" in shown


def test_without_rights_nothing_is_claimed(tmp_path):
    signed = manifests.sign_file(make_clip(tmp_path / "gen.mp4", frames=5), tmp_path / "signed.mp4",
                                 manifests.GenerationDescription(author="Ada", model="VidGen"))
    metadata = _metadata(signed.path)["cawg.metadata"]
    assert not {"dc:rights", "xmpRights:Owner", "xmpRights:WebStatement"} & metadata.keys()
    claims = manifests.inspect_file(signed.path).claims
    assert claims.rights_holder is None and claims.ownership() is None
    assert claims.contributed() == "user: nothing recorded; provider: model VidGen"


@pytest.mark.parametrize("options, message", [
    (["--rights-holder", "provider"], "no organisation is named"),
    (["--rights-holder", "both"], "no organisation is named"),
    (["--rights-terms", TERMS], "needs a rights holder"),
    (["--rights-holder", "user", "--rights-terms", "acme.example/terms"], "is not an http(s) URL"),
    (["--rights-holder", "user", "--rights-statement", " "], "rights statement is empty"),
    (["--rights-holder", "owner"], "'owner' is not one of"),
])
def test_bad_rights_options_are_one_line_errors_and_no_output(tmp_path, options, message):
    source = make_clip(tmp_path / "gen.mp4", frames=5)
    result = CliRunner().invoke(main, ["sign", str(source), str(tmp_path / "out.mp4"), "--author", "Ada",
                                       "--model", "VidGen", *options])
    assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "out.mp4").exists()


def test_stamp_takes_the_rights_from_the_settings_and_verify_shows_them_after_stripping(tmp_path):
    (tmp_path / "provider.toml").write_text(
        f'organisation = "ACME"\n[rights]\nholder = "provider"\nstatement = "Owned by ACME under its terms"\n'
        f'terms = "{TERMS}"\n', encoding="utf-8")
    settings = Settings.load(tmp_path / "provider.toml")
    stamped = stamp(make_clip(tmp_path / "gen.mp4", frames=25), tmp_path / "stamped.mp4", author="Ada",
                    model="VidGen", settings=settings, prompt="a fox").path
    check = verify(stamped)
    assert check.manifest.claims.rights_owners == ("ACME",)
    line = f"Rights       provider (ACME): Owned by ACME under its terms; terms {TERMS}"
    assert line in text_report(check)
    assert "Owned by ACME under its terms" in html_report(check)
    stripped = verify(platform_reencode(stamped, tmp_path / "upload.mp4"))
    assert stripped.verdict.kind.code == "recovered" and line in text_report(stripped)
    assert stripped.to_dict()["recovered_claims"]["rights_holder"] == "provider"


def test_a_settings_rights_table_is_checked_on_load(tmp_path):
    (tmp_path / "bad.toml").write_text('[rights]\nholder = "everyone"\n', encoding="utf-8")
    with pytest.raises(manifests.DescriptionError, match="'everyone' is not one of"):
        Settings.load(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text('[rights]\nowner = "user"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown key"):
        Settings.load(tmp_path / "typo.toml")
