"""Provenance layer: signed C2PA manifests and AI labels for generated videos.

Treats the watermark identifier as an opaque value; knows nothing of the signal.

Typical use, one call per step::

    description = GenerationDescription(author="Ada", model="VidGen", model_version="2.1",
                                        organisation="ACME")
    signer = Signer.from_files("certs/signer.pem", "certs/signer-key.pem")  # once
    sign_file("gen.mp4", "signed.mp4", description, signer, aigc=aigc_label(description))
    print(inspect_file("signed.mp4", trust_anchors="certs/root.pem").verdict)
"""

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from manifests.errors import (CredentialError, DescriptionError, ManifestError, MediaError, RepositoryError,
                              SigningError)

if TYPE_CHECKING:  # the names below, for type checkers and editors
    from manifests.credentials import (Credentials, TestCredentialFiles, aimark_home, create_test_credentials,
                                       development_credentials, load_credentials)
    from manifests.description import (GenerationDescription, Permission, PictureFingerprint, Rights, RightsHolder,
                                       TrainingMining, Use, binding_value, file_digest, identifier_from_binding,
                                       new_identifier, prompt_digest)
    from manifests.labels import MUX_OPTIONS, AigcLabel, aigc_label, aigc_metadata, read_aigc, write_aigc
    from manifests.manifest import FINGERPRINT_ASSERTION, WATERMARK_ALGORITHM, manifest_definition
    from manifests.media import SUPPORTED_TYPES, VideoInfo, check_video
    from manifests.notice import NOTICE_EN, NOTICE_ZH, Notice, Overlay
    from manifests.reading import (Claims, Disclosure, Report, SignatureInfo, ValidationState, inspect_file,
                                   validate_store)
    from manifests.repository import ManifestRepository, Record, SQLiteRepository, embedded_store, stored_claims
    from manifests.signing import SignedFile, Signer, SignerIdentity, propagate_file, sign_file, sign_into

#: Where each name lives, imported on first use (PEP 562, as scikit-image and SciPy load theirs): the
#: errors above are all a command that never signs needs, and importing every module here (C2PA,
#: cryptography, fonts) was a quarter of a second of every ``aimark embed``.
_EXPORTS = {
    **dict.fromkeys(["Credentials", "TestCredentialFiles", "aimark_home", "create_test_credentials",
                     "development_credentials", "load_credentials"], "manifests.credentials"),
    **dict.fromkeys(["GenerationDescription", "Permission", "PictureFingerprint", "Rights", "RightsHolder",
                     "TrainingMining", "Use", "binding_value", "file_digest", "identifier_from_binding",
                     "new_identifier", "prompt_digest"], "manifests.description"),
    **dict.fromkeys(["MUX_OPTIONS", "AigcLabel", "aigc_label", "aigc_metadata", "read_aigc", "write_aigc"],
                    "manifests.labels"),
    **dict.fromkeys(["FINGERPRINT_ASSERTION", "WATERMARK_ALGORITHM", "manifest_definition"], "manifests.manifest"),
    **dict.fromkeys(["SUPPORTED_TYPES", "VideoInfo", "check_video"], "manifests.media"),
    **dict.fromkeys(["NOTICE_EN", "NOTICE_ZH", "Notice", "Overlay"], "manifests.notice"),
    **dict.fromkeys(["Claims", "Disclosure", "Report", "SignatureInfo", "ValidationState", "inspect_file",
                     "validate_store"], "manifests.reading"),
    **dict.fromkeys(["ManifestRepository", "Record", "SQLiteRepository", "embedded_store", "stored_claims"],
                    "manifests.repository"),
    **dict.fromkeys(["SignedFile", "Signer", "SignerIdentity", "propagate_file", "sign_file", "sign_into"],
                    "manifests.signing"),
}

__all__ = sorted([*_EXPORTS, "CredentialError", "DescriptionError", "ManifestError", "MediaError",
                  "RepositoryError", "SigningError"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule, as an eager import made it
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'manifests' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
