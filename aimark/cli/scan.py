"""The ``scan`` command: one row per file of a dataset, with a decision a builder can filter on."""

from __future__ import annotations

import collections
import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import click

import outputs
from aimark.cli.output import EXIT_USAGE, force_option, progress, quiet_option, user_errors
from aimark.cli.pipeline import load_settings, notices_option, repository_option, settings_option
from aimark.notices import registry_beside
from aimark.rows import open_writer, pyarrow_modules, read_rows, row_format
from aimark.scaleout import ray_module, scan_local, scan_ray
from aimark.scan import Decision, Policy, ScanSettings
from aimark.sources import check_sources, paths

#: Width of the decision column of text lines ('exclude' and two spaces).
_DECISION_WIDTH = max(len(d.value) for d in Decision) + 2


def _line(row: dict[str, Any]) -> str:
    if row["error"]:
        return f"{'error':<{_DECISION_WIDTH}}{row['path']}: {row['error']}"
    return f"{row['decision']:<{_DECISION_WIDTH}}{row['path']}  ({row['reasons'][0]})"


def _done(out: Path | None, resume: bool) -> set[str]:
    """The paths already scanned without error in the output being resumed."""
    if not (resume and out is not None and out.exists()):
        return set()
    return {row["path"] for row in read_rows(out) if not row.get("error")}


@contextlib.contextmanager
def _rows_file(out_path: str | None, overwrite: bool, sources: tuple[str, ...]) -> Iterator[Any]:
    """The output's writer (None without --out); on Ctrl-C or SIGTERM the rows so far are kept, complete."""
    if out_path is None:
        yield None
        return
    format_name = row_format(out_path)
    if format_name == "parquet":
        pyarrow_modules()
    output = outputs.Output(out_path, overwrite=overwrite, inputs=[s for s in sources if Path(s).is_file()])
    with output:
        writer = open_writer(output.temporary, format_name)
        try:
            yield writer
        except (KeyboardInterrupt, outputs.Terminated):
            writer.close()
            output.publish()
            click.echo(f"Stopped; the rows so far are in {out_path}: continue with --resume", err=True)
            raise
        except BaseException:
            writer.close()
            raise
        writer.close()


@click.command()
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the rows to FILE as they come: .parquet, .jsonl or .csv (by extension).")
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Watermark key file to detect with (repeatable); the public default key is always tried.")
@click.option("--trust-anchors", type=click.Path(dir_okay=False), metavar="PEM",
              help="PEM root certificates whose signatures count as trusted.")
@click.option("--resolver", "resolver_urls", metavar="URL", multiple=True,
              help="A provider's resolution service to ask for the manifest of a watermark identifier the "
                   "repository does not hold (repeatable; the identifier is sent, never the video). Its manifest "
                   "counts only under --trust-anchors.")
@click.option("--resolver-timeout", type=click.FloatRange(0.1, 600), metavar="SECONDS",
              help="Seconds to wait for each resolver request (default 10).")
@repository_option
@notices_option
@click.option("--policy", type=click.Choice([p.value for p in Policy]), default=Policy.STRICT.value,
              show_default=True, help="Human-made or unlabelled content nobody gave notice about: "
                                      "strict sends it to review, permissive uses it.")
@click.option("--workers", type=click.IntRange(1), help="Worker processes (or Ray tasks in flight); "
                                                        "default: one per core.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run on Ray: a cluster's ADDRESS (e.g. auto, ray://head:10001), or a local instance "
                   "without one. Needs pip install 'aimark[ray]'.")
@click.option("--json-lines", is_flag=True, help="Print each row as one JSON object per line on stdout.")
@click.option("--resume", is_flag=True, help="Keep the rows already in --out and scan only the other files "
                                             "(files that failed are tried again).")
@settings_option
@force_option
@quiet_option
@user_errors
def scan(sources: tuple[str, ...], out_path: str | None, key_paths: tuple[str, ...], trust_anchors: str | None,
         resolver_urls: tuple[str, ...], resolver_timeout: float | None, repository_path: str | None, notices_path: str | None, policy: str, workers: int | None,
         ray_address: str | None, json_lines: bool, resume: bool, settings_path: str | None, force: bool,
         quiet: bool) -> None:
    """Sort a dataset's videos: generated or human, may they be trained on, has a rights holder objected.

    SOURCE is a video, a folder (searched recursively) or a list file
    (.txt, or .csv, .jsonl, .parquet with a 'path' column). Each file gets a
    row: its SHA-256 and duration, whether it is AI-generated and which
    signals say so, provider, model and author, the training permissions
    of its manifest (or of one recovered through its watermark), a matching
    rights holder's notice, who holds its rights, and a decision: use,
    exclude or review, with the reasons. A file that cannot be read gets a
    row with 'error'; the scan goes on. See docs/datasets.md for the rule.

    Exit status: 0 when every file was scanned, 2 when any could not be read
    or an option cannot be used.

    \b
    Examples:
      aimark scan videos/ --out rows.parquet
      aimark scan list.csv --key provider.key --out rows.parquet --resume --workers 8
      aimark scan s3-mount/shard-17.parquet --ray auto --out rows/shard-17.parquet
    """
    if resume and out_path is None:
        raise click.UsageError("--resume continues an --out file; name it")
    if resume and force:
        raise click.UsageError("--resume keeps the rows of --out, --force replaces them: give one")
    settings = load_settings(settings_path, resolvers=resolver_urls or None, resolver_timeout=resolver_timeout,
                             trust_anchors=trust_anchors)
    repository = repository_path or (str(settings.repository) if settings.repository else None)
    resolvers = replace(settings.resolution(), send_content=False, send_evidence=False)  # the identifier only
    options = ScanSettings(key_paths=key_paths or ((str(settings.key),) if settings.key else ()),
                           trust_anchors=str(settings.trust_anchors) if settings.trust_anchors else None,
                           repository=repository, notices=notices_path or registry_beside(repository),
                           policy=Policy(policy), resolvers=resolvers if resolvers.urls else None)
    options.check()
    check_sources(sources)
    if ray_address is not None:
        ray_module()
    out = Path(out_path) if out_path else None
    done = _done(out, resume)
    total = sum(1 for path in paths(sources) if path not in done)
    counts: collections.Counter = collections.Counter()
    with _rows_file(out_path, resume or force, sources) as writer, \
            progress("Scanning", total, quiet) as advance:
        if writer is not None and done:
            for row in read_rows(out):
                if not row.get("error"):
                    writer.write(row)
        todo = (path for path in paths(sources) if path not in done)
        rows = (scan_ray(todo, options, address=ray_address or None, workers=workers) if ray_address is not None
                else scan_local(todo, options, workers=workers))
        for row in rows:
            data = row.to_dict()
            counts["error" if row.error else row.decision.value] += 1
            if writer is not None:
                writer.write(data)
            if json_lines:
                advance.echo(json.dumps(data, ensure_ascii=False))
            elif writer is None:
                advance.echo(_line(data))
            advance(1)
    parts = [f"{counts[name]} {name}" for name in ("use", "exclude", "review") if counts[name]]
    parts += [f"{counts['error']} could not be read"] if counts["error"] else []
    kept = f" ({len(done)} already in {out_path})" if done else ""
    click.echo(f"Scanned {sum(counts.values())} file(s){kept}" + (f": {', '.join(parts)}" if parts else "")
               + (f"; rows in {out_path}" if out_path else ""), err=True)
    sys.exit(EXIT_USAGE if counts["error"] else 0)


COMMANDS = [scan]
