"""The per-finding report (JSON Lines, SARIF, GitHub): each finding located in its file from its
segment's own record, without the file's text, and exactly where the whole report puts it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import mtcheck.gate.corpus
import mtcheck.inputs
from mtcheck.config import Config
from mtcheck.formats import formatter
from mtcheck.formats.base import located_findings
from mtcheck.gate.anchored import AnchoredReport
from mtcheck.gate.corpus import FieldNames, read_aligned, read_corpus
from mtcheck.gate.run import run_gate

# Texts with findings that carry suggestions, quotes to escape, and line breaks inside a record.
FLAWED = [
    "The plan was was good .",
    "The ministry said the talks were productive.” Officials left.",
    "Lula met the press. LULA said the deal was fair.\nNext line  here \"quoted\" text\\ with backslash",
    "Price: 55\" screen , great  value!!",
    "Tab\there and a\r\nCRLF inside. He said.",
    "It went well. silence their their ambitions, she said..",
]
CLEAN = ["The council met on Monday.", "It approved the budget for next year.", "Officials said the vote was close."]


def _corpus_files(tmp_path: Path) -> list[str]:
    rows = [{"id": str(i), "doc": f"d{i % 3}", "text": t} for i, t in enumerate(CLEAN + FLAWED + CLEAN + FLAWED)]
    jsonl = tmp_path / "c.jsonl"
    with open(jsonl, "w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            handle.write(json.dumps(row, ensure_ascii=i % 2 == 0) + "\n")  # half of the records escaped
    table = tmp_path / "c.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "doc", "text"])
        writer.writerows([row["id"], row["doc"], row["text"]] for row in rows)
    tsv = tmp_path / "c.tsv"
    tsv.write_text("id\tdoc\ttext\n" + "".join(
        f"{r['id']}\t{r['doc']}\t{' '.join(r['text'].split())}\n" for r in rows), encoding="utf-8")
    return [str(jsonl), str(table), str(tsv)]


def _both(corpus) -> tuple[list, list]:
    run = run_gate(corpus, Config(lm=False))
    whole = list(located_findings(AnchoredReport(corpus).add(run).report()))
    return AnchoredReport(corpus, per_finding=True).add(run).located(), whole


def test_records_are_located_as_in_the_whole_report(tmp_path: Path) -> None:
    corpus = read_corpus(_corpus_files(tmp_path), FieldNames(doc="doc"))
    located, whole = _both(corpus)
    assert len(located) > 20
    assert {w.source for w in located} == set(corpus.files)
    assert any(w.line != w.end_line for w in located) or any("\\u" in w.snippet for w in located)
    assert located == whole


def test_text_documents_and_aligned_lines_are_located_as_in_the_whole_report(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes("Headline here\r\n\r\n".encode() + "\r\n".join(FLAWED).encode())
    (folder / "b.md").write_text("\n\n".join(FLAWED + CLEAN), encoding="utf-8")
    located, whole = _both(read_corpus([str(folder)], FieldNames()))
    assert located == whole and len(located) > 10
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("".join(" ".join(t.split()) + "  \n" for t in FLAWED + CLEAN), encoding="utf-8")
    located, whole = _both(read_aligned(str(hyp)))
    assert located == whole and len(located) > 5


def test_the_per_finding_report_never_reads_a_file_again(tmp_path: Path, monkeypatch) -> None:
    corpus = read_corpus(_corpus_files(tmp_path), FieldNames(doc="doc"))
    run = run_gate(corpus, Config(lm=False))

    def refuse(source, limit=0):
        raise AssertionError(f"{source} was read again")

    monkeypatch.setattr(mtcheck.gate.corpus, "read_source", refuse)
    monkeypatch.setattr(mtcheck.inputs, "read_source", refuse)
    report = AnchoredReport(corpus, per_finding=True).add(run)
    assert report.located()
    with pytest.raises(ValueError, match="located"):
        report.report()


def test_readers_keep_each_record_as_written(tmp_path: Path) -> None:
    jsonl, table, _ = _corpus_files(tmp_path)
    corpus = read_corpus([jsonl, table], FieldNames(doc="doc"))
    for segment in corpus.segments:
        text = Path(segment.file).read_bytes().decode("utf-8")
        start, end = segment.record
        assert segment.raw == text[start:end]


@pytest.mark.parametrize("fmt", ["jsonl", "sarif", "github"])
def test_per_finding_formats_are_marked_and_the_others_not(fmt: str) -> None:
    assert formatter(fmt).per_finding
    assert not formatter("json").per_finding and not formatter("junit").per_finding


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = ["\"", "“", "”", "'", "\\", "\r\n", "\r", "\n", "\t", ",", " , ", " .", "..", "the the ", "He said. ",
          "XI ", "Xi ", "é", "😀", "\u2028", "\x85", "Officials said the PRESIDENT will go. ", "and thin and thin "]
record_texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), min_size=1, max_size=12).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(record_texts.filter(lambda t: t.strip() and "\x00" not in t), min_size=1, max_size=6), ascii_only=st.booleans())
def test_random_records_are_located_as_in_the_whole_report(tmp_path_factory, texts: list[str], ascii_only: bool) -> None:
    folder = tmp_path_factory.mktemp("records")
    jsonl = folder / "c.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "doc": "d"}, ensure_ascii=ascii_only) + "\n" for t in texts),
                     encoding="utf-8", newline="")
    table = folder / "c.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "doc"])
        writer.writerows([t, "d"] for t in texts)
    for path in (jsonl, table):
        located, whole = _both(read_corpus([str(path)], FieldNames(doc="doc")))
        assert located == whole
