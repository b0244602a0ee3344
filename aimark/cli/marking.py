"""Commands for the invisible mark: ``keygen``, ``embed``, ``detect``, ``sample``."""

from __future__ import annotations

from pathlib import Path

import click

import watermark
from watermark.detect import MAX_FALSE_ALARM
from aimark.cli.output import (IDENTIFIER, emit_json, encoder_options, force_option, json_option,
                               marking_force_option, progress, quiet_option, user_errors)
from aimark.sample import write_sample
from aimark.timeline import SPAN_LEGEND, timeline_of


def _load_key(path: str | None) -> watermark.Key:
    return watermark.DEFAULT_KEY if path is None else watermark.Key.load(path)


def _frame_count(path: str) -> int | None:
    return watermark.probe(path).frames or None


key_option = click.option("--key", "key_path", type=click.Path(dir_okay=False),
                          help="Key file from `aimark keygen` (default: the public default key).")


@click.command()
@click.argument("keyfile", type=click.Path(dir_okay=False))
@json_option
@user_errors
def keygen(keyfile: str, as_json: bool) -> None:
    """Write a new random secret key to KEYFILE (readable by you only).

    Keep it safe: it is needed to read your marks, and anyone holding it can
    forge them. An existing file is never overwritten.

    \b
    Example:
      aimark keygen ~/.config/aimark/provider.key
    """
    key = watermark.Key.generate()
    key.save(keyfile)
    if as_json:
        emit_json({"output": keyfile, "key_id": key.key_id})
    else:
        click.echo(f"Wrote key {key.key_id} to {keyfile}")


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@key_option
@click.option("--id", "identifier", type=IDENTIFIER, help="64-bit identifier, 16 hex digits (default: random).")
@click.option("--strength", type=click.FloatRange(0.1, 4.0), default=1.0, show_default=True,
              help="Mark amplitude relative to the tuned default.")
@encoder_options
@marking_force_option
@json_option
@quiet_option
@user_errors
def embed(input_path: str, output_path: str, key_path: str | None, identifier: str | None, strength: float,
          codec: str | None, crf: float | None, preset: str | None, keep_format: bool | None, force: bool,
          as_json: bool, quiet: bool) -> None:
    """Mark INPUT with an invisible identifier and write OUTPUT.

    Without --key the public default key is used: anyone can detect, forge
    and remove that mark, so it says 'AI-generated, by someone' but proves
    nothing about who made the video. Attribution needs your own key
    (aimark keygen). An INPUT that already carries a mark (of the key or the
    public key) is refused unless --force.

    \b
    Example:
      aimark embed generated.mp4 marked.mp4 --key provider.key --id 00c0ffee12345678
    """
    key = _load_key(key_path)
    defaults = watermark.EncoderSettings()
    with progress("Embedding", _frame_count(input_path), quiet) as advance:
        result = watermark.embed_file(input_path, output_path, key, identifier, strength=strength, codec=codec,
                                      crf=defaults.crf if crf is None else crf, preset=preset or defaults.preset,
                                      keep_format=bool(keep_format), progress=advance, overwrite=force,
                                      force=force)
    if as_json:
        emit_json({**result.to_dict(), "output": output_path})
    else:
        click.echo(result.identifier)


def _describe(detection: watermark.Detection, path: str, key_path: str | None) -> str:
    key_name = "the public default key" if key_path is None else f"key {detection.key_id} ({key_path})"
    lines = [f"File: {path}"]
    if detection.detected:
        lines.append(f"Watermark: detected with {key_name}")
        lines.append(f"Identifier: {detection.identifier or 'present but unreadable (too damaged to decode)'}")
        if detection.others:
            lines.append("Several identifiers (spliced, or copies mixed): " + "; ".join(
                f"{mark.identifier} over {mark.start:g}-{mark.end:g} s" for mark in detection.marks))
    else:
        lines.append(f"Watermark: not detected with {key_name}")
    lines.append(f"False-alarm probability: {detection.false_alarm_probability:.1e} "
                 f"(bound over {detection.hypotheses:,} alignments searched)")
    lines.append(f"Score: {detection.score:.2f} at scale {detection.scale:.3f}"
                 + (", mirrored" if detection.flipped else ""))
    if detection.spans:
        timeline = timeline_of(detection)
        lines.append(f"Timeline ({timeline.span_seconds:g} s per character; {SPAN_LEGEND}): {timeline.bar()}")
    lines.append(f"Frames analysed: {detection.frames_analyzed} in {detection.seconds:.2f} s")
    return "\n".join(lines)


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@key_option
@click.option("--max-false-alarm", type=click.FloatRange(1e-30, 0.5), default=MAX_FALSE_ALARM, show_default=True,
              help="Say 'detected' only when the false-alarm bound is at most this.")
@json_option
@quiet_option
@user_errors
def detect(input_path: str, key_path: str | None, max_false_alarm: float, as_json: bool, quiet: bool) -> None:
    """Look for the invisible mark in INPUT and read its identifier.

    Exit status is 0 whenever the analysis ran, marked or not; 2 when the
    input cannot be used.

    \b
    Example:
      aimark detect suspect.mp4 --key provider.key --json
    """
    key = _load_key(key_path)
    with progress("Detecting", _frame_count(input_path), quiet) as advance:
        detection = watermark.detect_file(input_path, key, max_false_alarm=max_false_alarm, progress=advance)
    if as_json:
        emit_json({"file": input_path, **detection.to_dict()})
    else:
        click.echo(_describe(detection, input_path, key_path))


@click.command()
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@click.option("--seconds", type=click.FloatRange(0.5, 60), default=5.0, show_default=True)
@force_option
@user_errors
def sample(output_path: str, seconds: float, force: bool) -> None:
    """Write a generated 720p sample clip (with a sound track) to OUTPUT.

    \b
    Example:
      aimark sample clip.mp4 && aimark embed clip.mp4 marked.mp4
    """
    write_sample(Path(output_path), seconds=seconds, overwrite=force)
    click.echo(f"Wrote {output_path}")


COMMANDS = [keygen, embed, detect, sample]
