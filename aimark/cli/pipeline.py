"""Commands of the one-pass pipeline: ``stamp``, ``verify`` and the ``repository`` group."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

import outputs
import watermark
from aimark.notices import registry_beside
from aimark.batch import VIDEO_SUFFIXES, BatchItem, expand, verify_many, worst_status
from aimark.cli.output import (EXIT_USAGE, IDENTIFIER, emit_json, encoder_options, force_option, json_option,
                               marking_force_option, progress, quiet_option, user_errors)
from aimark.cli.provenance import generation_options, rights_options, signer_options
from aimark.report import html_report, text_report
from aimark.settings import SETTINGS_ENV, Settings
from aimark.stamp import StampResult, Stamper
from aimark.verdict import Kind, model_name
from aimark.verify import verify as verify_file
from aimark.remote import is_remote
from manifests.repository import DatabaseRepository, Record, RepositoryError, open_repository

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


#: Width of the verdict column of batch lines: the longest verdict code, then two spaces at least.
_VERDICT_WIDTH = max(len(kind.code) for kind in Kind) + 2


def _batch_line(item: BatchItem) -> str:
    data = item.to_dict()
    if item.error:
        return f"{'error':<{_VERDICT_WIDTH}}{item.path}: {item.error}"
    who = " / ".join(part for part in (data["author"], data["model"]) if part)
    return f"{data['verdict']:<{_VERDICT_WIDTH}}{item.path}" + (f"  ({who})" if who else "")


@click.command()
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path())
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Watermark key file to detect with (repeatable); the public default key is always tried.")
@click.option("--trust-anchors", type=click.Path(dir_okay=False), metavar="PEM",
              help="PEM root certificates whose signatures count as trusted.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="HTML",
              help="Also write a self-contained HTML forensic report (one INPUT file only).")
@click.option("--json-lines", is_flag=True, help="Many files: one JSON object per line, in input order.")
@click.option("--exit-worst", is_flag=True,
              help="Many files: exit with the status of the worst outcome (2 unreadable, then 4, 3, 5, 0) "
                   "instead of 0 whenever every file was verified.")
@click.option("--resolver", "resolver_urls", metavar="URL", multiple=True,
              help="A provider's Soft Binding Resolution API to ask for identifiers the repository does not hold "
                   "(repeatable; also [verify] resolvers). Its manifest counts only when trusted (--trust-anchors), "
                   "bound to the mark and matching the pictures.")
@click.option("--send-content/--no-send-content", default=None,
              help="Upload the video to the resolvers when no key here reads its mark (default: off; uploading a "
                   "user's video is the platform's choice).")
@click.option("--send-evidence/--no-send-evidence", default=None,
              help="Send the resolvers key-independent evidence (the video's whitened frames summed, at 288 lines; "
                   "never the video) when no key here reads its mark; aimark resolvers only. Default: off.")
@click.option("--resolver-timeout", type=click.FloatRange(0.1, 600), metavar="SECONDS",
              help="Seconds to wait for each resolver request (default 10).")
@repository_option
@notices_option
@settings_option
@force_option
@json_option
@quiet_option
@user_errors
def verify(inputs: tuple[str, ...], key_paths: tuple[str, ...], trust_anchors: str | None, report_path: str | None,
           json_lines: bool, exit_worst: bool, resolver_urls: tuple[str, ...], send_content: bool | None,
           send_evidence: bool | None, resolver_timeout: float | None, repository_path: str | None,
           notices_path: str | None,
           settings_path: str | None, force: bool, as_json: bool, quiet: bool) -> None:
    """Say who made a video, whether it is AI-generated, and whether it is intact.

    Reads the C2PA manifest and validates it, detects the watermark with each
    --key (and the public default key) in one decode, resolves the identifier
    in the manifest repository, compares the pictures with the fingerprint
    registered at stamping, and cross-checks the layers.

    Several files or folders (videos found recursively) are verified on all
    cores, one line per file (--json-lines for JSON), with a progress bar.

    \b
    Exit status for one file (the verdict's family):
      0  labelled AI-generated and intact
      3  AI-generated, signed label stripped (recovered from the watermark, or watermark only)
      4  tampered: content changed since signing, manifest and watermark disagree,
         or the mark copied onto other pictures
      5  no AI label found
      2  INPUT or an option cannot be used
    For several files: 0 when every file was verified (verdicts are in the
    lines), 2 when any could not be; with --exit-worst, the worst status of all.

    \b
    Examples:
      aimark verify upload.mp4 --key provider.key --report upload.html
      aimark verify uploads/ --key provider.key --json-lines > verdicts.jsonl
      aimark verify upload.mp4 --resolver https://provider.example/sbr --trust-anchors provider-root.pem
    """
    settings = load_settings(settings_path, resolver_timeout=resolver_timeout, send_content=send_content,
                         send_evidence=send_evidence, resolvers=resolver_urls or None, trust_anchors=trust_anchors)
    key_paths = key_paths or ((str(settings.key),) if settings.key else ())
    repository = repository_path or settings.repository
    notices = notices_path or registry_beside(repository)
    trust_anchors = str(settings.trust_anchors) if settings.trust_anchors else None
    resolvers = settings.resolution()
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not json_lines
    if not single:
        if report_path or as_json:
            raise click.UsageError("--report and --json take one INPUT file; use --json-lines for many")
        files = expand(inputs)
        if not files:
            raise click.UsageError(f"no videos in {', '.join(inputs)} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
        statuses = []
        with progress("Verifying", len(files), quiet) as advance:
            for item in verify_many(files, key_paths=key_paths, trust_anchors=trust_anchors, repository=repository,
                                    resolvers=resolvers, notices=notices):
                statuses.append(EXIT_USAGE if item.error else item.result["exit_status"])
                advance.echo(json.dumps(item.to_dict(), default=str) if json_lines else _batch_line(item))
                advance(1)
        sys.exit(worst_status(statuses) if exit_worst else EXIT_USAGE if EXIT_USAGE in statuses else 0)
    keys = [watermark.Key.load(path) for path in key_paths]
    report = outputs.Output(report_path, overwrite=force, inputs=[inputs[0]]) if report_path else None
    with report or contextlib.nullcontext(), \
            progress("Verifying", watermark.probe(inputs[0]).frames or None, quiet) as advance:
        result = verify_file(inputs[0], keys=keys, trust_anchors=trust_anchors, repository=repository,
                             keyframes=report is not None, progress=advance, resolvers=resolvers,
                             notices=notices)
        if report is not None:
            report.write_text(html_report(result))
    if report is not None:
        click.echo(f"Wrote the report to {report.destination}", err=True)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(text_report(result))
    sys.exit(result.verdict.exit_status)


@click.group()
def repository() -> None:
    """Look into the manifest repository that `aimark stamp` fills.

    \b
    Example:
      aimark repository list --limit 5
    """


def _open(repository_path: str | None, settings_path: str | None) -> DatabaseRepository:
    """The repository to look into: an SQLite file or a PostgreSQL database (a service has no listing)."""
    location = repository_path or load_settings(settings_path).repository
    if is_remote(location):
        raise RepositoryError(f"{location} is a resolution service; look into its database instead "
                              "(--repository postgresql://... or the SQLite file it serves)")
    return open_repository(location)


@repository.command(name="list")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Newest records to show.")
@repository_option
@settings_option
@json_option
@user_errors
def list_records(limit: int, repository_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """List registered manifests, newest first.

    \b
    Example:
      aimark repository list --limit 5 --json
    """
    with _open(repository_path, settings_path) as repo:
        records = repo.records(limit=limit)
        location = repo.location
    if as_json:
        emit_json({"repository": location, "records": [record.to_dict() for record in records]})
        return
    click.echo(f"{len(records)} record(s) in {location}" + (" (newest first)" if records else ""))
    for record in records:
        click.echo(f"{record.identifier}  {record.registered:%Y-%m-%d %H:%M:%S}  {record.author}  "
                   f"{model_name(record.model, record.model_version)}")


def _record(repo: DatabaseRepository, identifier: str) -> Record:
    record = repo.get(identifier)
    if record is None:
        raise RepositoryError(f"identifier {identifier} is not in {repo.location}; "
                                   "see `aimark repository list`")
    return record


@repository.command()
@click.argument("identifier", metavar="ID", type=IDENTIFIER)
@repository_option
@settings_option
@json_option
@user_errors
def show(identifier: str, repository_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """Show the record registered for a watermark identifier.

    \b
    Example:
      aimark repository show 00c0ffee12345678
    """
    with _open(repository_path, settings_path) as repo:
        record = _record(repo, identifier)
    if as_json:
        emit_json(record.to_dict())
        return
    for name, value in record.to_dict().items():
        click.echo(f"{name:<18}{value if value is not None else '-'}")


@repository.command()
@click.argument("identifier", metavar="ID", type=IDENTIFIER)
@click.argument("output_path", metavar="FILE", type=click.Path(dir_okay=False))
@repository_option
@settings_option
@force_option
@json_option
@user_errors
def export(identifier: str, output_path: str, repository_path: str | None, settings_path: str | None,
           force: bool, as_json: bool) -> None:
    """Write the manifest store registered for ID to FILE (a sidecar .c2pa file).

    Any C2PA reader can validate it against the original video.

    \b
    Example:
      aimark repository export 00c0ffee12345678 manifest.c2pa
    """
    output = outputs.Output(output_path, overwrite=force)  # checked before the repository is opened
    with _open(repository_path, settings_path) as repo:
        record = _record(repo, identifier)
    with output:
        output.write_bytes(record.store)
    if as_json:
        emit_json({"output": output_path, "identifier": record.identifier, "manifest_id": record.manifest_id,
                   "size_bytes": len(record.store)})
    else:
        click.echo(f"Wrote {len(record.store):,} bytes of manifest store {record.manifest_id} to {output_path}")


COMMANDS = [stamp, verify, repository]
