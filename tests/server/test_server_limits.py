"""serve sheds load and refuses what it should (issue 20): a bounded queue (503 + Retry-After), a
time limit per check, cancelled work for clients that left, a Host allowlist, 422 for any body
that is not a valid JSON request."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

import mtcheck.server.app
from mtcheck.config import Config
from mtcheck.server.app import create_app
from mtcheck.server.service import CheckService


@pytest.fixture()
def gate(monkeypatch):
    """Checks block until ``release`` is set; ``started`` counts the checks that began."""
    release = threading.Event()
    started: list[str] = []
    real = mtcheck.server.app.check_and_render

    def blocking(checker, text, source, fmt):
        started.append(source)
        release.wait(10)
        return real(checker, text, source, fmt)

    monkeypatch.setattr(mtcheck.server.app, "check_and_render", blocking)
    yield release, started
    release.set()


def client(**limits) -> TestClient:
    service = CheckService(Config(lm=False), processes=0, threads=1)
    return TestClient(base_url="http://localhost", app=create_app(service, **limits))


def test_a_full_queue_answers_503_at_once_and_the_accepted_check_completes(gate) -> None:
    release, started = gate
    with client(max_queue=1) as http:
        first: dict = {}
        worker = threading.Thread(target=lambda: first.update(r=http.post("/v1/check", json={"text": "One.", "source": "a"})))
        worker.start()
        while not started:
            time.sleep(0.01)
        # The first check is held until release: a queued request would wait here, not answer.
        busy = http.post("/v1/check", json={"text": "Two.", "source": "b"})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1" and busy.json()["error"] == "busy"
        assert not release.is_set() and "r" not in first
        release.set()
        worker.join(10)
        assert first["r"].status_code == 200
        assert http.post("/v1/check", json={"text": "Three.", "source": "c"}).status_code == 200


def test_a_check_over_the_time_limit_answers_503(gate) -> None:
    with client(request_timeout=0.3) as http:
        answer = http.post("/v1/check", json={"text": "Slow.", "source": "s"})
        assert answer.status_code == 503 and answer.json()["error"] == "timeout" and "retry-after" in answer.headers


def test_work_queued_for_a_client_that_left_never_starts(gate) -> None:
    import asyncio

    release, started = gate
    app = create_app(CheckService(Config(lm=False), processes=0, threads=1))

    async def scenario() -> None:
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            async with app.router.lifespan_context(app):
                running = asyncio.create_task(http.post("/v1/check", json={"text": "A.", "source": "first"}))
                while not started:
                    await asyncio.sleep(0.01)
                leaving = asyncio.create_task(http.post("/v1/check", json={"text": "B.", "source": "gone"}))
                await asyncio.sleep(0.3)
                leaving.cancel()  # the client disconnects while its check waits for the only thread
                await asyncio.sleep(0.5)
                release.set()
                assert (await running).status_code == 200
                await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert started == ["first"]


def test_unknown_host_headers_are_refused_and_allowed_ones_served() -> None:
    service = CheckService(Config(lm=False), processes=0)
    with TestClient(base_url="http://rebind.example", app=create_app(service)) as http:
        assert http.get("/healthz").status_code == 400
    with TestClient(base_url="http://rebind.example", app=create_app(service, allowed_hosts=["rebind.example"])) as http:
        assert http.get("/healthz").status_code == 200


def test_json_nested_too_deeply_is_422() -> None:
    with client() as http:
        body = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
        answer = http.post("/v1/check", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


def test_a_connection_that_trickles_its_headers_is_closed(monkeypatch) -> None:
    import socket

    from serverkit import live_server

    import mtcheck.server.http

    monkeypatch.setattr(mtcheck.server.http, "HEADER_TIMEOUT", 0.5)
    with live_server(CheckService(Config(lm=False), processes=0)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")  # and never the blank line
        slow.settimeout(5)
        assert slow.recv(100) == b""  # closed by the server (a socket left open would time out here)
        fast = socket.create_connection((host, int(port)))
        fast.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        fast.settimeout(5)
        assert fast.recv(100).startswith(b"HTTP/1.1 200")


def test_a_body_that_never_arrives_is_408(monkeypatch) -> None:
    import socket

    from serverkit import live_server

    import mtcheck.server.http

    monkeypatch.setattr(mtcheck.server.http, "BODY_TIMEOUT", 0.5)
    with live_server(CheckService(Config(lm=False), processes=0)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"POST /v1/check HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")
        slow.settimeout(5)
        assert slow.recv(200).startswith(b"HTTP/1.1 408")
