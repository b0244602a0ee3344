import numpy as np
import pytest

from watermark import IdentifierError, format_identifier, parse_identifier
from watermark.payload import CODED_BITS, decode_soft, encode


def test_round_trip_for_many_identifiers():
    rng = np.random.default_rng(1)
    for identifier in [0, 1, 2**64 - 1, *map(int, rng.integers(0, 2**63, 20))]:
        assert decode_soft(1.0 - 2.0 * encode(identifier)) == identifier


def test_coded_length():
    assert encode(123).shape == (CODED_BITS,)


def test_corrects_flipped_and_noisy_bits():
    rng = np.random.default_rng(2)
    identifier = 0x0123456789ABCDEF
    soft = 1.0 - 2.0 * encode(identifier)
    flipped = soft.copy()
    flipped[rng.choice(CODED_BITS, 25, replace=False)] *= -1  # about 9% hard errors
    assert decode_soft(flipped) == identifier
    noisy = soft + rng.normal(0.0, 1.0, CODED_BITS)  # per-bit SNR 0 dB
    assert decode_soft(noisy) == identifier


def test_noise_does_not_decode():
    rng = np.random.default_rng(3)
    assert all(decode_soft(rng.normal(size=CODED_BITS)) is None for _ in range(300))


def test_identifier_text():
    assert parse_identifier("00C0FFEE12345678") == 0x00C0FFEE12345678
    assert format_identifier(0xC0FFEE) == "0000000000c0ffee"
    for bad in ["", "123", "xyz0000000000000", "0123456789abcdef0"]:
        with pytest.raises(IdentifierError):
            parse_identifier(bad)
