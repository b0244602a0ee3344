"""The manifest definition: what a generation description says in C2PA terms.

Only standard assertions carry the claims readers act on:

- ``c2pa.actions``: ``c2pa.created`` with the IPTC digital source type
  ``trainedAlgorithmicMedia`` (the machine-readable 'AI-generated' of the EU
  and California rules), the model as ``softwareAgent`` and the time;
- ``cawg.metadata``: author (``dc:creator``), organisation (``dc:publisher``)
  and identifier (``dc:identifier``), since the schema.org CreativeWork
  assertion is deprecated; and, when the rights are stated, the rights
  statement (``dc:rights``), the holders (``xmpRights:Owner``) and the URL of
  the terms (``xmpRights:WebStatement``);
- ``cawg.training-mining``: the four CAWG choices;
- ``c2pa.soft-binding``: the watermark identifier (its 8 bytes in base64, the
  value the Soft Binding Resolution API looks up), so a manifest repository
  can find the manifest again once metadata has been stripped.

Our own ``org.aimark.generation`` assertion repeats the watermark identifier
(c2pa-rs is starting to check soft-binding algorithm names against a list that
ours is not on) and holds what no standard assertion does: the prompt digest,
the visible notice, who holds the rights (user, provider or both) and who
contributed what (the user's prompt and inputs, the provider's prompt
expansion and model); ``org.aimark.fingerprint`` carries the pictures'
fingerprint, so that a manifest found again through the watermark can be
checked against the pictures in hand.
"""

from __future__ import annotations

import base64
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from manifests.description import GenerationDescription, binding_value

#: IPTC digital source type for content made by a trained model.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

#: Soft-binding algorithm name for aimark's invisible watermark.
WATERMARK_ALGORITHM = "org.aimark.watermark.1"

#: Label of aimark's own assertion.
GENERATION_ASSERTION = "org.aimark.generation"

#: Label of the assertion carrying the pictures' fingerprint.
FINGERPRINT_ASSERTION = "org.aimark.fingerprint"

#: CAWG training-and-mining entry names, by TrainingMining attribute.
CAWG_USES = {
    "data_mining": "cawg.data_mining",
    "ai_inference": "cawg.ai_inference",
    "ai_training": "cawg.ai_training",
    "ai_generative_training": "cawg.ai_generative_training",
}

_CONTEXT = {"dc": "http://purl.org/dc/elements/1.1/", "xmpRights": "http://ns.adobe.com/xap/1.0/rights/"}


def claim_generator() -> dict[str, str]:
    """``claim_generator_info`` naming aimark and its installed version."""
    try:
        aimark_version = version("aimark")
    except PackageNotFoundError:  # running from a source tree without install
        aimark_version = "0.0.0"
    return {"name": "aimark", "version": aimark_version}


def manifest_definition(description: GenerationDescription, *, title: str) -> dict[str, Any]:
    """The manifest definition c2pa-rs's Builder takes for a generated video.

    Parameters
    ----------
    description : GenerationDescription
        The facts to state.
    title : str
        Name of the signed file, shown by C2PA readers.

    Returns
    -------
    dict
        JSON-ready manifest definition.

    Examples
    --------
    >>> d = GenerationDescription(author="Ada", model="VidGen")
    >>> [a["label"] for a in manifest_definition(d, title="a.mp4")["assertions"]][:2]
    ['c2pa.actions', 'cawg.metadata']
    """
    agent = {"name": description.model}
    if description.model_version:
        agent["version"] = description.model_version
    metadata: dict[str, Any] = {"@context": _CONTEXT, "dc:creator": [description.author]}
    if description.organisation:
        metadata["dc:publisher"] = [description.organisation]
    metadata["dc:identifier"] = description.identifier
    rights = description.rights
    if rights is not None:
        metadata["dc:rights"] = description.rights_statement()
        metadata["xmpRights:Marked"] = True
        metadata["xmpRights:Owner"] = description.owners()
        if rights.terms:
            metadata["xmpRights:WebStatement"] = rights.terms
    entries = {}
    for name, permission in description.training_mining.items():
        entry: dict[str, str] = {"use": permission.use.value}
        if permission.constraint:
            entry["constraint_info"] = permission.constraint
        entries[CAWG_USES[name]] = entry
    generation: dict[str, Any] = {"identifier": description.identifier}
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": agent,
            "when": description.created.isoformat(),
        }]}},
        # 'kind': 'Json' stores it as JSON, as CAWG requires (c2pa-rs would use CBOR).
        {"label": "cawg.metadata", "kind": "Json", "data": metadata},
        {"label": "cawg.training-mining", "data": {"entries": entries}},
    ]
    if description.watermarked:
        assertions.append({"label": "c2pa.soft-binding", "data": {
            "alg": WATERMARK_ALGORITHM,
            "blocks": [{"scope": {}, "value": binding_value(description.identifier)}],
        }})
        generation["watermark"] = {"alg": WATERMARK_ALGORITHM, "identifier": description.identifier}
        if description.watermark_key:
            generation["watermark"]["key_id"] = description.watermark_key
    if description.prompt_digest:
        generation["prompt_digest"] = description.prompt_digest
    if description.visible_notice:
        generation["visible_notice"] = description.visible_notice
    if rights is not None:
        generation["rights"] = {"holder": rights.holder.value, "owners": description.owners(),
                                "statement": description.rights_statement(),
                                **({"terms": rights.terms} if rights.terms else {})}
    generation["contributions"] = description.contributions()
    assertions.append({"label": GENERATION_ASSERTION, "data": generation})
    if description.fingerprint is not None:
        fingerprint = description.fingerprint
        assertions.append({"label": FINGERPRINT_ASSERTION, "data": {
            "alg": fingerprint.alg, "width": fingerprint.width, "height": fingerprint.height,
            "value": base64.b64encode(fingerprint.value).decode("ascii"),
        }})
    return {"claim_generator_info": [claim_generator()], "title": title, "assertions": assertions}


def propagation_definition(*, title: str, propagator: str, parent: str) -> dict[str, Any]:
    """The manifest a platform adds when it passes a signed video on.

    The platform changes only metadata (its AIGC propagator fields), so the
    new manifest says ``c2pa.opened`` on the earlier signed file, kept as its
    ``parentOf`` ingredient with ``parent`` as the ingredient's label, then
    ``c2pa.edited.metadata``; the producer's claims stay in the ingredient.
    """
    return {
        "claim_generator_info": [claim_generator()],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [parent]}},
            {"action": "c2pa.edited.metadata",
             "description": f"AIGC propagator fields set by {propagator}"},
        ]}}],
    }
