"""The benchmark scripts: gpu_bench's CPU smoke mode, and bench.py's measuring helpers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_bench_smoke_mode_on_cpu(tmp_path, capsys) -> None:
    gpu_bench = load_script("gpu_bench")
    out = tmp_path / "gpu.json"
    results = gpu_bench.main(["--device", "cpu", "--tiny", "--sequences", "5", "--repeats", "1", "--out", str(out)])
    assert results["numerics_ok"]
    assert results["numerics"]["float32_engine_vs_transformers_max"] < 1e-3
    assert results["numerics"]["state_scale"] > 1  # the check compares large, non-trivial states
    assert 0 < results["numerics"]["bf16_engine_vs_float32_mean"] < 0.1
    assert results["naive"]["tokens_per_s"] > 0 and results["mtcheck"]["tokens_per_s"] > 0
    assert json.loads(out.read_text())["tokens"] == results["tokens"]
    assert "| mtcheck engine |" in capsys.readouterr().out


def test_gpu_bench_random_inputs_are_deterministic() -> None:
    gpu_bench = load_script("gpu_bench")
    first = gpu_bench.random_sequences(4, 8, 64, 500)
    assert first == gpu_bench.random_sequences(4, 8, 64, 500)
    assert all(8 <= len(s) <= 64 and all(1 <= t < 500 for t in s) for s in first)


def test_bench_measures_a_child_process(tmp_path) -> None:
    bench = load_script("bench")
    code = "import sys; data = bytearray(30 * 1024 * 1024); print('done'); sys.exit(3)"
    completed, wall, rss = bench.run_measured([sys.executable, "-c", code], {}, 60)
    assert completed.returncode == 3 and completed.stdout.strip() == "done"
    assert wall > 0 and rss > 30


def test_bench_inputs_are_deterministic() -> None:
    bench = load_script("bench")
    if not bench.NEWS.is_file():
        pytest.skip("dev evaluation data not present")
    paragraphs = bench.news_paragraphs(5)
    assert paragraphs == bench.news_paragraphs(5) and len(paragraphs) == 5
    assert all(p.strip() for p in paragraphs)
    assert all(line.strip() for line in bench.sample_paragraphs())


@pytest.mark.model
def test_bench_detector_and_naive_workers_agree(packaged_cache, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MTCHECK_CACHE", str(packaged_cache["root"]))
    bench = load_script("bench")
    if not bench.NEWS.is_file():
        pytest.skip("dev evaluation data not present")
    ours = bench.worker_detector({"paragraphs": 3, "save": str(tmp_path / "a.npz")})
    naive = bench.worker_naive({"paragraphs": 3, "save": str(tmp_path / "b.npz")})
    assert ours["tokens"] == naive["tokens"] > 0
    assert bench.agreement(str(tmp_path / "b.npz"), str(tmp_path / "a.npz")) < bench.TOLERANCE
    assert 0 < ours["flop_per_token"] < bench.FLOP_LIMIT
