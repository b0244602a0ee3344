"""One output path for every command: JSON for machines, text for people,
progress and notes on stderr, and user errors as one line with exit status 2."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

import manifests
import outputs
import watermark
from aimark.errors import AimarkError

#: Errors a user can cause; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (watermark.WatermarkError, manifests.ManifestError, AimarkError,
                                            outputs.OutputError)

#: Exit status for unusable input or settings.
EXIT_USAGE = 2
#: Exit status after Ctrl-C, as shells report it.
EXIT_INTERRUPTED = 130


def _note(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    click.echo(f"Note: {message}", err=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the layers' user errors into ``Error: ...`` and exit status 2.

    SIGTERM unwinds like Ctrl-C, so partial outputs are removed either way;
    warnings (a stream the output cannot carry) become ``Note:`` lines.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with outputs.terminate_gracefully(), warnings.catch_warnings():
                warnings.showwarning = _note
                warnings.simplefilter("always", watermark.DroppedStreamWarning)
                return command(*args, **kwargs)
        except USER_ERRORS as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except outputs.Terminated:
            click.echo("Terminated.", err=True)
            raise

    return wrapper


def emit_json(data: Any) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


class Progress:
    """Advances a progress bar on stderr; :meth:`echo` prints a line without gluing it to the bar."""

    def __init__(self, bar: Any = None) -> None:
        self._bar = bar

    def __call__(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def echo(self, line: str) -> None:
        """Print ``line`` on stdout: the bar's line is cleared first and the bar drawn again after."""
        if self._bar is not None:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        click.echo(line)
        if self._bar is not None:
            self._bar.render_progress()


@contextmanager
def progress(label: str, total: int | None, quiet: bool) -> Iterator[Progress]:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        yield Progress()
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield Progress(bar)


class IdentifierType(click.ParamType):
    """A 64-bit identifier: 16 hex digits in any case (``0x`` allowed), given on as lowercase."""

    name = "HEX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return watermark.format_identifier(watermark.parse_identifier(str(value)))
        except watermark.IdentifierError as error:
            self.fail(str(error), param, ctx)


IDENTIFIER = IdentifierType()

quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar on stderr.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object for machines.")
force_option = click.option("--force", "-f", is_flag=True,
                            help="Replace the output file if it exists (never an input: that is always refused).")
#: --force of the commands that mark (embed, stamp): it also allows marking over an existing mark.
marking_force_option = click.option(
    "--force", "-f", is_flag=True,
    help="Replace the output file if it exists (never an input: that is always refused), and mark a video "
         "that already carries a watermark (refused otherwise: a second mark hides who marked first).")


def encoder_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--codec, --crf, --preset and --keep-format: how the video is encoded (checked before any decoding)."""
    options = [
        click.option("--codec", help="Video encoder (default: libx264; libvpx-vp9 for .webm)."),
        click.option("--crf", type=float, help="Encoder quality, lower is better (default 18; libx264 0-51)."),
        click.option("--preset", help="x264/x265 speed preset (default medium)."),
        click.option("--keep-format", is_flag=True, default=None,
                     help="Keep the source's pixel format and size (10-bit, 4:4:4, odd sizes) instead of "
                          "8-bit 4:2:0 at an even size, which every browser plays."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
