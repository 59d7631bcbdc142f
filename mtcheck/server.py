"""The editorial HTTP service behind ``mtcheck serve``: a JSON API and a page for editors.

Endpoints: ``POST /v1/check``, ``GET /v1/rules``, ``GET /healthz``, ``GET /openapi.json`` (and
``/docs``), ``GET /`` (the page, with its assets under ``/static/``).

Concurrency: one :class:`CheckService` per server holds the configuration and the language model,
loaded once before the server binds. Checking is CPU-bound, so it never runs on the event loop:

- requests that use the model run in worker threads (at most ``threads`` at once); the fluency
  model is wrapped so that one thread at a time calls it (a torch model shared between threads
  gains nothing on a CPU and is not documented as thread-safe);
- heuristics-only requests run in a small pool of worker processes when ``processes`` > 0 (each
  builds its own light Checker; torch is never imported there), else in the same worker threads.
  Pure-Python rules in threads hold the GIL and starve the event loop: with 50 clients
  (scripts/loadtest.py) threads gave several times the p99 latency of the process pool and less
  throughput.

Per-request options never touch the shared Checker: a request that changes select/ignore/lm gets
its own light Checker that shares the same locked model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
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
from mtcheck.config import Config
from mtcheck.errors import MtcheckError
from mtcheck.findings import Report
from mtcheck.pipeline import Checker
from mtcheck.rules.base import Rule, all_rules
from mtcheck.server_http import BodyLimit, ClientGone, SecurityHeaders, error_response, unless_gone
from mtcheck.server_schemas import CheckOptions, CheckRequest, ErrorOut, HealthOut, ReportOut, RuleOut

log = logging.getLogger("mtcheck.server")

DEFAULT_MAX_BODY = 1_000_000
DEFAULT_THREADS = 4
DEFAULT_MAX_QUEUE = 32  # checks accepted at once (running and waiting); more get 503 at once
DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds a check may take, waiting included, before 503
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
FLUENCY_CODES = ("F001", "F002")

# Every output format of `mtcheck check --format`, with the media type it is served as.
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "sarif": "application/sarif+json",
    "github": "text/plain; charset=utf-8",
    "junit": "application/xml; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
FormatName = Literal["json", "jsonl", "sarif", "github", "junit", "markdown", "text", "html"]

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


# -- the checking service ---------------------------------------------------------------------------


class OptionError(ValueError):
    """A request's options cannot be honoured by this server (for example lm without a model)."""


class LockedFluency:
    """The shared fluency model behind a lock: one thread at a time calls the language model."""

    def __init__(self, model: Any, lock: threading.Lock | None = None) -> None:
        self.model = model
        self.lock = lock or threading.Lock()

    def analyse(self, documents: Sequence[Any], ctx: Any, spans: bool = True) -> Any:
        with self.lock:
            return self.model.analyse(documents, ctx, spans=spans)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


class CheckService:
    """The configuration, the shared Checker and the model, created once per server."""

    def __init__(self, config: Config | None = None, fluency: Any = None, threads: int = DEFAULT_THREADS,
                 processes: int = 0) -> None:
        config = config or Config()
        if fluency is None and config.lm and config.enabled("F"):
            from mtcheck.fluency.detector import Detector

            fluency = Detector.from_config(config)  # loaded here, once, before any request
        self.fluency = LockedFluency(fluency) if fluency is not None else None
        base = config if self.fluency is not None else config.merged(lm=False)
        self.checker = Checker(base, fluency=self.fluency)
        self.threads = threads
        self.processes = processes
        self.rules = rule_rows(all_rules())
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def config(self) -> Config:
        return self.checker.config

    @property
    def model_loaded(self) -> bool:
        return self.fluency is not None

    @property
    def model_identity(self) -> str | None:
        if self.fluency is None:
            return None
        scorer = getattr(self.fluency.model, "scorer", None)
        return getattr(scorer, "identity", None) or type(self.fluency.model).__name__

    def checker_for(self, options: CheckOptions) -> Checker:
        """The shared Checker, or a light one for this request's options (sharing the locked model)."""
        lm = self.config.lm if options.lm is None else options.lm
        if lm and not self.model_loaded:
            raise OptionError("the language model is not loaded on this server (started with --no-lm); "
                              "send options.lm = false or leave it out")
        select = tuple(options.select) if options.select else self.config.select
        ignore = self.config.ignore + tuple(c for c in options.ignore or () if c not in self.config.ignore)
        config = self.config.merged(select=select, ignore=ignore)
        # No fluency rule left to report: do not spend the model's time (and use the fast path).
        lm = lm and any(config.enabled(code) for code in FLUENCY_CODES)
        config = config.merged(lm=lm)
        if config == self.config:
            return self.checker
        return Checker(config, fluency=self.fluency if lm else None)

    def check(self, text: str, source: str, options: CheckOptions) -> Report:
        """Check one text synchronously (call from a worker thread)."""
        return self.checker_for(options).check(text, source)

    # -- worker processes for heuristics-only checks ------------------------------------------------
    def pool(self) -> ProcessPoolExecutor | None:
        with self._pool_lock:
            if self._pool is None and self.processes > 0:
                # spawn, not fork: the server has threads (and maybe torch) that must not be forked.
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def discard_pool(self, broken: ProcessPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def warm_up(self) -> None:
        """Start every worker process now (imports take a moment) rather than on the first requests."""
        pool = self.pool()
        if pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(pool, _warm_worker) for _ in range(self.processes)))

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _warm_worker() -> int:
    # A real check loads what the rules load lazily (word lists, compiled patterns).
    return len(Checker(Config(lm=False)).check("Warm up. . The the text is \"quoted.", "-").findings)


def check_and_render(checker: Checker, text: str, source: str, fmt: str) -> bytes:
    """The answer's body: the report checked and rendered, done off the event loop."""
    report = checker.check(text, source)
    if fmt == "json":
        return json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")
    from mtcheck.formats import render

    return render(report, fmt, rules=all_rules()).encode("utf-8")


def _check_in_worker(config: Config, text: str, source: str, fmt: str) -> bytes:
    """Runs in a worker process: a light heuristics-only Checker for this request's configuration."""
    return check_and_render(Checker(config), text, source, fmt)


def rule_rows(rules: dict[str, type[Rule]]) -> list[dict[str, Any]]:
    """Every rule as ``mtcheck rules --format json`` lists it, plus whether it needs the model."""
    return [
        {
            "code": code,
            "slug": cls.slug,
            "severity": str(cls.severity),
            "family": cls.family(),
            "summary": cls.summary,
            "description": cls.description(),
            "uses_lm": bool(cls.uses_lm),
        }
        for code, cls in sorted(rules.items())
    ]


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
                pool, _check_in_worker, checker.config, body.text, body.source, fmt)
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

