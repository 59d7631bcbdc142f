"""Load test for ``mtcheck serve``: many concurrent clients on loopback, a bounded run, latency and errors.

    python scripts/loadtest.py [--clients 50] [--requests 500] [--duration 30] [--lm] [--url http://127.0.0.1:8000]

Without --url it starts ``mtcheck serve`` itself on 127.0.0.1 and a free port (heuristics only unless
--lm) and stops it afterwards. The run ends by itself: after --requests requests or --duration
seconds, whichever comes first; requests still in flight then get at most --timeout seconds.
Every answer is verified (status 200, its own source name, every span's text equal to the slice of
the text sent): anything else is an error. Exit status 1 when there was any error.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

# Made-up news sentences, a few of them garbled the way MT output is, mixed into articles of varied length.
SENTENCES = (
    "The city council approved the new budget after a long debate on Tuesday.",
    "Farmers in the valley said the the harvest was later than usual this year.",
    "Officials have not explained why the ferry left the harbour early. .",
    "Prices for fresh vegetables rose sharply at the market this spring.",
    'The coach told reporters "we are very happy with the result.',
    "Students planted forty trees along the river path on Saturday morning.",
    "The museum will open a gallery for modern photography in May, its director said.",
    "Residents complained that the new bus timetable , ignores the night shifts.",
    "Rain is expected to continue through the weekend in the northern districts.",
    "The minister said that talks with the unions would resume next week.",
)


def articles(count: int = 8) -> list[str]:
    texts = []
    for n in range(count):
        paragraphs = []
        for p in range(2 + n % 4):
            start = (n * 3 + p) % len(SENTENCES)
            paragraphs.append(" ".join(SENTENCES[(start + k) % len(SENTENCES)] for k in range(3 + (n + p) % 4)))
        texts.append("\n\n".join(paragraphs) + "\n")
    return texts


@dataclass
class Result:
    clients: int
    requests: int
    errors: int
    shed: int  # answered 503 with Retry-After: the server's queue was full (load shedding, not an error)
    p50_ms: float
    p99_ms: float
    max_ms: float
    throughput_rps: float
    wall_s: float
    first_error: str | None = None
    server_rss_mb: tuple[float, float] | None = None  # the server's resident memory before and after (Linux)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def verify(response: httpx.Response, text: str, source: str) -> str | None:
    """Why the answer is wrong, or None when it is right ("shed" for a 503 with Retry-After)."""
    if response.status_code == 503 and "retry-after" in response.headers:
        return "shed"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    document = response.json()["documents"][0]
    if document["source"] != source:
        return f"answer for {document['source']!r} came back to {source!r}"
    for finding in document["findings"]:
        if finding["text"] != text[finding["start"] : finding["end"]]:
            return f"span text {finding['text']!r} is not text[{finding['start']}:{finding['end']}]"
    return None


async def run_clients(url: str, clients: int, requests: int, duration: float, timeout: float, lm: bool) -> Result:
    texts = articles()
    latencies: list[float] = []
    errors: list[str] = []
    shed = 0
    issued = 0
    started = stop_at = time.perf_counter()

    async def client(http: httpx.AsyncClient, number: int) -> None:
        nonlocal issued, shed
        while issued < requests and time.perf_counter() < stop_at:
            index = issued
            issued += 1
            text = texts[index % len(texts)]
            source = f"client{number}/request{index}.txt"
            body = {"text": text, "source": source, "options": {"lm": lm}}
            while True:  # a shed request is sent again after its Retry-After, as a client should
                sent = time.perf_counter()
                try:
                    response = await http.post("/v1/check", json=body)
                    problem = verify(response, text, source)
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if problem != "shed" or time.perf_counter() > stop_at + timeout:
                    break
                shed += 1
                await asyncio.sleep(float(response.headers["retry-after"]))
            latencies.append(time.perf_counter() - sent)
            if problem:
                errors.append(problem)

    # One pool with a connection per client, as that many editors' browsers would hold; a single
    # httpx client, because building fifty (each with its own TLS context) stalls the loop for seconds.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        started = time.perf_counter()
        stop_at = started + duration
        tasks = [asyncio.create_task(client(http, n)) for n in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=duration + timeout)
        for task in pending:  # stuck past every deadline: count them and stop
            task.cancel()
            errors.append("a client was still waiting after the deadline")
        for task in done:
            if task.exception() is not None:
                errors.append(f"client crashed: {task.exception()!r}")
    wall = time.perf_counter() - started
    ms = [1000 * value for value in latencies]
    return Result(
        clients=clients,
        requests=len(latencies),
        errors=len(errors),
        shed=shed,
        p50_ms=round(percentile(ms, 0.50), 1),
        p99_ms=round(percentile(ms, 0.99), 1),
        max_ms=round(max(ms, default=0.0), 1),
        throughput_rps=round(len(latencies) / wall, 1) if wall else 0.0,
        wall_s=round(wall, 2),
        first_error=errors[0] if errors else None,
    )


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"loadtest: refusing {url}: only loopback servers (127.0.0.1, ::1, localhost) are load-tested")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(lm: bool, threads: int, processes: int = 2, startup_timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """``mtcheck serve`` in a child process, ready to answer."""
    port = free_port()
    command = [sys.executable, "-c", "from mtcheck.cli.serve import serve; serve()",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--workers-threads", str(threads),
               "--workers-processes", str(processes)]
    if not lm:
        command.append("--no-lm")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mtcheck serve exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"mtcheck serve did not answer within {startup_timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load_test(clients: int = 50, requests: int = 500, duration: float = 30.0, timeout: float = 30.0,
              lm: bool = False, url: str | None = None, threads: int = 4, processes: int = 2) -> Result:
    """Run one load test (starting and stopping a server when no url is given)."""
    if url is not None:
        loopback_only(url)
        return asyncio.run(run_clients(url.rstrip("/"), clients, requests, duration, timeout, lm))
    process, own_url = start_server(lm, threads, processes)
    try:
        before = resident_mb(process.pid)
        result = asyncio.run(run_clients(own_url, clients, requests, duration, timeout, lm))
        after = resident_mb(process.pid)
        if before is not None and after is not None:
            result.server_rss_mb = (before, after)
        return result
    finally:
        stop_server(process)


def resident_mb(pid: int) -> float | None:
    """A process's resident memory in MB, from /proc (None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=500, help="requests in all (default 500)")
    parser.add_argument("--duration", type=float, default=30.0, help="stop sending after this many seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    parser.add_argument("--threads", type=int, default=4, help="--workers-threads of the server started here")
    parser.add_argument("--processes", type=int, default=2, help="--workers-processes of the server started here")
    parser.add_argument("--lm", action="store_true", help="ask for the language model (slow)")
    parser.add_argument("--url", default=None, help="a running loopback server instead of starting one")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = load_test(args.clients, args.requests, args.duration, args.timeout, args.lm, args.url, args.threads,
                       args.processes)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(f"{result.requests} requests from {result.clients} clients in {result.wall_s} s "
              f"({result.throughput_rps} req/s): p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
              f"max {result.max_ms} ms, {result.errors} errors, {result.shed} shed (503, retried)"
              + (f"; server memory {result.server_rss_mb[0]} -> {result.server_rss_mb[1]} MB" if result.server_rss_mb else ""))
        if result.first_error:
            print(f"first error: {result.first_error}")
    return 1 if result.errors or not result.requests else 0


if __name__ == "__main__":
    sys.exit(main())
