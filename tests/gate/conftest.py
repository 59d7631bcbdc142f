"""Made-up corpora for the gate tests (written for these tests; no eval data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtcheck.cli.gate import gate

# Sentences with a known heuristic finding, and clean ones.
DOUBLED = "The river rose overnight. . Farmers moved their cattle."  # P001 at " ."
REPEATED = "The mayor visited the the flooded school."  # R003 at " the"
SPACED = "Rescue teams arrived , and the roads reopened."  # P002 at " ,"
CLOSING_QUOTE = "She waved.” Then the bus left the station."  # Q001 (error) at "”"
CLEAN = [
    "Snow covered the valley by morning.",
    "The bakery opened at dawn and sold out by noon.",
    "A new bridge links the two villages.",
    "The library extended its opening hours.",
]


def invoke(*args: str, cache: Path | None = None):
    """Run the gate command directly (it is registered on `mtcheck` by cli.py)."""
    options = list(args)
    if cache is None and "--cache-dir" not in options:
        options.append("--no-cache")
    elif cache is not None:
        options += ["--cache-dir", str(cache)]
    return CliRunner().invoke(gate, options, catch_exceptions=False)


def write_jsonl(path: Path, records: list[dict], ensure_ascii: bool = True) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def text_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of text and Markdown files, relative to the working directory as CI would use it."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "corpus"
    (root / "news").mkdir(parents=True)
    (root / "news" / "flood.txt").write_text(f"{CLEAN[0]}\n\n{DOUBLED}\n", encoding="utf-8")
    (root / "news" / "town.md").write_text(f"# Town\n\n{REPEATED}\n", encoding="utf-8")
    (root / "clean.txt").write_text(f"{CLEAN[1]} {CLEAN[2]}\n", encoding="utf-8")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "skip.txt").write_text(DOUBLED, encoding="utf-8")
    (root / "notes.csv").write_text("not,a,text,file\n", encoding="utf-8")
    return Path("corpus")


@pytest.fixture
def jsonl_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    records = [
        {"id": "a1", "doc": "A", "text": CLEAN[0], "ref": CLEAN[0]},
        {"id": "a2", "doc": "A", "text": 'He said "fine" and ' + REPEATED[0].lower() + REPEATED[1:], "ref": "He said fine."},
        {"id": "b1", "doc": "B", "text": "Café prices rose , sharply.", "ref": "Café prices rose sharply."},
        {"id": "b2", "doc": "B", "text": CLEAN[1], "ref": CLEAN[1]},
    ]
    return write_jsonl(Path("corpus.jsonl"), records)
