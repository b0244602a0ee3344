"""The ``notice`` group: rights holders file, list, show and withdraw notices."""

from __future__ import annotations

from typing import Any

import click

from aimark.cli.output import emit_json, json_option, progress, quiet_option, user_errors
from aimark.cli.pipeline import load_settings, notices_option, settings_option
from aimark.notices import NoticeRegistry, registry_beside
from manifests.noticeregistry import Choice, NoticeError, RightsNotice, check_notice_id


class NoticeIdType(click.ParamType):
    """A notice id as `aimark notice add` prints it (``notice-`` and 12 hex digits)."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_notice_id(str(value).strip().lower())
        except NoticeError as error:
            self.fail(str(error), param, ctx)


NOTICE_ID = NoticeIdType()


def _registry(notices_path: str | None, settings_path: str | None) -> NoticeRegistry:
    """The registry named, else the one beside the settings' repository, else beside the default one."""
    return NoticeRegistry(notices_path or registry_beside(load_settings(settings_path).repository))


def _notice_text(notice: RightsNotice) -> str:
    return "\n".join(f"{name:<12}{value if value is not None else '-'}" for name, value in notice.to_dict().items())


@click.group()
def notice() -> None:
    """Rights holders' notices: opt a work out of AI training, or license it.

    A work is registered by its content fingerprint and SHA-256, never by
    keeping the video; `aimark scan` and `aimark verify` find it in copies
    that were re-encoded, downscaled, centre-cropped, excerpted or retimed.

    \b
    Example:
      aimark notice add film.mp4 --claimant "Studio A" --choice opt-out --contact rights@studio-a.example
    """


@notice.command()
@click.argument("work", metavar="WORK", type=click.Path(dir_okay=False))
@click.option("--claimant", required=True, help="Who gives notice: the rights holder or their agent.")
@click.option("--choice", required=True, type=click.Choice([c.value for c in Choice]),
              help="opt-out: do not use the work for AI training; license: use it under --terms.")
@click.option("--terms", metavar="URL", help="URL of the licence terms (required with --choice license).")
@click.option("--contact", metavar="EMAIL", help="E-mail address for questions about the notice.")
@notices_option
@settings_option
@json_option
@quiet_option
@user_errors
def add(work: str, claimant: str, choice: str, terms: str | None, contact: str | None, notices_path: str | None,
        settings_path: str | None, as_json: bool, quiet: bool) -> None:
    """File a notice for WORK, a video: its fingerprint and hash are kept, the video is not.

    Prints the notice's id, which `notice show` and `notice remove` take.

    \b
    Example:
      aimark notice add film.mp4 --claimant "Studio A" --choice license --terms https://studio-a.example/ai-licence
    """
    with _registry(notices_path, settings_path) as registry, progress("Fingerprinting", None, quiet) as advance:
        filed = registry.add(work, claimant=claimant, choice=choice, terms=terms, contact=contact, progress=advance)
        location = registry.location
    if as_json:
        emit_json({**filed.to_dict(), "registry": location})
    else:
        click.echo(f"Filed {filed.id}: {filed.choice.value} for '{filed.work}' ({filed.duration:.1f} s) by "
                   f"{filed.claimant}, in {location}")


@notice.command(name="list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Newest notices to show.")
@notices_option
@settings_option
@json_option
@user_errors
def list_notices(limit: int, notices_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """List filed notices, newest first.

    \b
    Example:
      aimark notice list --json
    """
    with _registry(notices_path, settings_path) as registry:
        filed, location = registry.list(limit=limit), registry.location
    if as_json:
        emit_json({"registry": location, "notices": [n.to_dict() for n in filed]})
        return
    click.echo(f"{len(filed)} notice(s) in {location}" + (" (newest first)" if filed else ""))
    for n in filed:
        click.echo(f"{n.id}  {n.registered:%Y-%m-%d %H:%M:%S}  {n.choice.value:<8} {n.claimant}  {n.work}"
                   + (f"  {n.terms}" if n.terms else ""))


@notice.command()
@click.argument("notice_id", metavar="ID", type=NOTICE_ID)
@notices_option
@settings_option
@json_option
@user_errors
def show(notice_id: str, notices_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """Show one notice.

    \b
    Example:
      aimark notice show notice-3f9a2c1b7d04
    """
    with _registry(notices_path, settings_path) as registry:
        found = registry.notice(notice_id)
    if as_json:
        emit_json(found.to_dict())
    else:
        click.echo(_notice_text(found))


@notice.command()
@click.argument("notice_id", metavar="ID", type=NOTICE_ID)
@notices_option
@settings_option
@json_option
@user_errors
def remove(notice_id: str, notices_path: str | None, settings_path: str | None, as_json: bool) -> None:
    """Withdraw a notice and forget its work's fingerprint.

    \b
    Example:
      aimark notice remove notice-3f9a2c1b7d04
    """
    with _registry(notices_path, settings_path) as registry:
        removed = registry.remove(notice_id)
    if as_json:
        emit_json({**removed.to_dict(), "removed": True})
    else:
        click.echo(f"Removed {removed.id} ({removed.choice.value} for '{removed.work}' by {removed.claimant})")


COMMANDS = [notice]
