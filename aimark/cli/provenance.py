"""Commands for Content Credentials and AI labels: ``sign``, ``inspect``, ``propagate``, ``certs``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import click

import manifests
from aimark.cli.output import IDENTIFIER, emit_json, force_option, json_option, user_errors


def generation_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--author, --model, --model-version, --org, --created and --prompt-file: what was generated."""
    options = [
        click.option("--author", required=True, help="Who made the video (person or account)."),
        click.option("--model", required=True, help="Name of the generating model."),
        click.option("--model-version", help="Version of the model."),
        click.option("--org", "organisation", help="The provider: organisation running the model."),
        click.option("--created", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
                     help="When the video was generated (ISO 8601; UTC if no offset). Default: now."),
        click.option("--prompt-file", type=click.File("r", encoding="utf-8"),
                     help="File holding the prompt; only its SHA-256 digest is recorded."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def rights_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--rights-holder, --rights-statement, --rights-terms, --input-file and --expansion-file: who owns what."""
    options = [
        click.option("--rights-holder", type=click.Choice([h.value for h in manifests.RightsHolder]),
                     help="Who holds the copyright in OUTPUT under the provider's terms: the user (--author), "
                          "the provider (--org) or both."),
        click.option("--rights-statement", metavar="TEXT",
                     help="Free-text rights statement (dc:rights). Default: 'Copyright YEAR HOLDERS'."),
        click.option("--rights-terms", metavar="URL",
                     help="URL of the terms that settle ownership and use (xmpRights:WebStatement)."),
        click.option("--input-file", "input_files", multiple=True, type=click.Path(dir_okay=False),
                     help="An input the user gave (reference image or clip; repeatable); only its SHA-256 "
                          "digest is recorded, as the user's contribution."),
        click.option("--expansion-file", type=click.File("r", encoding="utf-8"),
                     help="File holding the provider's expansion of the prompt; only its SHA-256 digest is "
                          "recorded, as the provider's contribution."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def signer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--cert, --private-key and --tsa, shared by the commands that sign."""
    options = [
        click.option("--cert", "certificate", type=click.Path(dir_okay=False), envvar="AIMARK_CERT",
                     help="PEM certificate chain, leaf first (env AIMARK_CERT). "
                          "Default: your development identity (untrusted)."),
        click.option("--private-key", type=click.Path(dir_okay=False), envvar="AIMARK_PRIVATE_KEY",
                     help="PEM private key file of --cert (env AIMARK_PRIVATE_KEY); "
                          "an encrypted key takes its passphrase from AIMARK_KEY_PASSWORD."),
        click.option("--tsa", "tsa_url", metavar="URL",
                     help="RFC 3161 time-stamp authority (default: none, signing stays offline)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _signer(certificate: str | None, private_key: str | None, tsa_url: str | None) -> manifests.Signer:
    if (certificate is None) != (private_key is None):
        raise click.UsageError("give --cert and --private-key together, or neither "
                               "(then your development identity signs)")
    if certificate is None:
        return manifests.Signer.development(tsa_url=tsa_url)
    return manifests.Signer.from_files(certificate, private_key, tsa_url=tsa_url)


def _signed_text(result: manifests.SignedFile) -> str:
    identity = result.signer
    lines = [f"Signed {result.path}"]
    if result.identifier:
        lines.append(f"  identifier  {result.identifier}")
    if result.aigc:
        lines.append(f"  AIGC label  {result.aigc.to_json()}")
    lines.append(f"  signer      {identity.subject} ({identity.algorithm.upper()})")
    if identity.development:
        lines.append("Note: signed with untrusted development credentials."
                     + (f" To trust them on this machine: aimark inspect {result.path} "
                        f"--trust-anchors {identity.root}" if identity.root else ""))
    return "\n".join(lines)


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@generation_options
@click.option("--id", "identifier", type=IDENTIFIER,
              help="64-bit identifier (16 hex digits) the video's watermark carries; "
                   "recorded as soft binding. Default: a random identifier, no watermark claimed.")
@click.option("--label-cn", "producer", metavar="PRODUCER",
              help="Write China's AIGC label with this content producer (name or code).")
@click.option("--training-mining", "choices", metavar="CATEGORY=PERMISSION", multiple=True,
              help="Change one CAWG choice, e.g. ai_training=allowed or "
                   "data_mining='constrained:see https://example.com/terms'. Categories: data_mining, "
                   "ai_inference, ai_training, ai_generative_training; default: only ai_inference allowed.")
@click.option("--visible-notice", metavar="TEXT", help="Declare the visible notice shown in the video.")
@rights_options
@signer_options
@force_option
@json_option
@user_errors
def sign(input_path: str, output_path: str, author: str, model: str, model_version: str | None,
         organisation: str | None, identifier: str | None, created: dt.datetime | None, producer: str | None,
         choices: tuple[str, ...], prompt_file: Any, visible_notice: str | None, rights_holder: str | None,
         rights_statement: str | None, rights_terms: str | None, input_files: tuple[str, ...],
         expansion_file: Any, certificate: str | None, private_key: str | None, tsa_url: str | None, force: bool,
         as_json: bool) -> None:
    """Sign INPUT, a generated MP4 or MOV, with Content Credentials into OUTPUT.

    The manifest says the video is AI-generated (trainedAlgorithmicMedia) and
    names the model, author, organisation, time and identifier, with the CAWG
    training and mining choices. INPUT is decode-checked first and never
    changed; OUTPUT appears only once complete.

    With --rights-holder the manifest also says who holds the copyright
    (dc:rights, xmpRights:Owner, xmpRights:WebStatement) and records who
    contributed what: the user's prompt and inputs, the provider's prompt
    expansion and model (digests only, never the text or the files).

    \b
    Example:
      aimark sign gen.mp4 signed.mp4 --author "Ada Li" --model VidGen --model-version 2.1 \\
          --org ACME --label-cn ACME --cert certs/signer.pem --private-key certs/signer-key.pem \\
          --rights-holder user --rights-terms https://acme.example/terms
    """
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    fields: dict[str, Any] = {"created": created, "identifier": identifier,
                              "prompt_digest": manifests.prompt_digest(prompt_file.read()) if prompt_file else None}
    description = manifests.GenerationDescription(
        author=author, model=model, model_version=model_version, organisation=organisation,
        watermarked=identifier is not None, visible_notice=visible_notice,
        training_mining=manifests.TrainingMining.parse(choices),
        rights=manifests.Rights.of(rights_holder, rights_statement, rights_terms),
        input_digests=tuple(manifests.file_digest(path) for path in input_files),
        expansion_digest=manifests.prompt_digest(expansion_file.read()) if expansion_file else None,
        **{name: value for name, value in fields.items() if value is not None})
    aigc = manifests.aigc_label(description, producer) if producer else None
    with _signer(certificate, private_key, tsa_url) as signer:
        result = manifests.sign_file(input_path, output_path, description, signer, aigc=aigc, overwrite=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(_signed_text(result))


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False))
@click.option("--propagator", required=True, help="Your platform's name or code (ContentPropagator).")
@click.option("--propagate-id", required=True, help="Your identifier for this video (PropagateID).")
@signer_options
@force_option
@json_option
@user_errors
def propagate(input_path: str, output_path: str, propagator: str, propagate_id: str, certificate: str | None,
              private_key: str | None, tsa_url: str | None, force: bool, as_json: bool) -> None:
    """Pass on a signed, labelled video as a platform, into OUTPUT.

    Sets the propagator fields of China's AIGC label and signs a new manifest
    that keeps the producer's manifest as its parent ingredient.

    \b
    Example:
      aimark propagate upload.mp4 published.mp4 --propagator VidShare --propagate-id v-8841
    """
    with _signer(certificate, private_key, tsa_url) as signer:
        result = manifests.propagate_file(input_path, output_path, propagator, propagate_id, signer,
                                          overwrite=force)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(_signed_text(result))


def _report_text(report: manifests.Report) -> str:
    lines = [f"File        {report.path}",
             "Manifest    " + (f"present ({report.manifests} manifest{'s' * (report.manifests > 1)})"
                               if report.manifest_present else "absent"),
             f"Validation  {report.verdict}"]
    if report.signer:
        lines.append(f"Signer      {report.signer}")
    claims = report.claims
    if claims:
        source = (claims.digital_source_type or "no digital source type").rsplit("/", 1)[-1]
        model = " ".join(part for part in (claims.model, claims.model_version) if part)
        rows = [
            ("AI-generated", f"{'yes' if claims.ai_generated else 'no'} ({source})"),
            ("Model", model), ("Author", claims.author), ("Organisation", claims.organisation),
            ("Created", claims.created), ("Identifier", claims.identifier),
            ("Watermark", claims.watermark_identifier and f"{claims.watermark_identifier} (soft binding)"),
            ("Training/mining", ", ".join(f"{k} {v}" for k, v in claims.training_mining.items())),
            ("Prompt digest", claims.prompt_digest), ("Visible notice", claims.visible_notice),
            ("Rights", claims.ownership()), ("Contributions", claims.contributed()),
            ("Generator", claims.claim_generator),
        ]
        caveat = " (not verified: the manifest is invalid)" if report.state is manifests.ValidationState.INVALID else ""
        lines += ["", "Claims" + caveat] + [f"  {name:<17}{value or '-'}" for name, value in rows]
    lines += ["", f"AIGC label  {report.aigc.to_json() if report.aigc else 'absent'}", "", "Disclosures"]
    lines += [f"  [{'x' if d.found else ' '}] {d.regime:<10} {d.item}: {d.detail}" for d in report.disclosures]
    if report.notes:
        lines += ["", "Notes"] + [f"  - {note}" for note in report.notes]
    return "\n".join(lines)


@click.command()
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--trust-anchors", type=click.Path(dir_okay=False), metavar="PEM",
              help="PEM root certificates whose signatures count as trusted.")
@json_option
@user_errors
def inspect(path: str, trust_anchors: str | None, as_json: bool) -> None:
    """Check FILE's Content Credentials and AI labels, offline.

    Reports whether a manifest is present; its validation state (trusted,
    valid but untrusted, invalid with reasons, or absent); the signer; the
    claims; the AIGC label; and the China, EU and California disclosure items
    found or missing. Exit status is 0 whenever the check ran.

    \b
    Example:
      aimark inspect signed.mp4 --trust-anchors certs/root.pem
    """
    report = manifests.inspect_file(path, trust_anchors=trust_anchors)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_report_text(report))


@click.group()
def certs() -> None:
    """Make signing credentials for testing.

    \b
    Example:
      aimark certs init certs --org ACME
    """


@certs.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--org", "organisation", default="aimark", show_default=True,
              help="Organisation named in the certificates (marked as test credentials).")
@click.option("--algorithm", type=click.Choice(manifests.credentials.ALGORITHMS, case_sensitive=False),
              default="es256", show_default=True, help="Key type of the CA and signer.")
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True,
              help="Validity of the signing certificate; the root lasts twice as long.")
@json_option
@user_errors
def init(directory: str, organisation: str, algorithm: str, days: int, as_json: bool) -> None:
    """Create a local root CA and a signing certificate in DIR, for testing.

    They satisfy c2pa-rs's certificate profile; signatures read as valid but
    untrusted (development credentials), or as trusted with
    --trust-anchors DIR/root.pem. Keys are readable by you only.

    \b
    Example:
      aimark certs init certs --org ACME && aimark sign gen.mp4 out.mp4 --author Ada --model VidGen \\
          --cert certs/signer.pem --private-key certs/signer-key.pem
    """
    files = manifests.create_test_credentials(Path(directory), organisation=organisation,
                                              algorithm=algorithm, days=days)
    if as_json:
        emit_json(files.to_dict())
    else:
        click.echo(f"Wrote test credentials to {directory}:\n"
                   f"  sign with     --cert {files.certificate} --private-key {files.private_key}\n"
                   f"  trust with    --trust-anchors {files.root}\n"
                   f"  keep private  {files.root_key}")


COMMANDS = [sign, inspect, propagate, certs]
