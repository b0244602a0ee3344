"""Reports of a verification: compact text for the terminal, a self-contained HTML page for people.

The HTML page is one file with nothing to fetch (styles inline, the score
chart as inline SVG, key frames as base64 JPEG), so it can be archived,
mailed or attached to a notice-and-action request and read without aimark.
"""

from __future__ import annotations

import watermark
from aimark.verify import Timeline, Verification

_LEGEND = "█ marked  ▒ weak  · unmarked  ? too short to tell"
_NO_TIME_CODE = "The order of spans cannot be checked: the mark carries no time code."


def _model(verification: Verification) -> str:
    verdict = verification.verdict
    parts = [verdict.author or "unknown author"]
    if verdict.model:
        parts.append(f"with {verdict.model}")
    if verdict.created:
        parts.append(f"created {verdict.created}")
    return ", ".join(parts)


def _key_name(key_id: str) -> str:
    return f"{key_id} (public default key)" if key_id == watermark.DEFAULT_KEY.key_id else key_id


def _timeline_lines(timeline: Timeline) -> list[str]:
    bar = timeline.bar()
    end = f"{timeline.span_seconds * len(bar):g} s"
    return [f"Timeline     {bar}   ({timeline.span_seconds:g} s per character; {_LEGEND})",
            f"             0 s{end.rjust(max(len(bar) - 3, len(end)))}",
            "             " + ("Unmarked: " + ", ".join(f"{a:g}-{b:g} s" for a, b in timeline.unmarked)
                               if timeline.unmarked else "Every span long enough to tell carries the mark."),
            "             " + _NO_TIME_CODE]


def text_report(verification: Verification) -> str:
    """The verification as a few dozen lines for a terminal.

    Examples
    --------
    >>> print(text_report(verify("upload.mp4")))  # doctest: +SKIP
    File         upload.mp4 (h264 640x360 yuv420p, 10.0 s, 250 frames)
    Verdict      AI-generated: manifest stripped, recovered from the watermark
    ...
    """
    v, facts = verification, verification.file
    lines = [f"File         {facts.path} ({facts.codec} {facts.width}x{facts.height} {facts.pixel_format}, "
             f"{facts.duration:.1f} s, {facts.frames} frames)",
             f"Verdict      {v.verdict.kind.title}"]
    if v.verdict.author or v.verdict.model:
        lines.append(f"Made by      {_model(v)}")
    lines += ["", "Reasons"]
    for reason in v.verdict.reasons:
        lines += [f"  - {reason.finding}", f"      {reason.evidence}"]
    lines.append("")
    if v.manifest is None:
        lines.append("Manifest     not readable from this container (C2PA needs MP4 or MOV)")
    else:
        lines.append(f"Manifest     {v.manifest.verdict if v.manifest.manifest_present else 'absent'}")
        if v.manifest.signer:
            lines.append(f"Signer       {v.manifest.signer}")
    lines.append(f"AIGC label   {v.aigc.to_json() if v.aigc else 'absent'}")
    for detection in v.detections:
        state = (f"detected, identifier {detection.identifier or 'unreadable'}" if detection.detected
                 else "not detected")
        lines.append(f"Watermark    key {_key_name(detection.key_id)}: {state} (score {detection.score:.1f}, "
                     f"false-alarm bound {detection.false_alarm_probability:.1e})")
    if v.record is not None:
        lines.append(f"Repository   {v.record.identifier} -> {v.record.manifest_id} (registered "
                     f"{v.record.registered:%Y-%m-%d %H:%M} UTC in {v.repository})")
    elif v.detection is not None:
        lines.append(f"Repository   no record for the identifier ({v.repository or 'no repository on this machine'})")
    if v.fingerprint is not None:
        lines.append(f"Fingerprint  {v.fingerprint.matching} of {v.fingerprint.compared} seconds match the "
                     "pictures registered at stamping")
    if v.timeline is not None:
        lines += _timeline_lines(v.timeline)
    lines.append(f"Exit status  {v.verdict.exit_status} ({v.verdict.kind.family.name.lower()})")
    return "\n".join(lines)
