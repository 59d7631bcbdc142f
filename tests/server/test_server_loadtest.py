"""scripts/loadtest.py: 50 concurrent clients against a real `mtcheck serve` (heuristics only), no errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "loadtest.py"


@pytest.fixture(scope="module")
def loadtest():
    spec = importlib.util.spec_from_file_location("mtcheck_loadtest", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_fifty_clients_get_correct_answers_without_errors(loadtest, capsys):
    result = loadtest.load_test(clients=50, requests=300, duration=60, timeout=30)
    with capsys.disabled():
        print(f"\nloadtest: {result}")
    assert result.errors == 0, result.first_error
    assert result.requests == 300
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_the_run_stops_at_its_duration(loadtest):
    # Far more requests than 1.5 s allows: the clients stop sending when the time is up.
    result = loadtest.load_test(clients=5, requests=1_000_000, duration=1.5, timeout=10, processes=0)
    assert result.errors == 0
    assert 0 < result.requests < 1_000_000
    assert result.wall_s < 15


def test_percentiles_and_loopback_only(loadtest):
    assert loadtest.percentile([], 0.5) == 0.0
    values = [float(v) for v in range(1, 101)]
    assert loadtest.percentile(values, 0.50) == 50.0
    assert loadtest.percentile(values, 0.99) == 99.0
    with pytest.raises(SystemExit, match="only loopback"):
        loadtest.loopback_only("http://10.0.0.5:8000")
    loadtest.loopback_only("http://127.0.0.1:8000")


def test_articles_hold_spans_to_find(loadtest):
    from mtcheck.config import Config
    from mtcheck.pipeline import Checker

    texts = loadtest.articles()
    assert len(set(texts)) == len(texts)
    assert all(Checker(Config(lm=False)).check(text).findings for text in texts)
