"""Helpers for the HTTP service tests: a fake language model and a live uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from mtcheck.findings import Finding, SentenceScore, Severity
from mtcheck.fluency.detector import FluencyResult
from mtcheck.server.app import create_app
from mtcheck.server.service import CheckService


class FakeFluency:
    """Stands in for the Detector: flags each document's first word, and records how many threads
    were inside ``analyse`` at once (the server must never let that exceed one)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.inside = 0
        self.most_inside = 0
        self._count = threading.Lock()

    def analyse(self, documents, ctx, spans=True, progress=None):  # noqa: ANN001, ARG002
        with self._count:
            self.calls += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            time.sleep(self.delay)
            results = []
            for doc in documents:
                findings = []
                if doc.sentences and doc.sentences[0].words:
                    word = doc.sentences[0].words[0]
                    findings.append(Finding("F001", "disfluent-span", Severity.WARNING, word.start, word.end,
                                            "The model finds this word unlikely here.", None, 0.1))
                scores = [SentenceScore(s.start, s.end, 0.5) for s in doc.sentences]
                results.append(FluencyResult(findings, scores, 0.5 if scores else None, "awkward" if scores else None))
            return results
        finally:
            with self._count:
                self.inside -= 1


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server


@contextmanager
def live_server(service: CheckService, max_body: int = 1_000_000, log_level: str = "warning") -> Iterator[LiveServer]:
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread, for browsers and concurrency."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    from mtcheck.server.http import header_timeout_protocol

    config = uvicorn.Config(create_app(service, max_body=max_body), log_level=log_level, lifespan="on",
                            http=header_timeout_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    httpx.get(f"{url}/healthz", timeout=5).raise_for_status()
    try:
        yield LiveServer(url, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
