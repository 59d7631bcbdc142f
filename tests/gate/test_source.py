"""The gate with sources: the accuracy rules (A) run on each segment against its source, after the
cached target-only check, and show in the summary and every format. Made-up corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import invoke, write_jsonl

RECORDS = [
    {"id": "a", "doc": "D", "text": "The trial enrolled 52 patients.", "src": "Die Studie umfasste 25 Patienten."},
    {"id": "b", "doc": "D", "text": "Hello {name}, you are in.", "src": "Hallo {name}, du bist dabei."},
    {"id": "c", "doc": "E", "text": "The weather was mild all week.", "src": "Das Wetter war die ganze Woche mild."},
]


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_jsonl(Path("corpus.jsonl"), RECORDS)


def _json(*args: str, cache: Path | None = None) -> dict:
    result = invoke(*args, "--doc-field", "doc", "--no-lm", "--format", "json", "-o", "out.json", cache=cache)
    assert result.exit_code in (0, 1), result.output
    return json.loads(Path("out.json").read_text(encoding="utf-8"))


def _findings(report: dict) -> list[tuple[str, str, int, int, str]]:
    return [(f["code"], doc["source"], f["line"], f["column"], f["text"]) for doc in report["documents"] for f in doc["findings"]]


def test_accuracy_findings_point_at_the_segment_line_and_the_summary_names_the_language(corpus: Path) -> None:
    report = _json(str(corpus), "--src-field", "src")
    assert report["gate"]["corpus"]["source_language"] == "de"  # detected
    line = Path("corpus.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert ("A001", "corpus.jsonl", 1, line.index("52") + 1, "52") in _findings(report)
    assert report["gate"]["findings"]["by_code"]["A001"]["count"] == 1


def test_a_placeholder_the_source_has_is_not_a_leftover(corpus: Path) -> None:
    with_source = {code for code, *_ in _findings(_json(str(corpus), "--src-field", "src"))}
    without = {code for code, *_ in _findings(_json(str(corpus)))}
    assert "S003" in without and "S003" not in with_source
    assert not any(code.startswith("A") for code in without)


def test_source_language_option_and_ignore(corpus: Path) -> None:
    assert _json(str(corpus), "--src-field", "src", "--source-lang", "de-AT")["gate"]["corpus"]["source_language"] == "de"
    assert not any(code.startswith("A") for code, *_ in _findings(_json(str(corpus), "--src-field", "src", "--ignore", "A")))


def test_cached_runs_keep_the_accuracy_findings(corpus: Path, tmp_path: Path) -> None:
    first = _json(str(corpus), "--src-field", "src", cache=tmp_path / "cache")
    second = _json(str(corpus), "--src-field", "src", cache=tmp_path / "cache")
    assert second["gate"]["cache"]["hits"] == 2
    assert _findings(first) == _findings(second)


def test_aligned_files_and_the_text_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hyp.en").write_text("The meeting was held in spring.\nThe city has 12 bridges.\n", encoding="utf-8")
    Path("src.zh").write_text("会议于2021年春天举行。\n这座城市有十二座桥。\n", encoding="utf-8")
    result = invoke("--hyp", "hyp.en", "--src", "src.zh", "--no-lm", "--format", "github")
    assert "sources   in zh: accuracy rules (A)" in result.output
    assert "::warning file=hyp.en,line=1,col=1,endLine=1,endColumn=32,title=A001 number-mismatch::" in result.output
    assert "line=2" not in result.output  # 十二 is 12


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif", "github", "junit", "markdown"])
def test_every_format_shows_the_accuracy_family(corpus: Path, fmt: str) -> None:
    result = invoke(str(corpus), "--doc-field", "doc", "--src-field", "src", "--no-lm", "--format", fmt, "-o", f"out.{fmt}")
    assert result.exit_code == 1, result.output
    rendered = Path(f"out.{fmt}").read_text(encoding="utf-8")
    assert "A001" in rendered and "number-mismatch" in rendered
