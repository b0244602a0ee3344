"""Inputs the fuzzer (benchmarks/fuzz.py) found that once raised a traceback instead of a user error.

Each file in tests/fuzz_findings/ is named TARGET-N-EXCEPTION.bin after the
target that found it and what it raised; every one must now be refused with
the parser's own user error, as the command line shows it in one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.credentials import load_chain
from manifests.errors import CredentialError
from manifests.repository import RepositoryError, stored_claims, stored_disclosures

FINDINGS = Path(__file__).with_name("fuzz_findings")


@pytest.mark.parametrize("path", sorted(FINDINGS.glob("certificate-*.bin")), ids=lambda p: p.stem)
def test_malformed_certificates_are_credential_errors(path):
    with pytest.raises(CredentialError, match="malformed|no PEM certificate|lacks|expired|not valid before|CA"):
        load_chain(path.read_bytes(), "certificate 'fuzzed.pem'")


@pytest.mark.parametrize("path", sorted(FINDINGS.glob("manifest_store-*.bin")), ids=lambda p: p.stem)
def test_forged_manifest_stores_yield_claims_or_a_repository_error(path):
    try:
        claims = stored_claims(path.read_bytes())
    except RepositoryError:
        return
    texts = (tuple(value) for value in vars(claims).values() if isinstance(value, tuple))  # the rights owners
    assert all(isinstance(value, (str, bool, dict, tuple, type(None))) for value in vars(claims).values())
    assert all(isinstance(text, str) for value in texts for text in value)
    assert len(stored_disclosures(path.read_bytes(), None)) == 10
