"""HTTP plumbing of ``mtcheck serve`` (mtcheck.server.app): JSON error answers, the body size limit,
security headers, and cancelling the work of a client that has left."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error_response(status: int, error: str, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, "details": details or []}, status_code=status,
                        headers=headers)


BODY_TIMEOUT = 30.0  # seconds for a whole request body to arrive
HEADER_TIMEOUT = 10.0  # seconds for a request's headers to arrive on a connection


def header_timeout_protocol() -> type:
    """uvicorn's h11 protocol, closing a connection whose request headers have not all arrived
    HEADER_TIMEOUT seconds after it opened (or after its last response): a client that trickles
    its headers ("slowloris") no longer holds a connection for ever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport) -> None:  # noqa: ANN001
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._waiting_for = self.scope if hasattr(self, "scope") else None
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            if getattr(self, "scope", None) is self._waiting_for and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if getattr(self, "scope", None) is not self._waiting_for:
                self._header_timer.cancel()  # a new request's headers are in

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._header_timer.cancel()
            self._arm()

        def connection_lost(self, exc) -> None:  # noqa: ANN001
            self._header_timer.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with 413, whether or not Content-Length is sent.

    The body is read here (it is small by construction) and replayed to the app, so a chunked
    upload is cut off as soon as it passes the limit instead of after it has been buffered.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await error_response(400, "bad_request", "Content-Length is not a number")(scope, receive, send)
                return
            if length > self.max_body:
                await self._too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + BODY_TIMEOUT
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                response = error_response(408, "request_timeout", f"the body did not arrive within {BODY_TIMEOUT:g} s",
                                          headers={"Connection": "close"})
                await response(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"the request body is larger than this server's limit of {self.max_body} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class SecurityHeaders:
    """Headers every answer carries: no MIME sniffing, no referrer, no framing."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in self.HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class ClientGone(Exception):
    """The client disconnected before its check finished."""


async def unless_gone(request: Request, work: Any) -> Any:
    """Await ``work``, cancelling it when the client disconnects (checked every 0.2 s)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise ClientGone
    finally:
        if not task.done():
            task.cancel()
