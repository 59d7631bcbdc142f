"""The incremental cache: hits, misses, keys, corruption detection, and re-checking only what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtcheck.config import Config
from mtcheck.findings import Finding, SentenceScore, Severity
from mtcheck.gate.cache import (
    CheckResult,
    ResultCache,
    config_identity,
    model_identity,
    namespace_for,
)
from mtcheck.gate.corpus import read_corpus
from mtcheck.gate.run import run_gate
from mtcheck.pipeline import Checker

from .conftest import CLEAN, DOUBLED, REPEATED, invoke

TEXT = "Snow fell. . It melted."
RESULT = CheckResult(
    [Finding("P001", "doubled-punctuation", Severity.WARNING, 10, 12, "Repeated.", "", None)],
    [SentenceScore(0, 10, 0.25), SentenceScore(13, 23, None)],
    0.25,
)


def test_round_trip_hit_and_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, "ns")
    assert cache.get(TEXT) is None
    cache.put(TEXT, RESULT)
    assert cache.get(TEXT) == RESULT
    assert cache.get(TEXT + " ") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.corrupt) == (1, 2, 0)
    # Sharded by the first two hex digits of the key; no temporary files left behind.
    [entry] = list(tmp_path.rglob("*.json"))
    assert entry.parent.name == cache.key(TEXT)[:2]
    assert [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")] == []


def test_namespace_separates_configs_and_models(tmp_path: Path) -> None:
    ResultCache(tmp_path, namespace_for(Config(lm=False))).put(TEXT, RESULT)
    assert ResultCache(tmp_path, namespace_for(Config(lm=False))).get(TEXT) == RESULT
    assert ResultCache(tmp_path, namespace_for(Config(lm=False, ignore=("P",)))).get(TEXT) is None
    assert ResultCache(tmp_path, namespace_for(Config(lm=False), model="other-model")).get(TEXT) is None
    # fail-on decides the exit code, not the findings: it shares the cache.
    assert config_identity(Config(lm=False)) == config_identity(Config(lm=False, fail_on=Severity.ERROR))
    assert model_identity(Config(lm=False)) == "no-lm"
    assert model_identity(Config(lm=True, ignore=("F",))) == "no-lm"


def _corrupt_entries(cache: ResultCache, path: Path) -> list[bytes]:
    entry = json.loads(path.read_text(encoding="utf-8"))
    wrong_checksum = dict(entry, payload=dict(entry["payload"], fluency=0.99))
    wrong_schema = dict(entry, schema=999)
    wrong_key = dict(entry, key="0" * 64)
    bad_shape = dict(entry, payload={"findings": [["P001"]], "sentences": [], "fluency": None})
    out_of_range = json.loads(json.dumps(entry))
    out_of_range["payload"]["findings"][0][4] = 10_000
    import hashlib

    from mtcheck.gate.cache import _canonical

    out_of_range["checksum"] = hashlib.sha256(_canonical(out_of_range["payload"]).encode()).hexdigest()
    variants = [wrong_checksum, wrong_schema, wrong_key, bad_shape, out_of_range]
    return [b"{not json", b"\xff\xfe", b""] + [json.dumps(v).encode() for v in variants]


def test_corrupt_entries_are_detected_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, "ns")
    cache.put(TEXT, RESULT)
    path = cache.path_for(cache.key(TEXT))
    good = path.read_bytes()
    for number, broken in enumerate(_corrupt_entries(cache, path), 1):
        path.write_bytes(broken)
        assert cache.get(TEXT) is None, broken[:40]
        assert cache.stats.corrupt == number
        cache.put(TEXT, RESULT)
        assert path.read_bytes() == good
        assert cache.get(TEXT) == RESULT


def test_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    cache = ResultCache(blocker / "results", "ns")
    cache.put(TEXT, RESULT)
    assert cache.stats.write_errors == 1
    assert cache.get(TEXT) is None


class CountingChecker(Checker):
    """Counts the documents the pipeline really checks."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.checked: list[str] = []

    def check_many(self, items):
        items = list(items)
        self.checked.extend(text for text, _ in items)
        return super().check_many(items)


def test_editing_one_of_n_documents_rechecks_only_that_one(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    bodies = [f"{CLEAN[i % 4]} Item {i} is listed." for i in range(12)]
    bodies[3] = DOUBLED
    for i, body in enumerate(bodies):
        (folder / f"doc{i:02}.txt").write_text(body + "\n", encoding="utf-8")
    config = Config(lm=False)
    namespace = namespace_for(config)

    def run():
        checker = CountingChecker(config)
        cache = ResultCache(tmp_path / "cache", namespace)
        result = run_gate(read_corpus([str(folder)]), config, cache=cache, checker=checker)
        return checker.checked, cache.stats, result

    checked, stats, first = run()
    assert len(checked) == 12 and stats.misses == 12
    checked, stats, second = run()
    assert checked == [] and stats.hits == 12
    assert [r.findings for r in second.results] == [r.findings for r in first.results]

    (folder / "doc07.txt").write_text(REPEATED + "\n", encoding="utf-8")
    checked, stats, third = run()
    assert checked == [REPEATED + "\n"]
    assert (stats.hits, stats.misses) == (11, 1)
    assert [f.code for f in third.results[7].findings] == ["R003"]


def test_identical_documents_are_checked_once(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in [DOUBLED, CLEAN[0], DOUBLED]), encoding="utf-8")
    checker = CountingChecker(Config(lm=False))
    run = run_gate(read_corpus([str(path)]), Config(lm=False), checker=checker)
    assert checker.checked == [DOUBLED, CLEAN[0]]
    assert [len(r.findings) for r in run.results] == [1, 0, 1]


def test_command_reports_cache_hits_on_the_second_run(text_corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = invoke(str(text_corpus), "--no-lm", "--max-flag-rate", "100", "--format", "json", cache=cache)
    second = invoke(str(text_corpus), "--no-lm", "--max-flag-rate", "100", "--format", "json", cache=cache)
    assert json.loads(first.stdout)["gate"]["cache"]["misses"] == 3
    gate = json.loads(second.stdout)["gate"]
    assert (gate["cache"]["hits"], gate["cache"]["misses"]) == (3, 0)
    assert json.loads(first.stdout)["documents"] == json.loads(second.stdout)["documents"]
    no_cache = invoke(str(text_corpus), "--no-lm", "--format", "json", "--no-cache")
    assert json.loads(no_cache.stdout)["gate"]["cache"] is None


@pytest.mark.parametrize("jobs", [2])
def test_parallel_heuristics_give_the_same_results(tmp_path: Path, jobs: int) -> None:
    path = tmp_path / "c.jsonl"
    texts = [DOUBLED, REPEATED, *CLEAN] * 30
    path.write_text("".join(json.dumps({"text": f"{t} Number {i}."}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    corpus = read_corpus([str(path)])
    serial = run_gate(corpus, Config(lm=False))
    parallel = run_gate(corpus, Config(lm=False), jobs=jobs)
    assert [r.findings for r in parallel.results] == [r.findings for r in serial.results]
    assert sum(len(r.findings) for r in serial.results) == 60


def test_entries_get_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        cache = ResultCache(tmp_path, "ns")
        cache.put(TEXT, RESULT)
    finally:
        os.umask(old)
    [entry] = list(tmp_path.rglob("*.json"))
    assert stat.S_IMODE(entry.stat().st_mode) == 0o644  # mkstemp's 0600 would hide a team's shared cache


def test_temporary_files_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    import os
    import time

    cache = ResultCache(tmp_path, "ns")
    shard = cache.path_for(cache.key(TEXT)).parent
    shard.mkdir(parents=True)
    stale, fresh = shard / ".old.json.abc.tmp", shard / ".new.json.def.tmp"
    for path in (stale, fresh):
        path.write_text("{half", encoding="utf-8")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    cache.put(TEXT, RESULT)
    assert not stale.exists()
    assert fresh.exists()  # it may belong to a run still writing it


def test_any_engine_runs_the_checks_and_sees_only_uncached_distinct_texts(tmp_path: Path) -> None:
    from mtcheck.gate.corpus import build_documents
    from mtcheck.gate.run import LocalEngine, check_documents

    path = tmp_path / "c.jsonl"
    texts = [DOUBLED, REPEATED, CLEAN[0], DOUBLED, CLEAN[1]]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    documents = build_documents(read_corpus([str(path)]).segments)
    config = Config(lm=False)
    cache = ResultCache(tmp_path / "cache", namespace_for(config))
    cache.put(CLEAN[1], CheckResult.from_report(Checker(config).check(CLEAN[1]).documents[0]))

    class Recording(LocalEngine):
        seen: list[str] = []

        def map(self, chunks):
            for chunk in chunks:
                self.seen.extend(chunk)
            yield from super().map(chunks)

    engine = Recording(config)
    results = check_documents(documents, config, cache=cache, engine=engine)
    assert sorted(engine.seen) == sorted([DOUBLED, REPEATED, CLEAN[0]])  # one check per distinct uncached text
    assert results == check_documents(documents, config)
