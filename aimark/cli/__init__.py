"""The ``aimark`` command: a click group whose commands each make one library call."""

from __future__ import annotations

import click

from aimark import __version__
from aimark.cli import marking, pipeline, provenance


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
