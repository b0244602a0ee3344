"""The ``aimark`` command: a click group whose commands each make one library call."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from aimark import __version__
from aimark.cli.output import EXIT_USAGE

#: The module of ``aimark.cli`` each command lives in (its ``COMMANDS``), imported when the command
#: runs: ``aimark embed`` then loads the signal layer only, not the service, the HTTP client, the
#: report's fonts and the provenance layer (1.8 s of start-up before, about a third of the ffmpeg
#: command line's time on a 6-second 720p clip).
COMMAND_MODULES = {
    **dict.fromkeys(["keygen", "embed", "detect", "sample"], "marking"),
    **dict.fromkeys(["sign", "inspect", "propagate", "certs"], "provenance"),
    "stamp": "pipeline",
    "verify": "verification",
    "repository": "repository",
    **dict.fromkeys(["serve", "tokens"], "service"),
    "notice": "notices",
    "scan": "scan",
}


class _Commands(click.Group):
    """The command group: commands loaded on demand, and click's usage errors as one ``Error:`` line
    and exit 2, like every other."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMAND_MODULES:
            return None
        module = importlib.import_module(f"aimark.cli.{COMMAND_MODULES[name]}")
        return next(command for command in module.COMMANDS if command.name == name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()} (see 'aimark {_command(error)}--help')", err=True)
            sys.exit(EXIT_USAGE if isinstance(error, click.UsageError) else error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)


def _command(error: click.ClickException) -> str:
    context = getattr(error, "ctx", None)
    names = context.command_path.split()[1:] if context is not None else []
    return "".join(f"{name} " for name in names)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aimark")
def main() -> None:
    """Label AI-generated videos and check them later.

    stamp writes every label in one pass (invisible mark, AIGC metadata,
    signed C2PA manifest, repository record); verify reads them all back.
    embed/detect and sign/inspect work on one layer each.

    \b
    Example:
      aimark sample clip.mp4
      aimark stamp clip.mp4 stamped.mp4 --author "Ada Li" --model VidGen
      aimark verify stamped.mp4
    """
