"""The ``verify`` command: one file with its report, or many on all cores.

A module of its own so that ``aimark stamp`` (:mod:`aimark.cli.pipeline`)
does not load what verification uses: the verdicts, the resolvers, the
report's fonts and the batch workers.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

import outputs
import watermark
from aimark.batch import VIDEO_SUFFIXES, BatchItem, expand, verify_many, worst_status
from aimark.cli.output import EXIT_USAGE, emit_json, force_option, json_option, progress, quiet_option, user_errors
from aimark.cli.pipeline import load_settings, notices_option, repository_option, settings_option
from aimark.notices import registry_beside
from aimark.report import html_report, text_report
from aimark.verdict import Kind
from aimark.verify import verify as verify_file

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


COMMANDS = [verify]
