"""The ``repository`` group: look into the manifest repository that ``aimark stamp`` fills.

A module of its own so that ``aimark stamp`` (:mod:`aimark.cli.pipeline`)
does not load what the listing uses: the verdicts' model names, and with
them the notice registry.
"""

from __future__ import annotations

import click

import outputs
from aimark.cli.output import IDENTIFIER, emit_json, force_option, json_option, user_errors
from aimark.cli.pipeline import load_settings, repository_option, settings_option
from aimark.remote import is_remote
from aimark.verdict import model_name
from manifests.repository import DatabaseRepository, Record, RepositoryError, open_repository


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


COMMANDS = [repository]
