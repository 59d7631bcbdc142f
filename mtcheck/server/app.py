"""The HTTP app behind ``mtcheck serve``: a JSON API and a page for editors.

Endpoints: ``POST /v1/check``, ``GET /v1/rules``, ``GET /healthz``, ``GET /openapi.json`` (and
``/docs``), ``GET /`` (the page, with its assets under ``/static/``). The checking itself is
:class:`mtcheck.server.service.CheckService`; limits and headers are :mod:`mtcheck.server.http`;
request and response shapes are :mod:`mtcheck.server.schemas`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from mtcheck import __version__
from mtcheck.errors import MtcheckError
from mtcheck.formats import FORMATS
from mtcheck.formats.base import registered
from mtcheck.server.http import (
    BodyLimit,
    ClientGone,
    SecurityHeaders,
    error_response,
    unless_gone,
)
from mtcheck.server.schemas import CheckRequest, ErrorOut, HealthOut, ReportOut, RuleOut
from mtcheck.server.service import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_REQUEST_TIMEOUT,
    LOCAL_HOSTS,
    CheckService,
    OptionError,
    check_and_render,
    check_in_worker,
)

log = logging.getLogger("mtcheck.server.app")

DEFAULT_MAX_BODY = 1_000_000

# Every output format of `mtcheck check --format`, with the media type it is served as.
MEDIA_TYPES: dict[str, str] = {name: registered()[name].media_type for name in FORMATS}
FormatName = Literal[FORMATS]  # type: ignore[valid-type]  (the OpenAPI schema lists the names)

# The page loads only its own same-origin assets and talks only to this server.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# A rendered HTML report holds user text and inline script: keep it in an opaque origin.
REPORT_CSP = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
STATIC_FILES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}


# -- HTTP plumbing ----------------------------------------------------------------------------------


def _validation_details(errors: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One readable sentence per problem ("text: Input should be a valid string") and their details."""
    messages, details = [], []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        kind = error.get("type")
        if kind == "json_invalid":
            # pydantic puts the character position where the field name would be.
            position = f" at character {location[0]}" if location else ""
            reason = (error.get("ctx") or {}).get("error", "")
            text = f"the body is not valid JSON{position}" + (f" ({reason})" if reason else "")
            location = []
        elif kind == "missing" and not location:
            text = 'the body is empty: send a JSON object such as {"text": "…"}'
        elif kind in ("model_attributes_type", "dict_type", "model_type") and not location:
            text = 'the body must be a JSON object such as {"text": "…"}, sent as Content-Type: application/json'
        else:
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            text = f"{where}: {message}"
        messages.append(text)
        details.append({"loc": location, "type": error.get("type"), "message": text})
    return "; ".join(messages), details


def _static(name: str) -> bytes:
    return resources.files("mtcheck").joinpath("static", name).read_bytes()


# -- the app ----------------------------------------------------------------------------------------


def create_app(service: CheckService | None = None, max_body: int = DEFAULT_MAX_BODY,
               max_queue: int = DEFAULT_MAX_QUEUE, request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
               allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The ASGI app; ``service`` defaults to one built from the default configuration.

    Load shedding: at most ``max_queue`` checks are accepted at once (the rest answer 503 with
    Retry-After at once); a check that has not finished after ``request_timeout`` seconds answers
    503; a check whose client has disconnected is cancelled before it starts (a running one cannot
    be interrupted: its thread finishes, and its result is dropped). ``allowed_hosts``: the Host
    headers served (default: the local names; "*" for any), against DNS rebinding.
    """
    service = service or CheckService()
    limiter: dict[str, anyio.CapacityLimiter] = {}
    accepted = {"now": 0}

    def capacity() -> anyio.CapacityLimiter:
        # Created on first use, inside the running event loop, as anyio wants.
        if "threads" not in limiter:
            limiter["threads"] = anyio.CapacityLimiter(service.threads)
        return limiter["threads"]

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=capacity())

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ARG001
        capacity()
        await service.warm_up()
        try:
            yield
        finally:
            service.close()

    async def checked(body: CheckRequest, fmt: str) -> bytes:
        checker = service.checker_for(body.options)
        pool = None if checker.config.lm else service.pool()
        if pool is None:
            return await in_thread(check_and_render, checker, body.text, body.source, fmt)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, check_in_worker, checker.config, body.text, body.source, fmt)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a fresh pool for the next requests.
            service.discard_pool(pool)
            raise

    app = FastAPI(
        title="mtcheck",
        version=__version__,
        description=(
            "Find garbled machine-translated English and point at the exact spans. "
            "`POST /v1/check` answers in the schema of `mtcheck check --format json`; "
            "offsets are code-point indices into the text as sent."
        ),
        lifespan=lifespan,
    )
    app.state.service = service
    # Middleware added last runs first: the size limit comes before any parsing, and even its 413
    # answers get the security headers.
    app.add_middleware(BodyLimit, max_body=max_body)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts or LOCAL_HOSTS))
    app.add_middleware(SecurityHeaders)
    page = _static("index.html")
    assets = {name: _static(name) for name in STATIC_FILES}

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:  # noqa: ARG001
        message, details = _validation_details(exc.errors())
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:  # noqa: ARG001
        if exc.status_code == 400:  # the body could not be parsed (e.g. JSON nested too deeply): a schema error
            return error_response(422, "invalid_request", f"the body is not a valid JSON request: {exc.detail}")
        names = {404: "not_found", 405: "method_not_allowed"}
        return error_response(exc.status_code, names.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(MtcheckError)
    async def check_failed(request: Request, exc: MtcheckError) -> JSONResponse:  # noqa: ARG001
        log.error("check failed: %s", exc)
        return error_response(500, "check_failed", str(exc))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
        # The traceback is still logged by the server; the client gets JSON, not a bare text page.
        return error_response(500, "internal_error", f"the server failed: {type(exc).__name__}")

    errors = {413: {"model": ErrorOut, "description": "The body is over the size limit."},
              422: {"model": ErrorOut, "description": "Malformed JSON, wrong types, unknown codes or options."}}

    @app.post(
        "/v1/check",
        tags=["check"],
        summary="Check one text",
        response_class=JSONResponse,
        responses={
            200: {"model": ReportOut, "description": "The report (format=json), or the report rendered in `format`.",
                  "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in MEDIA_TYPES if f != "json"}},
            **errors,
        },
    )
    async def check(
        request: Request,
        body: CheckRequest,
        format: FormatName = Query("json", description="Output format, as `mtcheck check --format`."),  # noqa: A002
    ) -> Response:
        if accepted["now"] >= max_queue:
            return error_response(503, "busy", f"the server is checking {max_queue} texts already; try again shortly",
                                  headers={"Retry-After": "1"})
        accepted["now"] += 1
        try:
            rendered = await unless_gone(request, asyncio.wait_for(checked(body, format), request_timeout))
        except TimeoutError:
            return error_response(503, "timeout", f"the check took more than {request_timeout:g} s; send less text "
                                  "or try again later", headers={"Retry-After": "5"})
        except ClientGone:
            return Response(status_code=499)  # nobody reads it; the work was cancelled
        except OptionError as exc:
            return error_response(422, "invalid_request", f"options.lm: {exc}",
                                  [{"loc": ["options", "lm"], "type": "unavailable", "message": str(exc)}])
        except BrokenProcessPool:
            return error_response(503, "worker_died", "a checking process died; please try again",
                                  headers={"Retry-After": "1"})
        finally:
            accepted["now"] -= 1
        headers = {"Content-Security-Policy": REPORT_CSP} if format == "html" else None
        return Response(rendered, media_type=MEDIA_TYPES[format], headers=headers)

    @app.get("/v1/rules", tags=["rules"], summary="Every rule", response_model=list[RuleOut])
    async def rules() -> JSONResponse:
        return JSONResponse(service.rules)

    @app.get("/healthz", tags=["health"], summary="Liveness and model status", response_model=HealthOut)
    async def health() -> JSONResponse:
        return JSONResponse({
            "status": "ok",
            "version": __version__,
            "model_loaded": service.model_loaded,
            "model": service.model_identity,
            "lm_default": bool(service.config.lm),
            "max_body_bytes": max_body,
        })

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:
            raise StarletteHTTPException(404, f"no such file: /static/{name}")
        return Response(assets[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    return app

