"""The payload: a 64-bit identifier, a CRC-24 and a convolutional code.

The identifier and its CRC-24 (88 bits) are coded with the rate-1/3,
constraint-length-7 convolutional code (generators 133, 171, 165 octal, as in
LTE) and terminated with six zero bits: 282 coded bits. The detector decodes
soft values with a list Viterbi algorithm: it keeps the ``LIST_SIZE`` best
paths through the trellis and returns the best one whose CRC-24 passes, which
rescues payloads where the maximum-likelihood path has a few wrong bits.
For a video without the mark each of the paths tried is a message that
passes the CRC with probability 2**-24, so by the union bound the decoder
accepts noise with probability at most ``LIST_SIZE * 2**-24``: the detector
multiplies its false-alarm bound by that number.
"""

from __future__ import annotations

import numpy as np

from watermark.errors import IdentifierError

ID_BITS = 64
CRC_BITS = 24
MESSAGE_BITS = ID_BITS + CRC_BITS
_GENERATORS = (0o133, 0o171, 0o165)
_MEMORY = 6
_STATES = 1 << _MEMORY
CODED_BITS = (MESSAGE_BITS + _MEMORY) * len(_GENERATORS)

#: Paths the list decoder tries against the CRC.
LIST_SIZE = 8
#: Bound on the probability that noise decodes to a message whose CRC is valid.
CRC_PASS_PROBABILITY = LIST_SIZE * 2.0 ** -CRC_BITS

_CRC24_POLY = 0x864CFB  # OpenPGP (RFC 4880)
_CRC24_INIT = 0xB704CE


def parse_identifier(text: str) -> int:
    """Read a 64-bit identifier written as 16 hexadecimal digits."""
    cleaned = text.strip().lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if len(cleaned) != 16 or any(c not in "0123456789abcdef" for c in cleaned):
        raise IdentifierError(f"identifier '{text}' is not 16 hexadecimal digits (e.g. 00c0ffee12345678)")
    return int(cleaned, 16)


def format_identifier(identifier: int) -> str:
    """Write a 64-bit identifier as 16 lowercase hexadecimal digits."""
    return f"{identifier:016x}"


def crc24(data: bytes) -> int:
    """CRC-24 of OpenPGP (RFC 4880)."""
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def _message_bits(identifier: int) -> np.ndarray:
    if not 0 <= identifier < 1 << ID_BITS:
        raise IdentifierError(f"identifier {identifier} does not fit in {ID_BITS} bits")
    value = (identifier << CRC_BITS) | crc24(identifier.to_bytes(8, "big"))
    return np.array([(value >> (MESSAGE_BITS - 1 - i)) & 1 for i in range(MESSAGE_BITS)], dtype=np.uint8)


def _parity(values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    for shift in range(_MEMORY + 1):
        out ^= (values >> shift) & 1
    return out


# Trellis tables. The register holds the last six input bits, newest lowest;
# a new bit b from state s makes the window (s << 1) | b and state window & 63.
_windows = (np.arange(_STATES)[:, None] << 1) | np.arange(2)[None, :]
_OUTPUT = np.stack([_parity(_windows & g) for g in _GENERATORS], axis=-1).astype(np.uint8)  # [state, bit, 3]
_SYMBOLS = 1.0 - 2.0 * _OUTPUT  # bit 0 -> +1, bit 1 -> -1


def encode(identifier: int) -> np.ndarray:
    """Code a 64-bit identifier into 282 bits.

    Parameters
    ----------
    identifier : int
        0 <= identifier < 2**64.

    Returns
    -------
    numpy.ndarray of uint8, shape (282,)
        Coded bits, 0 or 1.

    Examples
    --------
    >>> decode_soft(1.0 - 2.0 * encode(0xC0FFEE)) == 0xC0FFEE
    True
    """
    bits = np.concatenate([_message_bits(identifier), np.zeros(_MEMORY, dtype=np.uint8)])
    state = 0
    coded = np.empty((bits.size, len(_GENERATORS)), dtype=np.uint8)
    for i, bit in enumerate(bits):
        coded[i] = _OUTPUT[state, bit]
        state = ((state << 1) | int(bit)) & (_STATES - 1)
    return coded.reshape(-1)


def decode_soft(soft: np.ndarray) -> int | None:
    """Decode soft values into an identifier, or None if no path's CRC passes.

    Parameters
    ----------
    soft : numpy.ndarray, shape (282,)
        One value per coded bit, positive for 0 and negative for 1; its
        magnitude is the confidence. Any positive scale works.

    Returns
    -------
    int or None
        The identifier of the most likely of the ``LIST_SIZE`` best paths
        whose CRC-24 matches, else None.
    """
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, len(_GENERATORS))
    if soft.shape[0] != MESSAGE_BITS + _MEMORY:
        raise ValueError(f"expected {CODED_BITS} soft values, got {soft.size}")
    choices, metric = _list_viterbi(soft)
    for rank in np.argsort(-metric):
        if not np.isfinite(metric[rank]):
            break
        value = _trace_back(choices, int(rank))
        identifier, check = value >> CRC_BITS, value & ((1 << CRC_BITS) - 1)
        if crc24(identifier.to_bytes(8, "big")) == check:
            return identifier
    return None


# Predecessors of each state: the oldest register bit was 0 (low) or 1 (high).
_PREV_LOW = np.arange(_STATES) >> 1
_PREV_HIGH = _PREV_LOW | (_STATES >> 1)
_NEW_BIT = np.arange(_STATES) & 1


def _list_viterbi(soft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``LIST_SIZE`` best paths into every state, step by step.

    Returns the choices (per step, state and rank: which of the ``2 *
    LIST_SIZE`` candidates, low predecessors first, was kept) and the final
    metrics of the paths ending in state 0, where the terminated trellis ends.
    """
    metric = np.full((_STATES, LIST_SIZE), -np.inf)
    metric[0, 0] = 0.0
    choices = np.empty((soft.shape[0], _STATES, LIST_SIZE), dtype=np.uint8)
    for step, values in enumerate(soft):
        branch = _SYMBOLS @ values  # [state, bit]
        low = metric[_PREV_LOW] + branch[_PREV_LOW, _NEW_BIT][:, None]
        high = metric[_PREV_HIGH] + branch[_PREV_HIGH, _NEW_BIT][:, None]
        candidates = np.concatenate([low, high], axis=1)
        kept = np.argsort(-candidates, axis=1, kind="stable")[:, :LIST_SIZE]
        choices[step] = kept
        metric = np.take_along_axis(candidates, kept, axis=1)
    return choices, metric[0]


def _trace_back(choices: np.ndarray, rank: int) -> int:
    """The message bits of the path of ``rank`` ending in state 0, as an int."""
    state, value = 0, 0
    for step in range(choices.shape[0] - 1, -1, -1):
        if step < MESSAGE_BITS:
            value |= (state & 1) << (MESSAGE_BITS - 1 - step)
        choice = int(choices[step, state, rank])
        high, rank = divmod(choice, LIST_SIZE)
        state = (state >> 1) | (_STATES >> 1 if high else 0)
    return value
