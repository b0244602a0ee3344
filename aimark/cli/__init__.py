"""The ``aimark`` command: a click group whose commands each make one library call."""

from __future__ import annotations

import click

from aimark import __version__
from aimark.cli import marking, pipeline, provenance


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aimark")
def main() -> None:
    """Label AI-generated videos and check them later.

    \b
    Example:
      aimark sample clip.mp4 && aimark embed clip.mp4 marked.mp4 && aimark detect marked.mp4
    """


for command in marking.COMMANDS:
    main.add_command(command)

for command in provenance.COMMANDS:
    main.add_command(command)

for command in pipeline.COMMANDS:
    main.add_command(command)
