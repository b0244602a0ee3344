"""The provenance layer's user errors: one base, so callers catch one thing.

Each subclass also derives from the builtin a caller would expect (as PyAV's
errors do), so ``except ValueError`` keeps working for code that does not know
this package.
"""


class ManifestError(Exception):
    """A problem the user can fix: bad input file, certificate, key or setting."""


class DescriptionError(ManifestError, ValueError):
    """A generation description, label or notice setting that cannot be used."""


class MediaError(ManifestError, ValueError):
    """A video file that cannot be signed or read: missing, unsupported, corrupt."""


class CredentialError(ManifestError, ValueError):
    """A certificate or private key that c2pa-rs would refuse, or cannot be read."""


class SigningError(ManifestError, RuntimeError):
    """Signing failed: the signer, the time-stamp authority or the output path."""


class RepositoryError(ManifestError):
    """The manifest repository cannot be opened or used, or a record clashes with one stored."""
