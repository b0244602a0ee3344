"""The ``aimark`` command: a click group whose commands each make one library call."""

from __future__ import annotations

import sys
from typing import Any

import click

from aimark import __version__
from aimark.cli import marking, notices, pipeline, provenance, scan, service
from aimark.cli.output import EXIT_USAGE


class _Commands(click.Group):
    """The command group, with click's usage errors as one ``Error:`` line and exit 2, like every other."""

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


for command in marking.COMMANDS:
    main.add_command(command)

for command in provenance.COMMANDS:
    main.add_command(command)

for command in pipeline.COMMANDS:
    main.add_command(command)

for command in service.COMMANDS + notices.COMMANDS + scan.COMMANDS:
    main.add_command(command)
