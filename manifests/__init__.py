"""Provenance layer: signed C2PA manifests and AI labels for generated videos.

Treats the watermark identifier as an opaque value; knows nothing of the signal.

Typical use, one call per step::

    description = GenerationDescription(author="Ada", model="VidGen", model_version="2.1",
                                        organisation="ACME")
    signer = Signer.from_files("certs/signer.pem", "certs/signer-key.pem")  # once
    sign_file("gen.mp4", "signed.mp4", description, signer, aigc=aigc_label(description))
    print(inspect_file("signed.mp4", trust_anchors="certs/root.pem").verdict)
"""

from manifests.credentials import (
    Credentials,
    TestCredentialFiles,
    aimark_home,
    create_test_credentials,
    development_credentials,
    load_credentials,
)
from manifests.description import (
    GenerationDescription,
    Permission,
    PictureFingerprint,
    Rights,
    RightsHolder,
    TrainingMining,
    Use,
    binding_value,
    file_digest,
    identifier_from_binding,
    new_identifier,
    prompt_digest,
)
from manifests.errors import (CredentialError, DescriptionError, ManifestError, MediaError, RepositoryError,
                              SigningError)
from manifests.labels import MUX_OPTIONS, AigcLabel, aigc_label, aigc_metadata, read_aigc, write_aigc
from manifests.manifest import FINGERPRINT_ASSERTION, WATERMARK_ALGORITHM, manifest_definition
from manifests.media import SUPPORTED_TYPES, VideoInfo, check_video
from manifests.notice import NOTICE_EN, NOTICE_ZH, Notice, Overlay
from manifests.reading import (Claims, Disclosure, Report, SignatureInfo, ValidationState, inspect_file,
                               validate_store)
from manifests.repository import ManifestRepository, Record, SQLiteRepository, embedded_store, stored_claims
from manifests.signing import SignedFile, Signer, SignerIdentity, propagate_file, sign_file, sign_into

__all__ = [
    "AigcLabel",
    "Claims",
    "CredentialError",
    "Credentials",
    "DescriptionError",
    "FINGERPRINT_ASSERTION",
    "Disclosure",
    "GenerationDescription",
    "MUX_OPTIONS",
    "ManifestError",
    "ManifestRepository",
    "MediaError",
    "NOTICE_EN",
    "NOTICE_ZH",
    "Notice",
    "Overlay",
    "Permission",
    "PictureFingerprint",
    "Record",
    "Report",
    "RepositoryError",
    "Rights",
    "RightsHolder",
    "SQLiteRepository",
    "SUPPORTED_TYPES",
    "SignatureInfo",
    "SignedFile",
    "Signer",
    "SignerIdentity",
    "SigningError",
    "TestCredentialFiles",
    "TrainingMining",
    "Use",
    "ValidationState",
    "VideoInfo",
    "WATERMARK_ALGORITHM",
    "aigc_label",
    "aigc_metadata",
    "aimark_home",
    "binding_value",
    "check_video",
    "create_test_credentials",
    "development_credentials",
    "embedded_store",
    "file_digest",
    "identifier_from_binding",
    "inspect_file",
    "load_credentials",
    "manifest_definition",
    "new_identifier",
    "prompt_digest",
    "propagate_file",
    "read_aigc",
    "sign_file",
    "sign_into",
    "stored_claims",
    "validate_store",
    "write_aigc",
]
