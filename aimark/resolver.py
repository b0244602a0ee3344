"""A client of the C2PA Soft Binding Resolution API: look a binding up, fetch a manifest, register one.

Used by ``aimark verify --resolver`` (a platform asking providers who made a
video) and by stamping workers registering into a remote ``aimark serve``.
Every way a resolver can fail (unreachable, too slow, an error status, an
answer that is not what the API promises) is a :class:`ResolverError` with
one line saying which resolver and why; nothing a resolver sends is trusted
until :mod:`aimark.trust` has checked it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote, urlsplit

from aimark.errors import AimarkError

if TYPE_CHECKING:
    # Imported by the client that makes requests: httpx loads rich and its own command line, a
    # tenth of a second of start-up that every `aimark stamp` into a local repository paid (the
    # settings and the repository name this module for its tokens, errors and URL checks).
    import httpx

#: Media type of a manifest store (C2PA 2.2, the SBR API's ``/manifests`` answers).
C2PA_MEDIA_TYPE = "application/c2pa"
#: Largest manifest store accepted from a resolver: a stamped store is a few tens of kilobytes.
MAX_STORE_BYTES = 16 << 20
#: Largest answer accepted from a resolver other than a manifest store (a matches list is tiny).
MAX_ANSWER_BYTES = 1 << 20
#: Default seconds to wait for a resolver, per request.
DEFAULT_TIMEOUT = 10.0
#: Seconds a byContent upload may wait for its answer: the resolver decodes the whole video first.
CONTENT_TIMEOUT = 300.0


class ResolverError(AimarkError):
    """A resolver could not be asked, or did not answer as the API says it must.

    ``status`` is the HTTP status of an error answer (None when there was no answer).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Match:
    """One entry of a ``matches`` answer."""

    manifest_id: str
    endpoint: str | None = None
    similarity: int | None = None


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest store as a resolver served it, with when it says it was registered."""

    manifest_id: str
    store: bytes
    registered: datetime | None


def _is_loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, token: bool = False) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL a client may use (a token only over https).

    Raises
    ------
    ResolverError
        For another scheme, a URL without a host, or a token to be sent in clear text
        to a host that is not this machine.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ResolverError(f"resolver {url!r} is not an http:// or https:// URL, e.g. https://provider.example/sbr")
    if token and parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ResolverError(f"a token is sent only over https; {url} is plain http to another machine")
    return url.rstrip("/")


class ResolverClient:
    """One resolution service, reached over HTTP.

    Parameters
    ----------
    url : str
        The API's base URL, e.g. ``https://provider.example/sbr``.
    token : str, optional
        Bearer token (``fetch`` to read from a service that refuses anonymous
        reads, ``store`` to register). Sent only over https or to loopback.
    timeout : float
        Seconds per request before the resolver counts as unreachable.

    Examples
    --------
    >>> with ResolverClient("https://provider.example/sbr") as resolver:  # doctest: +SKIP
    ...     matches = resolver.by_binding("org.aimark.watermark.1", "AMD/7hI0Vng=")
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx

        self.url = check_url(url, token=token is not None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, follow_redirects=False,
                                  trust_env=False)

    def _request(self, method: str, path: str, *, limit: int = MAX_ANSWER_BYTES, **options: Any) -> httpx.Response:
        """The answer, read as it streams and cut off past ``limit`` bytes (a resolver cannot fill memory)."""
        import httpx

        try:
            with self._http.stream(method, path, **options) as streamed:
                body = bytearray()
                for chunk in streamed.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise ResolverError(f"resolver {self.url} sent more than {limit:,} bytes to "
                                            f"{method} {path.split('?')[0]}")
                headers = {k: v for k, v in streamed.headers.items()
                           if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")}
                response = httpx.Response(streamed.status_code, headers=headers, content=bytes(body))
        except httpx.TimeoutException:
            waited = options["timeout"].read if "timeout" in options else self._http.timeout.read
            raise ResolverError(f"resolver {self.url} did not answer within {waited:g} s") from None
        except httpx.HTTPError as error:
            raise ResolverError(f"resolver {self.url} cannot be reached ({error.__class__.__name__}: "
                                f"{' '.join(str(error).split()) or 'no detail'})") from None
        if response.status_code >= 400:
            raise ResolverError(f"resolver {self.url} answered {response.status_code} to {method} {path.split('?')[0]}"
                                f"{': ' + _detail(response) if _detail(response) else ''}", response.status_code)
        return response

    def _matches(self, response: httpx.Response) -> list[Match]:
        try:
            entries = response.json()["matches"]
            return [Match(str(entry["manifestId"]), entry.get("endpoint"), entry.get("similarityScore"))
                    for entry in entries]
        except (ValueError, KeyError, TypeError):
            raise ResolverError(f"resolver {self.url} sent a matches answer that is not the API's JSON") from None

    def _upload_timeout(self) -> httpx.Timeout:
        """The client's timeouts, but waiting up to :data:`CONTENT_TIMEOUT` for an answer about uploaded content."""
        import httpx

        return httpx.Timeout(self._http.timeout.connect, read=max(CONTENT_TIMEOUT, self._http.timeout.read or 0))

    def by_binding(self, alg: str, value: str, *, max_results: int = 10) -> list[Match]:
        """Manifests registered for a soft binding (``GET /matches/byBinding``)."""
        return self._matches(self._request("GET", "/matches/byBinding",
                                           params={"alg": alg, "value": value, "maxResults": max_results}))

    def by_content(self, path: str | os.PathLike[str], media_type: str, *, max_results: int = 10) -> list[Match]:
        """Manifests whose watermark the resolver finds in the video at ``path`` (``POST /matches/byContent``).

        The file is streamed, never read whole into memory; the answer may take up to
        :data:`CONTENT_TIMEOUT` seconds (the resolver decodes the whole video).
        """
        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    yield chunk

        size = Path(path).stat().st_size
        return self._matches(self._request("POST", "/matches/byContent", params={"maxResults": max_results},
                                           content=chunks(), timeout=self._upload_timeout(),
                                           headers={"Content-Type": media_type, "Content-Length": str(size)}))

    def by_evidence(self, body: bytes, *, max_results: int = 10) -> list[Match]:
        """Manifests whose watermark the resolver's keys find in key-independent evidence (aimark's vendor route).

        ``body`` is :meth:`aimark.evidence.Accumulator.encode`'s output; the video itself is never sent.
        """
        from aimark import evidence

        return self._matches(self._request("POST", "/vendor/org.aimark/matches/byEvidence", content=body,
                                           params={"maxResults": max_results}, timeout=self._upload_timeout(),
                                           headers={"Content-Type": evidence.MEDIA_TYPE}))

    def manifest(self, manifest_id: str) -> FetchedManifest:
        """The manifest store registered as ``manifest_id`` (``GET /manifests/{manifestId}``)."""
        response = self._request("GET", f"/manifests/{quote(manifest_id, safe=':')}", limit=MAX_STORE_BYTES)
        if response.headers.get("content-type", "").split(";")[0].strip() != C2PA_MEDIA_TYPE:
            raise ResolverError(f"resolver {self.url} sent {response.headers.get('content-type') or 'no type'} "
                                f"for manifest {manifest_id}, not {C2PA_MEDIA_TYPE}")
        try:
            registered = parsedate_to_datetime(response.headers["last-modified"])
        except (KeyError, TypeError, ValueError):
            registered = None
        return FetchedManifest(manifest_id, response.content, registered)

    def register(self, store: bytes) -> str:
        """Store a manifest store (``POST /manifests``, needs a ``store`` token); its manifestId."""
        response = self._request("POST", "/manifests", content=store, headers={"Content-Type": C2PA_MEDIA_TYPE})
        try:
            return str(response.json()["manifestId"])
        except (ValueError, KeyError, TypeError):
            raise ResolverError(f"resolver {self.url} did not say which manifestId it stored") from None

    def delete(self, manifest_id: str) -> None:
        """Forget a stored manifest (``DELETE /manifests/{manifestId}``, needs a ``store`` token)."""
        self._request("DELETE", f"/manifests/{quote(manifest_id, safe=':')}")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ResolverClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def token_from_file(path: str | os.PathLike[str]) -> str:
    """A bearer token kept in a file (its first line; secrets never come from the command line).

    Raises
    ------
    ResolverError
        If the file cannot be read or is empty.
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ResolverError(f"cannot read the token file '{path}' ({getattr(error, 'strerror', None) or error})"
                            ) from None
    if not token:
        raise ResolverError(f"the token file '{path}' is empty; write the token from `aimark tokens add` into it")
    return token[0].strip()


def media_type_of(path: str | os.PathLike[str]) -> str:
    """The media type to declare when sending a video file, by its suffix (``video/mp4`` by default)."""
    return {".mov": "video/quicktime", ".mkv": "video/x-matroska", ".webm": "video/webm",
            ".ts": "video/mp2t"}.get(Path(path).suffix.lower(), "video/mp4")


def _detail(response: httpx.Response) -> str:
    """The service's one-line reason (``{"detail": ...}``), if it sent one."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    return " ".join(str(detail).split())[:300] if detail else ""
