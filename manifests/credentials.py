"""Signing credentials: loading and checking PEM files, and making test ones.

c2pa-rs refuses certificates outside its profile, but only when signing, and
with terse messages. Checking first, with ``cryptography``, lets every refusal
name the file, the cause and the way out. The same profile drives the test
credentials made here: a small root CA and a leaf that c2pa-rs accepts, marked
as test credentials in their organisation name so that readers can say so.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

import outputs
from manifests.errors import CredentialError

#: Put in the organisation name of every certificate aimark makes, so a reader
#: can tell development signatures from unknown signers.
TEST_MARKER = "aimark test credentials"

#: Environment variable holding the passphrase of an encrypted private key.
KEY_PASSWORD_ENV = "AIMARK_KEY_PASSWORD"

#: Environment variable that moves aimark's per-user data folder.
HOME_ENV = "AIMARK_HOME"

#: Signing algorithms by the name c2pa-rs uses.
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ed25519")

_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_CURVES = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
# File names inside a test-credentials folder.
_ROOT, _ROOT_KEY, _CERT, _KEY = "root.pem", "root-key.pem", "signer.pem", "signer-key.pem"


@dataclass(frozen=True)
class Credentials:
    """A certificate chain and the private key that signs with it.

    Attributes
    ----------
    chain_pem : bytes
        Leaf certificate first, then intermediates, without the root.
    private_key_pem : bytes
        Unencrypted PKCS#8 key of the leaf (kept out of ``repr``).
    algorithm : str
        One of :data:`ALGORITHMS`, chosen from the key type.
    subject : str
        The leaf's subject, for reports.
    development : bool
        Whether these are test credentials made by aimark.
    root : Path, optional
        The test root certificate, to pass as a trust anchor when verifying.
    """

    chain_pem: bytes
    private_key_pem: bytes = field(repr=False)
    algorithm: str
    subject: str
    development: bool = False
    root: Path | None = None


@dataclass(frozen=True)
class TestCredentialFiles:
    """Where :func:`create_test_credentials` wrote its files."""

    root: Path
    root_key: Path
    certificate: Path
    private_key: Path

    def to_dict(self) -> dict[str, str]:
        """Paths as strings, for JSON."""
        return {name: str(path) for name, path in vars(self).items()}


def aimark_home() -> Path:
    """aimark's per-user data folder: ``$AIMARK_HOME``, else the platform's user data folder."""
    return Path(os.environ.get(HOME_ENV) or platformdirs.user_data_dir("aimark"))


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CredentialError(f"cannot read the {what} '{path}' ({error.strerror}); check the path") from None


def load_chain(pem: bytes, source: str = "certificate") -> list[x509.Certificate]:
    """Parse a PEM chain (leaf first) and check the leaf against c2pa-rs's profile.

    Raises
    ------
    CredentialError
        If ``pem`` holds no certificate or the leaf is outside the profile.
    """
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except x509.InvalidVersion as error:
        raise CredentialError(f"{source} is malformed ({error}); give the certificate as the CA issued it") from None
    except ValueError:
        chain = []
    if not chain:
        raise CredentialError(
            f"{source} holds no PEM certificate ('-----BEGIN CERTIFICATE-----'); "
            "give the signing certificate chain, leaf first")
    check_certificate(chain[0], source)
    return chain


def check_certificate(leaf: x509.Certificate, source: str = "certificate",
                      now: dt.datetime | None = None) -> None:
    """Refuse a signing certificate that c2pa-rs would refuse, naming the cause.

    Checks validity at ``now``, that it is not a CA, its key usages (digital
    signature, not certificate signing), its extended key usage (present and
    specific), its Authority Key Identifier, and its key type. A certificate
    whose extensions or key cannot be parsed is refused as malformed.
    """
    try:
        _check_profile(leaf, source, now or dt.datetime.now(dt.timezone.utc))
    except CredentialError:
        raise
    except (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion) as error:
        raise CredentialError(f"{source} is malformed ({error}); give the certificate as the CA issued it") from None


def _check_profile(leaf: x509.Certificate, source: str, now: dt.datetime) -> None:
    if leaf.not_valid_after_utc < now:
        raise CredentialError(
            f"{source} expired on {leaf.not_valid_after_utc:%Y-%m-%d}; "
            "renew it (or make test credentials with `aimark certs init DIR`)")
    if leaf.not_valid_before_utc > now:
        raise CredentialError(
            f"{source} is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; "
            "check the system clock or the certificate")
    extensions = {ext.oid: ext.value for ext in leaf.extensions}
    basic = extensions.get(x509.oid.ExtensionOID.BASIC_CONSTRAINTS)
    if basic is not None and basic.ca:
        raise CredentialError(f"{source} is a CA certificate; sign with a leaf (end-entity) certificate")
    usage = extensions.get(x509.oid.ExtensionOID.KEY_USAGE)
    if usage is None or not usage.digital_signature or usage.key_cert_sign:
        raise CredentialError(
            f"{source} lacks the required key usage (digitalSignature, without keyCertSign); "
            "ask the CA for a document-signing certificate")
    extended = extensions.get(x509.oid.ExtensionOID.EXTENDED_KEY_USAGE)
    if extended is None or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in extended:
        raise CredentialError(
            f"{source} lacks a specific extended key usage (emailProtection or documentSigning); "
            "ask the CA for a document-signing certificate")
    if x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in extensions:
        raise CredentialError(
            f"{source} has no Authority Key Identifier, which C2PA requires; "
            "have it issued by a CA rather than self-signed")
    algorithm_for(leaf.public_key(), source)


def algorithm_for(key: object, source: str = "key") -> str:
    """The c2pa-rs algorithm name for a public or private key.

    Raises
    ------
    CredentialError
        For keys C2PA does not sign with (e.g. RSA under 2048 bits, DSA).
    """
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and key.curve.name in _CURVES:
        return _CURVES[key.curve.name]
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)) and key.key_size >= 2048:
        return "ps256"
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    raise CredentialError(
        f"{source} uses a key type C2PA does not sign with; "
        "use ECDSA P-256/384/521, RSA of 2048 bits or more, or Ed25519")


def load_credentials(certificate: str | os.PathLike[str],
                     private_key: str | os.PathLike[str]) -> Credentials:
    """Read a certificate chain and its private key from PEM files, and check them.

    An encrypted key is opened with the passphrase in ``$AIMARK_KEY_PASSWORD``
    (secrets never come from the command line).

    Raises
    ------
    CredentialError
        Unreadable file, no certificate or key in it, wrong passphrase,
        certificate outside c2pa-rs's profile, or a key that does not belong to
        the certificate.

    Examples
    --------
    >>> creds = load_credentials("certs/signer.pem", "certs/signer-key.pem")  # doctest: +SKIP
    """
    chain = load_chain(_read(certificate, "certificate"), f"certificate '{certificate}'")
    key = _load_private_key(_read(private_key, "private key"), private_key)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != chain[0].public_key().public_bytes(der, public):
        raise CredentialError(
            f"private key '{private_key}' does not match certificate '{certificate}'; "
            "give the key the certificate was issued for")
    return _credentials(chain, key)


def _load_private_key(pem: bytes, path: str | os.PathLike[str]):
    password = os.environ.get(KEY_PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    except TypeError:
        raise CredentialError(
            f"private key '{path}' is encrypted; put its passphrase in ${KEY_PASSWORD_ENV}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CredentialError(
            f"private key '{path}' is not a readable PEM private key (or the passphrase in "
            f"${KEY_PASSWORD_ENV} is wrong); give the PEM key of the signing certificate") from None
    algorithm_for(key, f"private key '{path}'")
    return key


def _credentials(chain: list[x509.Certificate], key) -> Credentials:
    leaf = chain[0]
    organisations = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return Credentials(
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        private_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()),
        algorithm=algorithm_for(key),
        subject=leaf.subject.rfc4514_string(),
        development=any(TEST_MARKER in str(o.value) for o in organisations),
    )


def _new_key(algorithm: str):
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ps256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curves = {"es256": ec.SECP256R1(), "es384": ec.SECP384R1(), "es512": ec.SECP521R1()}
    if algorithm not in curves:
        raise CredentialError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    return ec.generate_private_key(curves[algorithm])


def _sign_certificate(builder: x509.CertificateBuilder, issuer_key) -> x509.Certificate:
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        return builder.sign(issuer_key, None)
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return builder.sign(issuer_key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
    return builder.sign(issuer_key, hashes.SHA256())


def _test_chain(organisation: str, algorithm: str, days: int):
    """A root CA and a leaf inside c2pa-rs's profile, both marked as test credentials."""
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(minutes=5)  # tolerate small clock differences between machines
    org = f"{organisation} ({TEST_MARKER})"
    root_key, leaf_key = _new_key(algorithm), _new_key(algorithm)
    root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                           x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} test root CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                           x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} test signer")])
    root = _sign_certificate(
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(now + dt.timedelta(days=max(days, 1) * 2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False),
        root_key)
    leaf = _sign_certificate(
        x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name)
        .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                       critical=False),
        root_key)
    return root, root_key, leaf, leaf_key


def create_test_credentials(directory: str | os.PathLike[str], *, organisation: str = "aimark",
                            algorithm: str = "es256", days: int = 365) -> TestCredentialFiles:
    """Make a local root CA and a signing certificate that c2pa-rs accepts.

    Signatures made with them read back as valid but untrusted, or as trusted
    when the root is given as a trust anchor; readers see the test marker in
    the organisation name. Files: ``root.pem``, ``root-key.pem``,
    ``signer.pem`` (the chain to sign with) and ``signer-key.pem``; keys are
    owner-only.

    Parameters
    ----------
    directory : path-like
        Created if missing; existing credential files in it are never overwritten.
    organisation : str
        Name placed in the certificates' subjects, with the test marker.
    algorithm : str
        ``es256`` (default), ``es384``, ``es512``, ``ps256`` or ``ed25519``.
    days : int
        Validity of the signing certificate; the root lasts twice as long.

    Raises
    ------
    CredentialError
        If a credential file already exists there or the algorithm is unknown.

    Examples
    --------
    >>> files = create_test_credentials("certs", organisation="ACME")  # doctest: +SKIP
    >>> creds = load_credentials(files.certificate, files.private_key)  # doctest: +SKIP
    """
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise CredentialError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    folder = Path(directory)
    files = TestCredentialFiles(folder / _ROOT, folder / _ROOT_KEY, folder / _CERT, folder / _KEY)
    existing = [str(path) for path in vars(files).values() if path.exists()]
    if existing:
        raise CredentialError(
            f"'{existing[0]}' already exists; choose an empty folder or remove the old credentials")
    root, root_key, leaf, leaf_key = _test_chain(organisation, algorithm, days)
    pkcs8 = serialization.PrivateFormat.PKCS8
    pem = serialization.Encoding.PEM
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CredentialError(f"cannot create the folder '{folder}' ({error.strerror})") from None
    plain = serialization.NoEncryption()
    written = [(files.root_key, root_key.private_bytes(pem, pkcs8, plain), 0o600),  # owner-only from the start
               (files.private_key, leaf_key.private_bytes(pem, pkcs8, plain), 0o600),
               (files.root, root.public_bytes(pem), 0o666), (files.certificate, leaf.public_bytes(pem), 0o666)]
    for path, data, mode in written:
        outputs.write_bytes(path, data, mode=mode, replaceable=False)  # never replaced
    return files


def development_credentials(home: str | os.PathLike[str] | None = None) -> Credentials:
    """The per-user development identity, created on first use.

    Used when the user gives no certificate, so signing works out of the box.
    It lives in ``<aimark home>/development`` (see :func:`aimark_home`) and is
    made anew once its signing certificate has expired. Every signature made
    with it reads back as coming from untrusted development credentials.

    Parameters
    ----------
    home : path-like, optional
        aimark's data folder. Default: :func:`aimark_home`.
    """
    folder = Path(home or aimark_home()) / "development"
    certificate = folder / _CERT
    if folder.exists() and (not certificate.exists() or _expires_soon(certificate)):
        shutil.rmtree(folder)
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Made aside and renamed into place, so a concurrent first use never sees half a folder.
        staging = Path(tempfile.mkdtemp(prefix=".development-", dir=folder.parent))
        create_test_credentials(staging, organisation="aimark development", days=730)
        try:
            staging.rename(folder)
        except OSError:  # another process made it first: use theirs
            shutil.rmtree(staging)
    return replace(load_credentials(certificate, folder / _KEY), root=folder / _ROOT)


def _expires_soon(certificate: Path) -> bool:
    try:
        leaf = x509.load_pem_x509_certificate(certificate.read_bytes())
    except ValueError:
        return True
    return leaf.not_valid_after_utc < dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
