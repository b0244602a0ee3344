"""The signal layer's user errors: one base, so callers catch one thing."""


class WatermarkError(Exception):
    """A problem the user can fix: a bad key, identifier, setting or video."""


class KeyFileError(WatermarkError):
    """A key file that cannot be read, written or used."""


class IdentifierError(WatermarkError, ValueError):
    """An identifier that is not 16 hexadecimal digits."""


class VideoError(WatermarkError):
    """A video that cannot be read or written as asked."""


class EncoderError(WatermarkError, ValueError):
    """Encoder settings that cannot be used: unknown codec, CRF off its scale, unknown preset."""
