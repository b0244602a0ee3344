"""Reports of a verification: compact text for the terminal, a self-contained HTML page for people.

The HTML page is one file with nothing to fetch (styles inline, the score
chart as inline SVG, key frames as base64 JPEG), so it can be archived,
mailed or attached to a notice-and-action request and read without aimark.
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTFont

import manifests
import outputs
import watermark
from aimark import __version__
from aimark.verdict import model_name
from aimark.timeline import SPAN_LEGEND, WEAK_SCORE, Timeline
from aimark.verify import Verification
from manifests.reading import format_time
from manifests.repository import Record, stored_disclosures
from watermark.fingerprint import MATCH_CORRELATION

_NO_TIME_CODE = "The order of spans cannot be checked: the mark carries no time code."


def _model(verification: Verification) -> str:
    verdict = verification.verdict
    parts = [verdict.author or "unknown author"]
    if verdict.model:
        parts.append(f"with {verdict.model}")
    if verdict.created:
        parts.append(f"created {format_time(verdict.created)}")
    return ", ".join(parts)


#: What 'Claimed by' means, beside every claimed author the reports show.
_CLAIM_NOTE = "a claim the evidence contradicts, not the author"
#: The public key's limits, beside every mark of it the reports show.
PUBLIC_KEY_NOTE = ("public-key mark: 'AI-generated, by someone'; it proves nothing about who, "
                   "and anyone can remove it")


def _key_name(key_id: str) -> str:
    return f"{key_id} (public default key)" if key_id == watermark.DEFAULT_KEY.key_id else key_id


def _timeline_lines(timeline: Timeline) -> list[str]:
    bar = timeline.bar()
    end = f"{timeline.span_seconds * len(bar):g} s"
    return [f"Timeline     {bar}   ({timeline.span_seconds:g} s per character; {SPAN_LEGEND})",
            f"             0 s{end.rjust(max(len(bar), len(end) + 4) - 3)}",
            "             " + ("Unmarked: " + ", ".join(f"{a:g}-{b:g} s" for a, b in timeline.unmarked)
                               if timeline.unmarked else "Every span long enough to tell carries the mark."),
            "             " + _NO_TIME_CODE] + _pieces_lines(timeline)


def _pieces_lines(timeline: Timeline) -> list[str]:
    """Which identifier each stretch reads, when the spans read more than one (a splice)."""
    pieces = timeline.pieces()
    if len({identifier for identifier, _, _ in pieces}) < 2:
        return []
    return ["             Identifiers: " + "; ".join(f"{i} {a:g}-{b:g} s" for i, a, b in pieces)]


def _picture_bar(correlations: list[float | None], group: int) -> str:
    """One character per ``group`` periods (as many as a timeline character spans): any differing one shows."""
    bar = []
    for start in range(0, len(correlations), max(1, group)):
        values = [c for c in correlations[start:start + max(1, group)] if c is not None]
        bar.append("-" if not values else "█" if min(values) >= MATCH_CORRELATION else "·")
    return "".join(bar)


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
    if v.verdict.claimed_author:
        lines.append(f"Claimed by   {v.verdict.claimed_author} ({_CLAIM_NOTE})")
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
    if v.detection is not None and v.detection.key_id == watermark.DEFAULT_KEY.key_id:
        lines.append(f"             {PUBLIC_KEY_NOTE}")
    source = next((r.resolver for r in v.resolutions if r.accepted), v.repository)
    if v.record is not None:
        lines.append(f"Repository   {v.record.identifier} -> {v.record.manifest_id} (registered "
                     f"{format_time(v.record.registered)} in {source})")
    elif v.detection is not None:
        lines.append(f"Repository   no record for the identifier ({v.repository or 'no repository on this machine'})")
    for resolution in v.resolutions:
        answer = (f"believed, {resolution.manifest_id}" if resolution.accepted
                  else f"not believed: {resolution.refused}")
        lines.append(f"Resolver     {resolution.resolver} ({resolution.method}): {answer}")
    for found in v.registered:
        lines.append(f"By picture   {found.describe()}")
    if v.recovered is not None:
        c = v.recovered
        lines.append(f"Registered   manifest claims {c.author}, {model_name(c.model, c.model_version)}"
                     f", {c.organisation or 'no organisation'}, notice {c.visible_notice or 'none'}; "
                     + ", ".join(f"{k} {u}" for k, u in c.training_mining.items()))
    claims = (v.manifest.claims if v.manifest else None) or v.recovered
    if claims is not None and claims.ownership():
        lines.append(f"Rights       {claims.ownership()}")
    if claims is not None and claims.contributed():
        lines.append(f"Contributed  {claims.contributed()}")
    pictures = []
    if v.fingerprint is not None:
        lines.append(f"Fingerprint  {v.fingerprint.matching} of {v.fingerprint.compared} seconds match the "
                     "pictures registered at stamping")
        width = v.timeline.span_seconds if v.timeline is not None else v.fingerprint.period
        pictures = [f"Pictures     {_picture_bar(v.fingerprint.correlations, round(width / v.fingerprint.period))}"
                    f"   (per {width:g} s against that fingerprint; █ same  · different  - flat)"]
    timeline = _timeline_lines(v.timeline) if v.timeline is not None else []
    lines += timeline[:1] + pictures + timeline[1:]
    lines.append(f"Exit status  {v.verdict.exit_status} ({v.verdict.kind.family.name.lower()})")
    return "\n".join(lines)


# --- the HTML page -------------------------------------------------------------

_COLOURS = {"intact": "#1b5e20", "stripped": "#8d6e00", "tampered": "#b71c1c", "unlabelled": "#424242"}
_SPAN_COLOURS = {"marked": "#2e7d32", "weak": "#f9a825", "unmarked": "#c62828", "short": "#9e9e9e"}
_STYLE = """
body{font:15px/1.45 'aimark Notice Sans',system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;
  margin:0;color:#212121;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{color:#fff;padding:16px 20px;border-radius:8px} .verdict p{margin:4px 0 0}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5;width:28%}
code,.mono{font-family:'aimark Notice Sans',ui-monospace,Menlo,Consolas,monospace;font-size:13px;
  word-break:break-all}
ul.reasons li{margin-bottom:6px} .evidence{color:#555;font-size:13px}
.frames{display:flex;flex-wrap:wrap;gap:12px} figure{margin:0;background:#fff;border:1px solid #e0e0e0;padding:6px}
figure img{display:block;max-width:520px;height:auto} figcaption{font-size:12px;color:#555;max-width:520px}
.ok{color:#1b5e20} .bad{color:#b71c1c} footer{margin-top:32px;font-size:12px;color:#757575}
"""


def font_face(text: str) -> str:
    """CSS ``@font-face`` with the notice's bundled font, cut to the characters of ``text`` beyond ASCII.

    A reader's machine often has no Chinese font ('AI生成' would show as
    boxes); the subset keeps the self-contained page small, and its
    ``unicode-range`` leaves Latin text to the system's own fonts.
    """
    font = TTFont(manifests.notice.DEFAULT_FONT)
    covered = font.getBestCmap()
    wanted = sorted({ord(char) for char in text if ord(char) > 0x7F and ord(char) in covered})
    if not wanted:
        return ""
    subsetter = Subsetter(Options(hinting=False, layout_features=["kern", "palt"], name_IDs=[1, 2]))
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    ranges = ",".join(f"U+{code:04X}" for code in wanted)
    return ("@font-face{font-family:'aimark Notice Sans';src:url(data:font/otf;base64,"
            f"{base64.b64encode(data.getvalue()).decode('ascii')}) format('opentype');unicode-range:{ranges}}}")


def _e(value: object) -> str:
    return html.escape("-" if value is None or value == "" else str(value))


def _table(rows: list[tuple[str, object]], *, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td{cls}>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _score_chart(timeline: Timeline, duration: float, correlations: list[float | None] | None) -> str:
    """Inline SVG: the mark's score per span (coloured by state) and, below, the fingerprint per second."""
    width, height, left, bottom = 900, 240, 70, 30
    plot_w, plot_h = width - left - 24, 150  # room for the last time label
    span_end = max([duration] + [span.end for span in timeline.spans])
    top = max([10.0] + [span.score for span in timeline.spans]) * 1.1

    def x(t: float) -> float:
        return left + plot_w * t / span_end

    def y(score: float) -> float:
        return 10 + plot_h * (1 - max(0.0, score) / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="watermark score over time">',
             f'<rect x="{left}" y="10" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#bdbdbd"/>']
    for span, state in zip(timeline.spans, timeline.states()):
        if state == "unmarked":  # a score near zero draws no bar: shade the whole span instead
            parts.append(f'<rect x="{x(span.start):.1f}" y="10" width="{x(span.end) - x(span.start):.1f}" '
                         f'height="{plot_h}" fill="{_SPAN_COLOURS[state]}" fill-opacity="0.18"/>')
        parts.append(f'<rect x="{x(span.start) + 1:.1f}" y="{y(span.score):.1f}" '
                     f'width="{max(1.0, x(span.end) - x(span.start) - 2):.1f}" '
                     f'height="{10 + plot_h - y(span.score):.1f}" fill="{_SPAN_COLOURS[state]}">'
                     f'<title>{span.start:g}-{span.end:g} s: score {span.score:.1f}, {state}'
                     + (f", identifier {span.identifier}" if span.identifier else "") + '</title></rect>')
    weak = y(WEAK_SCORE)
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{weak:.1f}" y2="{weak:.1f}" stroke="#212121" '
                 'stroke-dasharray="4 3"/>')
    for tick in range(0, int(top) + 1, max(1, int(top) // 5)):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick}</text>')
    step = max(1, round(span_end / 10))
    for second in range(0, int(span_end) + 1, step):
        parts.append(f'<text x="{x(second):.1f}" y="{height - 44}" font-size="11" '
                     f'text-anchor="middle">{second} s</text>')
    parts.append(f'<text x="12" y="{10 + plot_h / 2}" font-size="11" transform="rotate(-90 12 {10 + plot_h / 2})" '
                 'text-anchor="middle">mark score</text>')
    if correlations is not None:
        row_y = height - bottom
        parts.append(f'<text x="{left - 6}" y="{row_y + 12}" font-size="11" text-anchor="end">pictures</text>')
        for second, value in enumerate(correlations):
            colour = "#e0e0e0" if value is None else ("#2e7d32" if value >= MATCH_CORRELATION else "#c62828")
            label = "flat, not compared" if value is None else f"correlation {value:.2f}"
            parts.append(f'<rect x="{x(second) + 1:.1f}" y="{row_y}" width="{max(1.0, x(1) - x(0) - 2):.1f}" '
                         f'height="16" fill="{colour}"><title>{second}-{second + 1} s: {label}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _jpeg(rgb: np.ndarray) -> str:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _claims_table(c: manifests.Claims) -> str:
    return _table([("AI-generated", f"{'yes' if c.ai_generated else 'no'} ({c.digital_source_type})"),
                   ("Author", c.author), ("Model", model_name(c.model, c.model_version)),
                   ("Organisation", c.organisation), ("Created", format_time(c.created)),
                   ("Identifier", c.identifier), ("Watermark (soft binding)", c.watermark_identifier),
                   ("Training and mining", ", ".join(f"{k} {u}" for k, u in c.training_mining.items())),
                   ("Prompt digest", c.prompt_digest), ("Visible notice", c.visible_notice),
                   ("Rights", c.ownership()), ("Contributions", c.contributed()),
                   ("Claim generator", c.claim_generator)])


def _disclosure_table(items: tuple[manifests.Disclosure, ...]) -> str:
    return "<table><tr><th>Rule</th><th>Item</th><th>Found</th></tr>" + "".join(
        f"<tr><td>{_e(d.regime)}</td><td>{_e(d.item)}</td><td class=\"{'ok' if d.found else 'bad'}\">"
        f"{'yes' if d.found else 'no'}: {_e(d.detail)}</td></tr>" for d in items) + "</table>"


#: Row names of the repository record, in the order shown.
_RECORD_ROWS = {"identifier": "Watermark identifier", "manifest_id": "Manifest", "key_id": "Watermark key",
                "registered": "Registered", "author": "Author", "model": "Model", "model_version": "Model version",
                "organisation": "Organisation", "created": "Created", "size": "Stamped picture size",
                "store_bytes": "Manifest store",
                "store_sha256": "Manifest store SHA-256", "fingerprint_bytes": "Fingerprint"}


def _record_rows(record: Record) -> list[tuple[str, object]]:
    data = record.to_dict()
    data["registered"], data["created"] = format_time(record.registered), format_time(record.created)
    data["key_id"] = _key_name(record.key_id)
    data["store_bytes"] = f"{len(record.store):,} bytes"
    data["fingerprint_bytes"] = f"{len(record.fingerprint):,} bytes ({len(record.fingerprint) // 64} s)"
    data["size"] = f"{record.width}x{record.height}"
    return [(label, data[name]) for name, label in _RECORD_ROWS.items()]


def _drawable(text: str) -> bool:
    """Whether the bundled font can draw a declared notice (a custom one may need another font)."""
    try:
        manifests.Notice(text)
    except manifests.ManifestError:
        return False
    return True


def _frames(verification: Verification) -> str:
    """Key frames; the first carries the outline of where a declared notice is drawn by default."""
    claims = (verification.manifest.claims if verification.manifest else None) or verification.recovered
    declared = claims.visible_notice if claims else None
    facts = verification.file
    figures = []
    for frame in verification.keyframes:
        rgb = frame.rgb.copy()
        caption = f"{frame.time:.2f} s"
        if declared and frame.time < 2.0 and _drawable(declared):
            over = manifests.Notice(declared).overlay(facts.width, facts.height)
            scale = rgb.shape[1] / facts.width
            h, w = over.rgba.shape[:2]
            corner = (round(over.x * scale), round(over.y * scale))
            cv2.rectangle(rgb, corner, (round((over.x + w) * scale), round((over.y + h) * scale)), (255, 0, 255), 2)
            caption += f": magenta outline = where the declared notice {declared!r} sits (default position)"
        figures.append(f'<figure><img src="{_jpeg(rgb)}" alt="frame at {frame.time:.2f} s">'
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
    return '<div class="frames">' + "".join(figures) + "</div>" if figures else "<p>No key frames kept.</p>"


def html_report(verification: Verification) -> str:
    """A self-contained HTML page of the verification, readable without aimark.

    Parameters
    ----------
    verification : Verification
        From :func:`aimark.verify.verify`, with ``keyframes=True`` for the pictures.

    Returns
    -------
    str
        The page: inline styles, the score chart as inline SVG, key frames as base64 JPEG.

    Examples
    --------
    >>> Path("report.html").write_text(html_report(verify("upload.mp4", keyframes=True)))  # doctest: +SKIP
    """
    v, facts, verdict = verification, verification.file, verification.verdict
    family = verdict.kind.family.name.lower()
    body = [f'<div class="verdict" style="background:{_COLOURS[family]}"><h1>{_e(verdict.kind.title)}</h1>']
    if verdict.author or verdict.model:
        body.append(f"<p>Made by {_e(_model(v))}</p>")
    if verdict.claimed_author:
        body.append(f"<p>Claimed by {_e(verdict.claimed_author)} ({_CLAIM_NOTE})</p>")
    body.append(f"<p>File <code style=\"color:#fff\">{_e(facts.path)}</code> · verdict <b>{_e(verdict.kind.code)}</b>"
                f" · family {_e(family)} (exit status {verdict.exit_status})</p></div>")
    body.append("<h2>Why</h2><ul class=\"reasons\">" + "".join(
        f"<li>{_e(r.finding)}<br><span class=\"evidence\">evidence: {_e(r.evidence)}</span></li>"
        for r in verdict.reasons) + "</ul>")

    body.append("<h2>Content Credentials (C2PA manifest)</h2>")
    report = v.manifest
    if report is None:
        body.append("<p>This container cannot carry a C2PA manifest (MP4 and MOV can).</p>")
    else:
        body.append(_table([("Manifest", f"present ({report.manifests})" if report.manifest_present else "absent"),
                            ("Validation", report.verdict), ("Signer", report.signer)]))
        if report.claims:
            body.append("<h3>Claims" + (" (not verified: the manifest is invalid)" if
                                        report.state is manifests.ValidationState.INVALID else "") + "</h3>")
            body.append(_claims_table(report.claims))
        if report.reasons:
            body.append("<h3>Validation reasons and codes</h3><ul>" + "".join(f"<li><code>{_e(r)}</code></li>"
                                                                  for r in report.reasons) + "</ul>")
        if v.recovered is None:
            body.append("<h3>Disclosure items</h3>" + _disclosure_table(report.disclosures))

    if v.recovered is not None:
        body.append("<h3>Claims of the manifest registered for the watermark identifier</h3><p>Signed at "
                    "stamping and kept in the manifest repository; the watermark and the fingerprint tie "
                    "them to this file.</p>" + _claims_table(v.recovered))
        body.append("<h3>Disclosure items</h3><p>The manifest items as the registered manifest carries them; "
                    "the AIGC label items as this file carries them.</p>"
                    + _disclosure_table(stored_disclosures(v.record.store, v.aigc)))

    body.append("<h2>AIGC label (GB 45438-2025 implicit label)</h2>")
    body.append(_table(list(v.aigc.to_dict().items()), mono=True) if v.aigc else
                "<p>No <code>AIGC</code> key in the container metadata.</p>")

    body.append("<h2>Invisible watermark</h2><table><tr><th>Key</th><th>Result</th></tr>" + "".join(
        f"<tr><td class=\"mono\">{_e(_key_name(d.key_id))}</td><td>{'detected' if d.detected else 'not detected'}"
        f", identifier {_e(d.identifier)}, score {d.score:.1f}, false-alarm bound {d.false_alarm_probability:.1e}, "
        f"{d.frames_analyzed} frames, scale {d.scale:.3f}{', mirrored' if d.flipped else ''}</td></tr>"
        for d in v.detections) + "</table>")
    if v.detection is not None and v.detection.key_id == watermark.DEFAULT_KEY.key_id:
        body.append(f"<p>The mark found is a {_e(PUBLIC_KEY_NOTE)}.</p>")
    if v.timeline is not None:
        body.append("<h3>Score over time</h3>" + _score_chart(
            v.timeline, facts.duration, v.fingerprint.correlations if v.fingerprint else None))
        body.append(f"<p>Timeline <span class=\"mono\">{_e(v.timeline.bar())}</span> ({_e(SPAN_LEGEND)})</p>"
                    f"<p>Bars: the mark's score per "
                    f"{v.timeline.span_seconds:g} s span at the alignment found for the whole video "
                    f"(green marked, amber weak, red no mark, grey too few frames); below the dashed line "
                    f"(score {WEAK_SCORE:g}) a span counts as unmarked. "
                    + ("The lower row compares the pictures, second by second, with the fingerprint "
                       "registered at stamping (green same pictures, red different, grey flat). " if v.fingerprint
                       else "") + _e(_NO_TIME_CODE) + "</p>")
        if v.timeline.unmarked:
            body.append("<p class=\"bad\">No mark in: " + _e(", ".join(f"{a:g}-{b:g} s" for a, b in
                                                                       v.timeline.unmarked)) + "</p>")
        body.extend(f"<p class=\"bad\">{_e(line.strip())}</p>" for line in _pieces_lines(v.timeline))

    body.append("<h2>Manifest repository</h2>")
    if v.record is not None:
        source = next((r.resolver for r in v.resolutions if r.accepted), v.repository)
        body.append(_table(_record_rows(v.record) + [("Looked up in", source)]))
    else:
        body.append(f"<p>No record found ({_e(v.repository or 'no repository on the verifying machine')}).</p>")
    if v.registered:
        body.append("<h3>Stamped videos these pictures show (search by picture)</h3><ul>" + "".join(
            f"<li>{_e(found.describe())}</li>" for found in v.registered) + "</ul>")
    if v.resolutions:
        body.append("<h2>Resolvers asked</h2>" + _table(
            [(f"{r.resolver} ({r.method})",
              f"believed: {r.manifest_id}" if r.accepted else f"not believed: {r.refused}") for r in v.resolutions]))

    body.append("<h2>Key frames</h2>" + _frames(v))
    body.append("<h2>File</h2>" + _table([
        ("Path", facts.path), ("Size", f"{facts.size_bytes:,} bytes"), ("SHA-256", facts.sha256),
        ("Container", facts.container), ("Video codec", facts.codec),
        ("Resolution", f"{facts.width}x{facts.height} ({facts.pixel_format})"),
        ("Frame rate", f"{facts.frame_rate:.3f} fps"), ("Duration", f"{facts.duration:.2f} s"),
        ("Frames", facts.frames), ("Audio streams", facts.audio_streams)]))
    generated = format_time(datetime.now(timezone.utc))
    body.append(f"<footer>Written by aimark {_e(__version__)} on {generated} in {v.seconds:.1f} s. The "
                "watermark's false-alarm bound is the probability that a video without this key's mark scores "
                "this high; a valid but untrusted manifest is intact but its signer is not vouched for by a "
                "trusted root.</footer>")
    content = "".join(body)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>aimark verification: {_e(verdict.kind.title)}</title>"
            f"<style>{font_face(content)}{_STYLE}</style></head><body><main>{content}</main></body></html>")


def write_html_report(verification: Verification, path: str | os.PathLike[str], *,
                      overwrite: bool = True) -> Path:
    """Write :func:`html_report` to ``path`` (UTF-8), through :class:`outputs.Output`.

    Raises
    ------
    outputs.OutputError
        If the file cannot be written there (nothing is left behind then).
    """
    return outputs.write_bytes(path, html_report(verification).encode("utf-8"), overwrite=overwrite)
