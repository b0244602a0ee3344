"""Registering into a remote ``aimark serve``, and opening whichever repository a location names.

A stamping worker that does not hold the provider's database registers each
manifest store through the service (``POST /manifests`` with a ``store``
token); the service derives the record from the signed store itself. A
``postgresql://`` URL or a path opens the database directly instead.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from aimark.resolver import DEFAULT_TIMEOUT, ResolverClient, ResolverError, token_from_file
from manifests import WATERMARK_ALGORITHM, binding_value
from manifests.repository import ManifestRepository, Record, RepositoryError, record_from_store
from manifests.repository import open_repository as open_database_repository

#: Environment variable holding the token for a remote repository (a ``store`` token).
TOKEN_ENV = "AIMARK_REPOSITORY_TOKEN"


def is_remote(location: str | os.PathLike[str] | None) -> bool:
    """Whether ``location`` is the URL of a resolution service rather than a database."""
    return isinstance(location, str) and location.split("://", 1)[0] in ("http", "https")


class RemoteRepository:
    """A :class:`~manifests.repository.ManifestRepository` behind an ``aimark serve``.

    Parameters
    ----------
    url : str
        The service's base URL.
    token : str
        A token with the ``store`` scope.
    timeout : float
        Seconds per request.
    """

    def __init__(self, url: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not token:
            raise RepositoryError(f"registering into {url} needs a token with the store scope: put it in "
                                  f"${TOKEN_ENV} or in a file named by [repository] token_file")
        try:
            self._client = ResolverClient(url, token=token, timeout=timeout)
        except ResolverError as error:
            raise RepositoryError(str(error)) from None
        self.location = self._client.url

    def add(self, record: Record) -> None:
        """Register ``record.store``; the service reads everything else from the signed store."""
        try:
            self._client.register(record.store)
        except ResolverError as error:
            if error.status == 409:
                raise RepositoryError(f"identifier {record.identifier} is already registered in {self.location}; "
                                      "each video needs its own identifier") from None
            raise RepositoryError(f"cannot register in {self.location}: {error}") from None

    def remove(self, identifier: str) -> None:
        """Undo a registration (the stamper could not publish the video): the service forgets its manifest."""
        try:
            matches = self._client.by_binding(WATERMARK_ALGORITHM, binding_value(identifier), max_results=1)
            for match in matches:
                self._client.delete(match.manifest_id)
        except ResolverError as error:
            raise RepositoryError(f"cannot undo the registration of {identifier} in {self.location}: {error}") from None

    def get(self, identifier: str) -> Record | None:
        """The record for ``identifier``, rebuilt from the store the service holds (as the service registered it)."""
        try:
            matches = self._client.by_binding(WATERMARK_ALGORITHM, binding_value(identifier), max_results=1)
            if not matches:
                return None
            fetched = self._client.manifest(matches[0].manifest_id)
        except ResolverError as error:
            raise RepositoryError(f"cannot look {identifier} up in {self.location}: {error}") from None
        # Last-Modified is the service's registration time; a service that does not say is taken as 'now'.
        return record_from_store(fetched.store, registered=fetched.registered or datetime.now(timezone.utc))

    def records(self, *, limit: int | None = None) -> list[Record]:
        raise RepositoryError(f"{self.location} is a resolution service; list its records on the provider's "
                              "database (aimark repository list --repository postgresql://...)")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_token(path: str | os.PathLike[str] | None) -> str | None:
    """A token from ``path``, else from ``$AIMARK_REPOSITORY_TOKEN``, else None."""
    if path is not None:
        try:
            return token_from_file(path)
        except ResolverError as error:
            raise RepositoryError(str(error)) from None
    return os.environ.get(TOKEN_ENV) or None


def open_repository(location: str | os.PathLike[str] | None = None, *,
                    token_file: str | os.PathLike[str] | None = None) -> ManifestRepository:
    """The repository ``location`` names: an ``https://`` service, a ``postgresql://`` server, or an SQLite file.

    Examples
    --------
    >>> open_repository("https://provider.example/sbr", token_file="worker.token")  # doctest: +SKIP
    """
    if is_remote(location):
        return RemoteRepository(str(location), read_token(token_file))
    return open_database_repository(location)
