"""`mtcheck gate --ray`: the same results, summary and reports as the local gate, on a local Ray.

Made-up corpora (no eval data). CI installs the ``ray`` extra; elsewhere these tests are skipped
when Ray is absent, except the one that checks the message for a missing Ray.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtcheck.config import Config
from mtcheck.errors import MtcheckError
from mtcheck.gate.corpus import FieldNames, read_corpus
from mtcheck.gate.run import LocalEngine, run_gate
from mtcheck.gate.summary import Thresholds, summarize

from .conftest import (
    CLEAN,
    CLOSING_QUOTE,
    DOUBLED,
    REPEATED,
    SPACED,
    invoke,
    write_jsonl,
)

pytestmark = pytest.mark.slow  # every test starts a local Ray cluster (seconds each)

TIMINGS = ("seconds", "segments_per_second")
PLACES = ("Lisbon", "Oslo", "Quito", "Hanoi", "Accra", "Perth", "Lima", "Riga", "Cusco", "Turku")


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI installs mtcheck[ray]; Ray Data is missing")
        pytest.skip("Ray is not installed (pip install 'mtcheck[ray]')")
    return ray


def corpus_records(documents: int = 60, segments: int = 10) -> list[dict]:
    """600 segments in 60 documents, each document's text distinct, about one in three with a finding."""
    flawed = [DOUBLED, REPEATED, SPACED, CLOSING_QUOTE]
    records = []
    for d in range(documents):
        for s in range(segments):
            k = d * segments + s
            base = flawed[k % 4] if k % 3 == 0 else CLEAN[k % 4]
            records.append({"id": f"{d}-{s}", "doc": f"D{d}", "text": f"{base} It rained in {PLACES[s]} on day {d}."})
    return records


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_jsonl(Path("corpus.jsonl"), corpus_records())


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _report(path: Path) -> dict:
    return _without_timings(json.loads(path.read_text(encoding="utf-8")))


def test_without_ray_installed_the_option_is_one_line_exit_2(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = invoke(str(corpus), "--doc-field", "doc", "--no-lm", "--ray")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "mtcheck: error: --ray needs Ray Data, which is not installed (ray): pip install 'mtcheck[ray]'"
    ]


def test_ray_options_need_ray_and_jobs_excludes_it(corpus: Path) -> None:
    assert "go with --ray" in invoke(str(corpus), "--no-lm", "--workers", "2").output
    result = invoke(str(corpus), "--no-lm", "--ray", "--jobs", "2")
    assert result.exit_code == 2 and "not both" in result.output


def test_the_ray_client_is_refused_with_the_way_that_works(corpus: Path) -> None:
    result = invoke(str(corpus), "--no-lm", "--ray", "ray://head:10001")
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "the Ray client (ray://) cannot run Ray Data" in line and "--ray auto" in line


def test_pool_size_fits_the_cluster_or_says_why_not() -> None:
    from mtcheck.gate.ray_engine import pool_size

    assert pool_size({"CPU": 4.0}, None) == 4
    assert pool_size({"CPU": 4.0}, None, cpus_per_worker=2) == 2
    assert pool_size({"CPU": 4.0, "GPU": 2.0}, None, gpus_per_worker=0.5) == 4
    assert pool_size({"CPU": 4.0, "GPU": 2.0}, 1, gpus_per_worker=1) == 1
    with pytest.raises(MtcheckError, match="has 0 GPUs and 16 CPUs: not enough for one worker"):
        pool_size({"CPU": 16.0}, None, gpus_per_worker=1)
    with pytest.raises(MtcheckError, match="--workers 3 needs more than the Ray cluster's 2 CPUs"):
        pool_size({"CPU": 2.0}, 3)
    with pytest.raises(MtcheckError, match="the Ray cluster has 2 CPUs: not enough for one worker .--cpus-per-worker 4"):
        pool_size({"CPU": 2.0}, None, cpus_per_worker=4)


def test_a_local_ray_is_started_for_the_run_and_stopped_after(corpus: Path) -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()
    local = invoke(str(corpus), "--doc-field", "doc", "--no-lm", "--format", "json", "-o", "local.json")
    remote = invoke(str(corpus), "--doc-field", "doc", "--no-lm", "--ray", "--format", "json", "-o", "ray.json")
    assert remote.exit_code == local.exit_code == 1, remote.output
    assert _report(Path("ray.json")) == _report(Path("local.json"))
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_cluster():
    ray = _ray()
    # The checker factories below live in this test module, which Ray's workers cannot import.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_no_lm_reports_are_identical_to_the_local_gate(ray_cluster, corpus: Path, fmt: str) -> None:
    common = [str(corpus), "--doc-field", "doc", "--no-lm", "--format", fmt]
    local = invoke(*common, "-o", f"local.{fmt}")
    remote = invoke(*common, "-o", f"ray.{fmt}", "--ray", "--workers", "2", "--batch-size", "8")
    assert local.exit_code == remote.exit_code == 1, remote.output
    local_report, ray_report = _report(Path(f"local.{fmt}")), _report(Path(f"ray.{fmt}"))
    assert ray_report == local_report
    if fmt == "json":
        assert ray_report["gate"]["corpus"] == {"files": 1, "documents": 60, "segments": 600, "sentences": 1300,
                                               "source_language": None, "split_documents": 0}
        assert ray_report["gate"]["findings"]["total"] > 100


def test_texts_that_are_not_valid_utf8_inside_travel_unchanged(ray_cluster, tmp_path: Path) -> None:
    from mtcheck.gate.ray_engine import RayEngine, RaySettings
    from mtcheck.pipeline import Checker

    config = Config(lm=False)
    texts = ["A lone surrogate \ud800 in the the text.", "Astral 😀 and “quotes”.", "Plain text here."]
    local = list(LocalEngine(config, checker=Checker(config)).map([texts]))
    remote = list(RayEngine(config, RaySettings(workers=1, batch_size=2)).map([texts[:2], texts[2:]]))
    assert [r for chunk in remote for r in chunk] == local[0]
    assert any(f.code == "R003" for f in local[0][0].findings)


def test_the_result_cache_is_filled_on_the_driver_and_read_before_dispatch(ray_cluster, corpus: Path) -> None:
    args = [str(corpus), "--doc-field", "doc", "--no-lm", "--cache-dir", "cache", "--format", "json", "--ray"]
    first = invoke(*args, "-o", "first.json")
    second = invoke(*args, "-o", "second.json")
    assert first.exit_code == second.exit_code == 1
    assert json.loads(Path("first.json").read_text())["gate"]["cache"]["misses"] == 60
    assert json.loads(Path("second.json").read_text())["gate"]["cache"] == {
        "hits": 60, "misses": 0, "corrupt": 0, "write_errors": 0
    }
    assert _report(Path("second.json"))["documents"] == _report(Path("first.json"))["documents"]


def _tiny_lm_checker(config: Config):
    from mtcheck.lm.backbone import Backbone
    from mtcheck.lm.testing import tiny_detector, tiny_model
    from mtcheck.pipeline import Checker

    return Checker(config, fluency=tiny_detector(Backbone(tiny_model())))


def _rendered(run, fmt: str) -> dict:
    from mtcheck.cli.gate import render_with_gate
    from mtcheck.formats import formatter
    from mtcheck.gate.anchored import AnchoredReport

    summary = summarize(run, Thresholds(max_flag_rate=5))
    report = AnchoredReport(run.corpus, per_finding=formatter(fmt).per_finding).add(run)
    return _without_timings(json.loads(render_with_gate(report, summary, fmt)))


def _runs(corpus: Path, config: Config, make_checker, make_local_checker=None) -> tuple:
    from mtcheck.gate.ray_engine import RayEngine, RaySettings

    documents = read_corpus([str(corpus)], FieldNames(doc="doc"))
    local_checker = (make_local_checker or make_checker)(config)
    local = run_gate(documents, config, engine=LocalEngine(config, checker=local_checker))
    remote = run_gate(documents, config, engine=RayEngine(config, RaySettings(workers=2, batch_size=8), make_checker))
    return local, remote


def test_tiny_language_model_reports_are_identical_to_the_local_gate(ray_cluster, corpus: Path) -> None:
    pytest.importorskip("torch")
    config = Config(lm=True)
    local, remote = _runs(corpus, config, _tiny_lm_checker)
    assert remote.lm and remote.results[0].fluency is not None
    for fmt in ("json", "sarif"):
        assert _rendered(remote, fmt) == _rendered(local, fmt)


def test_a_worker_killed_mid_run_is_replaced_and_the_results_are_identical(ray_cluster, corpus: Path) -> None:
    marker = Path("killed").resolve()
    victim = corpus_records()[305]["text"]

    def dying_checker(config: Config):
        from mtcheck.pipeline import Checker

        class DiesOnce(Checker):
            def check_many(self, items, *args, **kwargs):
                if any(victim in text for text, _ in items) and not marker.exists():
                    marker.touch()
                    os._exit(1)  # the actor's process dies as a machine would, mid-batch
                return super().check_many(items, *args, **kwargs)

        return DiesOnce(config)

    from mtcheck.pipeline import Checker

    config = Config(lm=False)
    local, remote = _runs(corpus, config, dying_checker, Checker)
    assert marker.exists()  # the kill happened
    for fmt in ("json", "sarif"):
        assert _rendered(remote, fmt) == _rendered(local, fmt)


def test_a_document_whose_check_raises_is_reported_not_a_lost_run(ray_cluster, corpus: Path) -> None:
    victim = corpus_records()[305]["text"]

    def raising_checker(config: Config):
        from mtcheck.pipeline import Checker

        class Raises(Checker):
            def check_many(self, items, *args, **kwargs):
                if any(victim in text for text, _ in items):
                    raise ValueError("a rule tripped over this text")
                return super().check_many(items, *args, **kwargs)

        return Raises(config)

    config = Config(lm=False)
    local, remote = _runs(corpus, config, raising_checker)
    for run in (local, remote):
        summary = summarize(run, Thresholds(max_flag_rate=1000))
        assert summary["passed"] is False
        assert summary["unchecked"] == [
            {"id": "30-0", "file": "corpus.jsonl", "line": 301, "doc": "D30",
             "error": "ValueError: a rule tripped over this text"}
        ]
        assert summary["reasons"] == [
            "1 document could not be checked (the first, at corpus.jsonl:301: ValueError: a rule tripped over this text)"
        ]
        failed = [i for i, r in enumerate(run.results) if r.error is not None]
        assert failed == [30]
        assert sum(len(r.findings) for r in run.results) > 100  # the other documents were checked
    assert _rendered(remote, "json") == _rendered(local, "json")


def test_ctrl_c_stops_the_run_with_exit_130(corpus: Path) -> None:
    _ray()
    records = corpus_records(documents=400)
    write_jsonl(corpus, records)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mtcheck", "gate", str(corpus), "--doc-field", "doc", "--no-lm", "--no-cache",
         "--ray", "--batch-size", "1", "--progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        # A shell gives a foreground command the default Ctrl-C; pytest may hold SIGINT ignored
        # by then (seen in the full suite), and a child inherits an ignored signal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (ray_processes := _children(process.pid, "raylet")):
            time.sleep(0.2)
        assert ray_processes, "the local Ray never started"
        time.sleep(5)  # into the checks
        assert process.poll() is None, "the run ended before the interrupt"
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, (err, out[-2000:], time.monotonic() - interrupted)
    assert err.strip().splitlines()[-1] == "mtcheck: interrupted"
    time.sleep(2)
    assert not [pid for pid in ray_processes if Path(f"/proc/{pid}").exists()], "Ray outlived the run"


def _children(parent: int, name: str) -> list[int]:
    """Processes started by ``parent`` (directly) whose command line mentions ``name``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        parent_pid = int(stat.rsplit(")", 1)[1].split()[1])
        if parent_pid == parent and name in command:
            found.append(int(entry.name))
    return found
