"""The ``stamp`` command, and the options the pipeline's commands share.

``verify`` (:mod:`aimark.cli.verification`) and the ``repository`` group
(:mod:`aimark.cli.repository`) live in modules of their own, so that
``aimark stamp``, run once per generated video, does not load the verdicts,
the resolvers' HTTP client, the report's fonts and the batch workers (0.4 s
of its start-up of 1.2 s).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

import watermark
from aimark.cli.output import (IDENTIFIER, emit_json, encoder_options, json_option, marking_force_option, progress,
                               quiet_option, user_errors)
from aimark.cli.provenance import generation_options, rights_options, signer_options
from aimark.settings import SETTINGS_ENV, Settings
from aimark.stamp import StampResult, Stamper

settings_option = click.option(
    "--settings", "settings_path", type=click.Path(dir_okay=False), envvar=SETTINGS_ENV,
    help=f"TOML file with the provider's defaults (env {SETTINGS_ENV}); see docs/pipeline.md.")
repository_option = click.option(
    "--repository", "repository_path", metavar="PATH|URL",
    help="Manifest repository: an SQLite file, a postgresql:// URL, or (for stamp) the https:// URL of an "
         "`aimark serve` to register through, with its store token in $AIMARK_REPOSITORY_TOKEN or the settings' "
         "[repository] token_file. Default: the settings' one, else <aimark home>/repository.sqlite.")
notices_option = click.option(
    "--notices", "notices_path", type=click.Path(dir_okay=False), metavar="REGISTRY",
    help="Rights holders' notice registry (SQLite file from `aimark notice add`). Default: the one beside "
         "the manifest repository, when that is an SQLite file.")


def load_settings(path: str | None, **overrides: Any) -> Settings:
    settings = Settings.load(path) if path else Settings()
    return settings.with_overrides(**overrides)


def _stamped_text(result: StampResult) -> str:
    lines = [f"Stamped {result.path} ({result.frames} frames in {result.seconds:.1f} s)",
             f"  identifier  {result.identifier} (watermark key {result.key_id})",
             f"  manifest    {result.manifest_id}",
             f"  signer      {result.signer.subject} ({result.signer.algorithm.upper()})",
             f"  AIGC label  {result.aigc.to_json()}",
             f"  notice      {result.notice or 'none'}",
             f"  registered  in {result.repository}"]
    if result.key_id == watermark.DEFAULT_KEY.key_id:
        lines.append("Note: the public default key marks 'AI-generated' for anyone to read; "
                     "use your own key (aimark keygen) for marks only you can read.")
    if result.signer.development:
        lines.append("Note: signed with untrusted development credentials.")
    return "\n".join(lines)


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@generation_options
@click.option("--id", "identifier", type=IDENTIFIER, help="64-bit identifier, 16 hex digits (default: random).")
@click.option("--notice/--no-notice", default=None,
              help="Draw the visible notice on the opening frames (default: as the profile says).")
@click.option("--profile", type=click.Choice(["global", "cn"]),
              help="Label profile: 'cn' draws 'AI生成' by default (GB 45438-2025). Default: global.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False),
              help="Watermark key file from `aimark keygen` (default: the settings' key, else the public key).")
@rights_options
@signer_options
@encoder_options
@settings_option
@repository_option
@marking_force_option
@json_option
@quiet_option
@user_errors
def stamp(input_path: str, output_path: str, author: str, model: str, model_version: str | None,
          organisation: str | None, identifier: str | None, created: dt.datetime | None, prompt_file: Any,
          notice: bool | None, profile: str | None, key_path: str | None, rights_holder: str | None,
          rights_statement: str | None, rights_terms: str | None, input_files: tuple[str, ...],
          expansion_file: Any, certificate: str | None,
          private_key: str | None, tsa_url: str | None, codec: str | None, crf: float | None,
          preset: str | None, keep_format: bool | None, settings_path: str | None,
          repository_path: str | None, force: bool, as_json: bool, quiet: bool) -> None:
    """Label a generated video in one pass: mark, AIGC label, signed manifest, registration.

    One decode and one encode of INPUT: the visible notice (if asked) and the
    invisible watermark are drawn in the same frame loop, China's AIGC label is
    written into OUTPUT's metadata, OUTPUT (MP4 or MOV) is signed with a C2PA
    manifest whose soft binding is the watermark identifier, and the manifest
    is registered in the manifest repository under that identifier, with the
    pictures' content fingerprint for the search by picture. An INPUT that
    already carries a watermark (of the key or the public key) is refused
    unless --force.

    \b
    Example:
      aimark stamp gen.mp4 stamped.mp4 --author "Ada Li" --model VidGen --model-version 2.1
    """
    if (certificate is None) != (private_key is None):
        raise click.UsageError("give --cert and --private-key together, or neither")
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    settings = load_settings(settings_path, organisation=organisation, profile=profile,
                         key=Path(key_path) if key_path else None, tsa_url=tsa_url,
                         certificate=Path(certificate) if certificate else None,
                         private_key=Path(private_key) if private_key else None,
                         repository=repository_path,
                         codec=codec, crf=crf, preset=preset, keep_format=keep_format,
                         rights_holder=rights_holder, rights_statement=rights_statement, rights_terms=rights_terms)
    Stamper.output(input_path, output_path, overwrite=force)  # a bad OUTPUT fails before any work
    frames = watermark.probe(input_path).frames or None
    with Stamper(settings) as stamper, progress("Stamping", frames, quiet) as advance:
        result = stamper.stamp(input_path, output_path, author=author, model=model, model_version=model_version,
                               identifier=identifier, created=created, notice=notice, progress=advance,
                               prompt=prompt_file.read() if prompt_file else None, inputs=input_files,
                               prompt_expansion=expansion_file.read() if expansion_file else None,
                               overwrite=force, force=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(_stamped_text(result))


COMMANDS = [stamp]
