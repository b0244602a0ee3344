"""One output path for every command: JSON for machines, text for people,
progress on stderr, and user errors as one line with exit status 2."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Iterator
from contextlib import contextmanager

import click

import manifests
import watermark
from aimark.errors import AimarkError

#: Errors a user can cause; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (watermark.WatermarkError, manifests.ManifestError, AimarkError)

#: Exit status for unusable input or settings.
EXIT_USAGE = 2


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the layers' user errors into ``Error: ...`` and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def emit_json(data: Any) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


@contextmanager
def progress(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr, shown only when stderr is a terminal.

    Yields a function that advances the bar by a number of steps.
    """
    if quiet or not sys.stderr.isatty():
        yield lambda steps=1: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar.update


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
