"""``aimark serve``: the C2PA Soft Binding Resolution API over a manifest repository.

A provider (or a registry acting for several) runs it so that platforms can
find the manifest of a video whose metadata was stripped: by the identifier
its watermark carries (``/matches/byBinding``), or by uploading the video so
the provider's own keys detect a private mark (``/matches/byContent``), then
``/manifests/{manifestId}``. Stamping workers register through ``POST
/manifests`` with a ``store`` token.

Routes, parameters, answers and status codes follow the SBR API document
(OpenAPI ``info.version`` 1.1.0 of the C2PA 2.2 companion, with the 2.x store
routes). Every error answer is ``{"detail": "one line"}``. Nothing a request
carries is turned into a path, a URL or SQL: values go to the database as
parameters, uploads to a temporary file the service names itself.
"""

import asyncio
import json
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Callable, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware import Middleware
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import watermark
from aimark import __version__, evidence
from aimark.resolver import C2PA_MEDIA_TYPE, MAX_STORE_BYTES
from aimark.service.tokens import TokenStore
from aimark.service.uploads import UploadError, detect_upload, received
from manifests import WATERMARK_ALGORITHM, ValidationState, identifier_from_binding, validate_store
from manifests.database import DuplicateError
from manifests.reading import load_trust_anchors
from manifests.errors import DescriptionError, RepositoryError
from manifests.repository import DatabaseRepository, open_repository, record_from_store, soft_bindings

#: The SBR API edition the routes follow.
API_VERSION = "1.1.0"
#: Largest ``maxResults`` honoured (an identifier has one manifest; more is never useful).
MAX_RESULTS = 100
#: A byBinding query longer than this must use POST (414).
MAX_QUERY = 2048
#: Prefix of aimark's own routes (the SBR document's place for vendor extensions).
VENDOR = "/vendor/org.aimark"
#: Environment variable through which ``aimark serve`` gives its options to each worker process.
CONFIG_ENV = "AIMARK_SERVE_CONFIG"
#: Default upload limit: 2 GiB.
DEFAULT_MAX_UPLOAD = 2 << 30
_MANIFEST_ID = r"^urn:[A-Za-z0-9][A-Za-z0-9:._-]{0,250}$"
#: The standard base64 of exactly 8 bytes (the last digit before '=' carries 4 bits).
_BINDING_VALUE = r"^[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=$"
Alg = Literal[WATERMARK_ALGORITHM]  # type: ignore[valid-type]  (the one algorithm, as the OpenAPI document's enum)


@dataclass(frozen=True)
class ServiceConfig:
    """What one service process serves, and its limits.

    Attributes
    ----------
    repository : str
        The repository's location: an SQLite path or a ``postgresql://`` URL.
    keys : tuple of watermark.Key
        Keys byContent detects with (the provider's private keys stay here).
    anonymous_reads : bool
        Whether lookups and manifest reads need no token (else a ``fetch`` token).
    trust_anchors : bytes, optional
        PEM roots; when given, only manifests signed under them are registered.
    max_upload_bytes, max_decode_seconds, max_concurrent_uploads
        byContent limits: body size, decoding time, uploads analysed at once.
    upload_folder : Path, optional
        Where uploads are written while analysed (default: the system's temporary folder).
    """

    repository: str
    keys: tuple[watermark.Key, ...] = ()
    anonymous_reads: bool = True
    trust_anchors: bytes | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    max_decode_seconds: float = 300.0
    max_concurrent_uploads: int = 2
    upload_folder: Path | None = None


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class SoftBindingQuery(_Model):
    """``c2pa.softBindingQuery``."""

    alg: Alg = Field(description="Soft binding algorithm: org.aimark.watermark.1.")
    value: str = Field(description="Standard base64 of the identifier's 8 bytes, big-endian.", pattern=_BINDING_VALUE)


class BindingRequest(_Model):
    """A binding for a stored manifest (the 2.x store route)."""

    alg: Alg
    binding_value: str = Field(alias="bindingValue", pattern=_BINDING_VALUE)
    manifest_id: str = Field(alias="manifestId", max_length=256, pattern=_MANIFEST_ID)


class Match(_Model):
    manifest_id: str = Field(alias="manifestId", description="Label of the matched manifest.")
    endpoint: str | None = Field(default=None, description="Another resolver holding it (absent: this one).")
    similarity_score: int | None = Field(default=None, alias="similarityScore", ge=0, le=100)


class SoftBindingQueryResult(_Model):
    """``c2pa.softBindingQueryResult``."""

    matches: list[Match]


class Algorithm(_Model):
    alg: str


class SoftBindingAlgList(_Model):
    """``c2pa.softBindingAlgList``."""

    watermarks: list[Algorithm]
    fingerprints: list[Algorithm]


class Stored(_Model):
    manifest_id: str = Field(alias="manifestId")


class Health(_Model):
    status: str
    version: str


class Problem(_Model):
    """Every error answer: one line a person can act on."""

    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {400: "Invalid request", 401: "Missing or unknown bearer token", 403: "The token lacks the scope",
             404: "Not found", 409: "Already registered", 413: "Too large, or too long to decode",
             414: "Query too long: use POST", 415: "Unsupported media type", 503: "Busy or unavailable"}
    return {code: {"model": Problem, "description": words[code]} for code in codes}


async def _body(request: Request, limit: int, what: str) -> bytes:
    """The request body, read as it streams and refused past ``limit`` bytes (413)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"{what} is at most {limit:,} bytes")
    return bytes(body)


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _matches(manifest_ids: list[str], limit: int) -> SoftBindingQueryResult:
    return SoftBindingQueryResult(matches=[Match(manifest_id=label, similarity_score=100)
                                           for label in manifest_ids[:limit]])


class _LongQueries:
    """414 before any parsing: a query this long is a binding for the POST form, or an attack.

    Plain ASGI (not Starlette's BaseHTTPMiddleware, which costs a task and a queue per request).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > MAX_QUERY:
            response = JSONResponse({"detail": f"the query is longer than {MAX_QUERY} characters; POST the "
                                               "binding to /matches/byBinding"}, status_code=414)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(config: ServiceConfig, repository: DatabaseRepository | None = None) -> FastAPI:
    """The service as an ASGI application (run it with uvicorn, or ``aimark serve``).

    Parameters
    ----------
    config : ServiceConfig
    repository : DatabaseRepository, optional
        An opened repository to serve (default: opened from ``config.repository``, closed at shutdown).

    Examples
    --------
    >>> app = create_app(ServiceConfig("postgresql://aimark@db/manifests"))  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8080)  # doctest: +SKIP
    """
    repo = repository if repository is not None else open_repository(config.repository)
    tokens = TokenStore(repo.database)
    uploads = asyncio.Semaphore(max(1, config.max_concurrent_uploads))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if repository is None:
            repo.close()

    app = FastAPI(title="aimark Soft Binding Resolution API", version=API_VERSION, lifespan=lifespan,
                  middleware=[Middleware(_LongQueries)],
                  description="The C2PA Soft Binding Resolution API over an aimark manifest repository "
                              f"(aimark {__version__}). Errors are {{\"detail\": \"...\"}}. Vendor routes "
                              "live under /vendor/org.aimark/.")
    bearer = HTTPBearer(auto_error=False, description="A token from `aimark tokens add` "
                                                      "(scopes: store, fetch).")

    def needs(scope: str) -> Callable[..., None]:
        # async: no thread hop per request; a token check is one indexed query
        async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
            if credentials is None:
                raise HTTPException(401, f"this route needs a bearer token with the {scope} scope",
                                    headers={"WWW-Authenticate": "Bearer"})
            scopes = tokens.scopes(credentials.credentials)
            if scopes is None:
                raise HTTPException(401, "the bearer token is not one of this service's",
                                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if scope not in scopes and not (scope == "fetch" and "store" in scopes):  # a writer may read
                raise HTTPException(403, f"the token lacks the {scope} scope (it has {', '.join(scopes)})",
                                    headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'})

        return check

    # Anonymous reads resolve no dependency at all: on the lookup path that is half the framework's work.
    reader = [] if config.anonymous_reads else [Depends(needs("fetch"))]
    writer = [Depends(needs("store"))]

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def problem(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(RepositoryError)
    async def unavailable(_: Request, error: RepositoryError) -> JSONResponse:
        return JSONResponse({"detail": "the manifest repository is unavailable; try again later"}, status_code=503)

    def lookup(alg: str, value: str, limit: int) -> JSONResponse:
        """The answer, written directly: the hot path skips response-model validation (the shape is fixed here)."""
        try:
            identifier = identifier_from_binding(value)
        except DescriptionError as error:
            raise HTTPException(400, str(error)) from None
        label = repo.manifest_of(identifier)  # one indexed query, well under a millisecond: run in place
        return JSONResponse(_matches([label] if label else [], limit).model_dump(by_alias=True, exclude_none=True))

    @app.get("/matches/byBinding", tags=["query"], operation_id="queryByBinding", dependencies=reader,
                          response_model=SoftBindingQueryResult, response_model_exclude_none=True,
             responses=_errors(400, 401, 403, 414, 503), summary="Manifests registered for a soft binding")
    async def by_binding(alg: Annotated[Alg, Query()], value: Annotated[str, Query(pattern=_BINDING_VALUE)],
                         max_results: Annotated[int, Query(alias="maxResults", ge=1)] = 10) -> JSONResponse:
        return lookup(alg, value, min(max_results, MAX_RESULTS))

    @app.post("/matches/byBinding", tags=["query"], operation_id="queryByLargeBinding", dependencies=reader,
                           response_model=SoftBindingQueryResult, response_model_exclude_none=True,
              responses=_errors(400, 401, 403, 503), summary="The same, with the binding in the body")
    async def by_large_binding(query: SoftBindingQuery,
                               max_results: Annotated[int, Query(alias="maxResults", ge=1)] = 10) -> JSONResponse:
        return lookup(query.alg, query.value, min(max_results, MAX_RESULTS))

    @app.post("/matches/byContent", tags=["query"], operation_id="uploadFile", dependencies=reader,
              response_model=SoftBindingQueryResult, response_model_exclude_none=True,
              responses=_errors(400, 401, 403, 413, 415, 503),
              openapi_extra={"requestBody": {"required": True, "content": {
                  "video/*": {"schema": {"type": "string", "format": "binary"}}}}},
              summary="Manifests whose watermark the provider's keys find in an uploaded video")
    async def by_content(request: Request, alg: Annotated[Alg | None, Query()] = None,
                         max_results: Annotated[int, Query(alias="maxResults", ge=1)] = 10) -> SoftBindingQueryResult:
        media = _media(request)
        if not media.startswith("video/"):
            raise HTTPException(415, f"send the video with a video/* Content-Type, not {media[:80] or 'none'}")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_upload_bytes:
            raise HTTPException(413, f"the upload is larger than the service's limit of "
                                     f"{config.max_upload_bytes:,} bytes")
        if uploads.locked():
            raise HTTPException(503, "every upload slot is busy; retry in a minute", headers={"Retry-After": "60"})
        async with uploads:
            try:
                async with received(request.stream(), limit=config.max_upload_bytes,
                                    folder=config.upload_folder) as video:
                    detections = await run_in_threadpool(detect_upload, video, config.keys or (watermark.DEFAULT_KEY,),
                                                         max_seconds=config.max_decode_seconds)
            except UploadError as error:
                raise HTTPException(error.status, str(error)) from None
        return await answer(detections, max_results)

    async def answer(detections: list[watermark.Detection], max_results: int) -> SoftBindingQueryResult:
        """The manifests registered for the identifiers the service's keys found."""
        found = {d.identifier for d in detections if d.detected and d.identifier}
        labels = await run_in_threadpool(lambda: [m for m in map(repo.manifest_of, sorted(found)) if m])
        return _matches(labels, min(max_results, MAX_RESULTS))

    @app.post(f"{VENDOR}/matches/byEvidence", tags=["vendor"], operation_id="queryByEvidence", dependencies=reader,
              response_model=SoftBindingQueryResult, response_model_exclude_none=True,
              responses=_errors(400, 401, 403, 413, 415, 503),
              openapi_extra={"requestBody": {"required": True, "content": {
                  evidence.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
              summary="Manifests whose watermark the provider's keys find in key-independent evidence "
                      f"({evidence.ALGORITHM}: the video's whitened frames summed, never the video)")
    async def by_evidence(request: Request,
                          max_results: Annotated[int, Query(alias="maxResults", ge=1)] = 10) -> SoftBindingQueryResult:
        if _media(request) != evidence.MEDIA_TYPE:
            raise HTTPException(415, f"send the evidence as {evidence.MEDIA_TYPE}, "
                                     f"not {_media(request)[:80] or 'none'}")
        try:
            views = evidence.decode(await _body(request, evidence.MAX_BYTES, "evidence"))
        except evidence.EvidenceError as error:
            raise HTTPException(400, str(error)) from None
        if uploads.locked():
            raise HTTPException(503, "every analysis slot is busy; retry in a minute", headers={"Retry-After": "60"})
        async with uploads:
            detections = await run_in_threadpool(search, views)
        return await answer(detections, max_results)

    def search(views: evidence.Views) -> list[watermark.Detection]:
        detector = watermark.Detector(config.keys or (watermark.DEFAULT_KEY,))
        detector.add_sums(views)
        return detector.results()

    @app.get("/manifests/{manifestId}", tags=["fetch"], operation_id="getManifestById", dependencies=reader,
                          responses={200: {"content": {C2PA_MEDIA_TYPE: {}}, "description": "The manifest store"},
                        **_errors(400, 401, 403, 404, 503)},
             response_class=Response, summary="A registered manifest store (application/c2pa)")
    def get_manifest(manifest_id: Annotated[str, PathParam(alias="manifestId", pattern=_MANIFEST_ID)],
                     return_active: Annotated[bool, Query(alias="returnActiveManifest")] = False) -> Response:
        record = repo.find_manifest(manifest_id)
        if record is None:
            raise HTTPException(404, f"no manifest {manifest_id} in this repository")
        # A stamped store holds exactly its active manifest, so both answers are the same bytes.
        return Response(record.store, media_type=C2PA_MEDIA_TYPE, headers={
            "Last-Modified": format_datetime(record.registered.astimezone(timezone.utc), usegmt=True)})

    @app.post("/manifests", tags=["store"], operation_id="storeManifest", dependencies=writer, status_code=201,
              response_model=Stored, responses=_errors(400, 401, 403, 409, 413, 415, 503),
              openapi_extra={"requestBody": {"required": True, "content": {
                  C2PA_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
              summary="Register a manifest store made by aimark stamp (its soft binding and fingerprint inside)")
    async def store_manifest(request: Request) -> Stored:
        if _media(request) != C2PA_MEDIA_TYPE:
            raise HTTPException(415, f"send the manifest store as {C2PA_MEDIA_TYPE}, "
                                     f"not {_media(request)[:80] or 'none'}")
        return await run_in_threadpool(register, await _body(request, MAX_STORE_BYTES, "a manifest store"))

    def register(store: bytes) -> Stored:
        state, reasons = validate_store(store, config.trust_anchors)
        if state is ValidationState.INVALID:
            raise HTTPException(400, f"the manifest store does not validate: {'; '.join(reasons)}")
        if config.trust_anchors is not None and state is not ValidationState.TRUSTED:
            raise HTTPException(403, "the manifest's signer is not under this service's trust anchors")
        try:
            record = record_from_store(store, registered=datetime.now(timezone.utc))
        except RepositoryError as error:
            raise HTTPException(400, str(error)) from None
        try:
            repo.add(record)
        except DuplicateError as error:
            raise HTTPException(409, str(error).replace(f" in '{repo.location}'", "")) from None
        return Stored(manifest_id=record.manifest_id)

    @app.delete("/manifests/{manifestId}", tags=["store"], operation_id="deleteManifest", dependencies=writer,
                status_code=204, response_class=Response, responses=_errors(400, 401, 403, 404, 503),
                summary="Forget a registered manifest (a stamping worker undoing a registration it could not publish)")
    def delete_manifest(manifest_id: Annotated[str, PathParam(alias="manifestId", pattern=_MANIFEST_ID)]) -> Response:
        record = repo.find_manifest(manifest_id)
        if record is None:
            raise HTTPException(404, f"no manifest {manifest_id} in this repository")
        repo.remove(record.identifier)
        return Response(status_code=204)

    @app.post("/bindings", tags=["store"], operation_id="storeBinding", dependencies=writer, status_code=204,
              response_class=Response, responses=_errors(400, 401, 403, 404, 503),
              summary="Confirm a binding that a stored manifest itself declares (others are refused)")
    def store_binding(binding: BindingRequest) -> Response:
        record = repo.find_manifest(binding.manifest_id)
        if record is None:
            raise HTTPException(404, f"no manifest {binding.manifest_id} in this repository")
        if (binding.alg, binding.binding_value) not in soft_bindings(record.store):
            raise HTTPException(400, "the manifest does not declare this binding; a binding must be inside the "
                                     "signed manifest (its c2pa.soft-binding assertion)")
        return Response(status_code=204)

    @app.get("/services/supportedAlgorithms", tags=["service"], operation_id="getSupportedBindings",
             response_model=SoftBindingAlgList, summary="The soft binding algorithms this service resolves")
    def supported() -> SoftBindingAlgList:
        return SoftBindingAlgList(watermarks=[Algorithm(alg=WATERMARK_ALGORITHM)], fingerprints=[])

    @app.get("/health", tags=["service"], operation_id="health", response_model=Health,
             responses=_errors(503), summary="Whether the service and its database answer")
    def health() -> Health:
        repo.database.execute("SELECT 1")
        return Health(status="ok", version=__version__)

    return app


def app_from_environment() -> FastAPI:
    """The application each ``aimark serve`` worker process runs, from the options the command put in
    ``$AIMARK_SERVE_CONFIG`` (key and trust-anchor *files*, never their contents)."""
    options = json.loads(os.environ[CONFIG_ENV])
    keys = tuple(watermark.Key.load(path) for path in options.pop("key_files"))
    anchors = options.pop("trust_anchors_file")
    return create_app(ServiceConfig(keys=keys, trust_anchors=load_trust_anchors(anchors) if anchors else None,
                                    **options))

