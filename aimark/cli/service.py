"""Commands of the resolution service: ``serve`` and the ``tokens`` group."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

import outputs
import watermark
from aimark.cli.output import emit_json, force_option, json_option, user_errors
from aimark.cli.pipeline import load_settings, repository_option, settings_option
from aimark.errors import AimarkError
from aimark.service import SCOPES, TokenStore
from aimark.service.app import CONFIG_ENV
from manifests.reading import load_trust_anchors
from manifests.database import redacted
from manifests.repository import default_path, open_repository

def _location(repository_path: str | None, settings_path: str | None) -> str:
    """The service's database: the option, else the settings', else the default SQLite file."""
    chosen = repository_path or load_settings(settings_path).repository or default_path()
    if isinstance(chosen, str) and chosen.startswith(("http://", "https://")):
        raise AimarkError(f"the service needs its database, not another service ({chosen}); "
                          "give an SQLite path or a postgresql:// URL")
    return str(chosen)


@click.command()
@repository_option
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Watermark key the byContent route detects with (repeatable; default: the settings' key, "
                   "else the public key). Keys never leave the service.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--reads", type=click.Choice(["anonymous", "token"]), default="anonymous", show_default=True,
              help="Whether lookups and manifest reads need a token with the fetch scope.")
@click.option("--trust-anchors", type=click.Path(dir_okay=False), metavar="PEM",
              help="Register only manifests signed under these roots (default: any valid signature).")
@click.option("--max-upload-mb", type=click.IntRange(1, 1 << 20), default=2048, show_default=True,
              help="Largest byContent upload, in MiB.")
@click.option("--decode-limit", type=click.FloatRange(1, 86400), default=300, show_default=True,
              help="Seconds a byContent upload may take to decode and analyse.")
@click.option("--uploads", type=click.IntRange(1, 64), default=2, show_default=True,
              help="byContent uploads analysed at once per worker (more get 503 and Retry-After).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes on the port (with PostgreSQL; SQLite serializes writes anyway).")
@settings_option
@user_errors
def serve(repository_path: str | None, key_paths: tuple[str, ...], host: str, port: int, reads: str,
          trust_anchors: str | None, max_upload_mb: int, decode_limit: float, uploads: int, workers: int,
          settings_path: str | None) -> None:
    """Serve the C2PA Soft Binding Resolution API over the manifest repository.

    Platforms look identifiers up (GET /matches/byBinding), upload videos for
    the provider's keys to detect (POST /matches/byContent) and fetch
    manifests (GET /manifests/{manifestId}); stamping workers register with a
    store token (POST /manifests). The OpenAPI document is at /openapi.json.
    Several processes may serve one PostgreSQL database.

    \b
    Examples:
      aimark serve                                         # SQLite, no setup
      aimark serve --repository postgresql://aimark@db/manifests --key provider.key --port 8080
    """
    import uvicorn  # the server only when serving

    settings = load_settings(settings_path)
    paths = [str(Path(p).resolve()) for p in key_paths or ((str(settings.key),) if settings.key else ())]
    keys = [watermark.Key.load(p) for p in paths]  # here, so a bad file is one error line before any worker starts
    options = {"repository": _location(repository_path, settings_path), "key_files": paths,
               "anonymous_reads": reads == "anonymous",
               "trust_anchors_file": str(Path(trust_anchors).resolve()) if trust_anchors else None,
               "max_upload_bytes": max_upload_mb << 20, "max_decode_seconds": decode_limit,
               "max_concurrent_uploads": uploads}
    if trust_anchors:
        load_trust_anchors(trust_anchors)
    with open_repository(options["repository"]) as repo:  # migrations once, and a clear error if unreachable
        TokenStore(repo.database)
    os.environ[CONFIG_ENV] = json.dumps(options)
    click.echo(f"Serving {redacted(options['repository'])} on http://{host}:{port} with {workers} worker(s) "
               f"(reads {reads}; byContent keys: {', '.join(k.key_id for k in keys) or 'the public key'}); "
               "OpenAPI at /openapi.json", err=True)
    uvicorn.run("aimark.service.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="warning", server_header=False)


@click.group()
def tokens() -> None:
    """Bearer tokens of the resolution service (stored hashed in its database).

    \b
    Example:
      aimark tokens add worker-1 --scope store --out worker-1.token
    """


@tokens.command(name="add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES),
              help="store: register manifests (stamping workers); fetch: read when reads need a token.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the token to this file (readable by you only) instead of printing it.")
@force_option
@repository_option
@settings_option
@user_errors
def add_token(name: str, scopes: tuple[str, ...], out_path: str | None, force: bool, repository_path: str | None,
              settings_path: str | None) -> None:
    """Make a token NAME with the given scopes; it is shown (or written) once, and only its hash is kept.

    \b
    Example:
      aimark tokens add worker-1 --scope store --out worker-1.token --repository postgresql://aimark@db/manifests
    """
    with open_repository(_location(repository_path, settings_path)) as repo:
        store = TokenStore(repo.database)
        token = store.create(name, scopes)
        if out_path is None:
            click.echo(token)
            return
        try:  # the one output path: owner-only, never over an existing file unless --force
            outputs.write_bytes(out_path, (token + "\n").encode("ascii"), overwrite=force, mode=0o600)
        except outputs.OutputError:
            store.revoke(name)  # a token nobody holds must not stay valid
            raise
    click.echo(f"Wrote token {name} ({', '.join(scopes)}) to {out_path}", err=True)


@tokens.command(name="list")
@repository_option
@settings_option
@json_option
@user_errors
def list_tokens(repository_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """List token names, scopes and creation times (never the tokens).

    \b
    Example:
      aimark tokens list --json
    """
    with open_repository(_location(repository_path, settings_path)) as repo:
        found = TokenStore(repo.database).tokens()
    if as_json:
        emit_json({"tokens": [token.to_dict() for token in found]})
        return
    for token in found:
        click.echo(f"{token.name:<24}{' '.join(token.scopes):<14}{token.created:%Y-%m-%d %H:%M:%S}")


@tokens.command()
@click.argument("name")
@repository_option
@settings_option
@user_errors
def revoke(name: str, repository_path: str | None, settings_path: str | None) -> None:
    """Revoke the token NAME: every service process refuses it from the next request on.

    \b
    Example:
      aimark tokens revoke worker-1
    """
    with open_repository(_location(repository_path, settings_path)) as repo:
        TokenStore(repo.database).revoke(name)
    click.echo(f"Revoked token {name}", err=True)


COMMANDS = [serve, tokens]
