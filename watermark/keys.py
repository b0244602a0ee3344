"""Secret keys: where every keyed choice of the mark comes from.

A key is 32 random bytes. Everything the embedder and detector draw at random
(which cells synchronise, which carry which payload bit, and every chip sign)
is derived from it with HMAC-SHA256, so two keys give independent patterns and
the detector's false-alarm bound holds for any video not marked with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import outputs
from watermark.errors import KeyFileError

KEY_BYTES = 32
_HEADER = b"aimark-watermark-key-v1\n"


@dataclass(frozen=True)
class Key:
    """A watermark key.

    Parameters
    ----------
    secret : bytes
        32 bytes. Keep them secret: whoever has them can detect, forge and
        remove the mark.

    Examples
    --------
    >>> key = Key.generate()
    >>> len(key.key_id)
    16
    """

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyFileError(f"a key is {KEY_BYTES} bytes, got {len(self.secret)}")

    def __repr__(self) -> str:  # never print the secret
        return f"Key(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> "Key":
        """A new random key from the operating system's generator."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Key":
        """Read a key file written by :meth:`save` (or ``aimark keygen``)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyFileError(f"key file '{path}' does not exist; make one with `aimark keygen {path}`") from None
        except OSError as error:
            raise KeyFileError(f"cannot read key file '{path}': {error.strerror}") from None
        if not data.startswith(_HEADER):
            raise KeyFileError(f"'{path}' is not an aimark key file; make one with `aimark keygen`")
        try:
            secret = bytes.fromhex(data[len(_HEADER):].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise KeyFileError(f"key file '{path}' is damaged: its body is not hexadecimal") from None
        if len(secret) != KEY_BYTES:
            raise KeyFileError(f"key file '{path}' holds {len(secret)} bytes; a key is {KEY_BYTES} bytes")
        return cls(secret)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key to a new file readable by its owner only.

        Refuses to overwrite (:class:`outputs.OutputExistsError`), whatever
        ``--force`` says elsewhere: losing a key loses the ability to read
        every video marked with it.
        """
        outputs.write_bytes(path, _HEADER + self.secret.hex().encode("ascii") + b"\n", mode=0o600,
                            replaceable=False)

    @property
    def key_id(self) -> str:
        """A public 64-bit fingerprint naming the key without revealing it."""
        return hmac.new(self.secret, b"key-id", hashlib.sha256).hexdigest()[:16]

    def rng(self, purpose: str) -> np.random.Generator:
        """A random generator for one purpose, independent of all others."""
        seed = hmac.new(self.secret, purpose.encode("utf-8"), hashlib.sha256).digest()
        return np.random.default_rng(np.frombuffer(seed, dtype=np.uint64))


#: The public default key. Anyone can detect (and forge) marks made with it:
#: it says "AI-generated" but proves nothing about who made the video.
#: Attribution needs your own key (``aimark keygen``).
DEFAULT_KEY = Key(hashlib.sha256(b"aimark public default watermark key v1").digest())
