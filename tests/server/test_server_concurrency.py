"""Parallel requests on a real server: the model is called by one thread at a time, everything else runs freely."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from serverkit import FakeFluency, live_server

from mtcheck.config import Config
from mtcheck.server.service import CheckService

TEXT = "The mayor opened the new bridge on Friday. . Residents welcomed it.\n"


def post(url: str, text: str, **options) -> httpx.Response:
    return httpx.post(f"{url}/v1/check", json={"text": text, "options": options}, timeout=30)


def test_model_calls_never_overlap():
    fake = FakeFluency(delay=0.05)
    with live_server(CheckService(Config(lm=True), fluency=fake, threads=8)) as live:
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda i: post(live.url, f"Story {i}. . Then more.\n"), range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    assert fake.calls == 16
    assert fake.most_inside == 1
    # Each answer belongs to its own request: no state leaks between threads.
    for i, response in enumerate(responses):
        findings = response.json()["documents"][0]["findings"]
        assert [f["text"] for f in findings] == ["Story", " ."], i


def test_heuristic_requests_and_health_do_not_wait_for_the_model():
    fake = FakeFluency(delay=1.5)
    with live_server(CheckService(Config(lm=True), fluency=fake, threads=4)) as live:
        slow = threading.Thread(target=post, args=(live.url, TEXT))
        slow.start()
        deadline = time.monotonic() + 5
        while fake.inside == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.inside == 1, "the model request did not start"
        quick = post(live.url, TEXT, lm=False)
        health = httpx.get(f"{live.url}/healthz", timeout=5)
        still_in_model = fake.inside == 1  # both answered while the model request was still inside
        slow.join()
    assert quick.status_code == 200 and health.status_code == 200
    assert [f["code"] for f in quick.json()["documents"][0]["findings"]] == ["P001"]
    assert still_in_model


def test_per_request_options_do_not_leak_between_parallel_requests(service):
    text = TEXT + "Farmers said the the harvest was late.\n"
    with live_server(service) as live:
        def one(i: int) -> list[str]:
            options = {"select": ["R"]} if i % 2 else {"ignore": ["R"]}
            response = post(live.url, text, **options)
            return [f["code"] for f in response.json()["documents"][0]["findings"]]

        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(one, range(40)))
    assert results == [["R003"] if i % 2 else ["P001"] for i in range(40)]
    assert service.checker.config.select == () and service.checker.config.ignore == ()
