"""Corpus files of records are read one line at a time: never whole, with the same errors and
locations as a whole read, and read again only when a report needs a file's text."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

import mtcheck.gate.corpus
import mtcheck.inputs
from mtcheck.config import Config
from mtcheck.errors import InputError
from mtcheck.gate.anchored import anchored_report
from mtcheck.gate.corpus import FieldNames, read_aligned, read_corpus
from mtcheck.gate.run import run_gate
from mtcheck.gate.summary import Thresholds, summarize

from .conftest import CLEAN, DOUBLED, REPEATED, invoke, write_jsonl


@pytest.fixture
def no_whole_reads(monkeypatch):
    """Fail any whole-file read: what is left must be line by line."""
    def refuse(source, limit=0):
        raise AssertionError(f"{source} was read whole")

    monkeypatch.setattr(mtcheck.gate.corpus, "read_source", refuse)
    monkeypatch.setattr(mtcheck.inputs, "read_source", refuse)
    read_lines = []
    original = mtcheck.inputs.LineReader._decoded

    def counting(self, handle):
        for row in original(self, handle):
            read_lines.append(row[0])
            yield row

    monkeypatch.setattr(mtcheck.inputs.LineReader, "_decoded", counting)
    return read_lines


def test_gate_summary_never_reads_a_record_file_whole(tmp_path: Path, no_whole_reads) -> None:
    records = [{"text": t, "doc": "d"} for t in [*CLEAN, DOUBLED, REPEATED]]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    tsv = tmp_path / "c.tsv"
    tsv.write_text("text\tdoc\n" + "".join(f"{t}\te\n" for t in CLEAN), encoding="utf-8")
    corpus = read_corpus([str(path), str(tsv)], FieldNames(doc="doc"))
    run = run_gate(corpus, Config(lm=False))
    summary = summarize(run, Thresholds())
    assert summary["findings"]["by_code"].keys() == {"P001", "R003"}
    assert summary["corpus"]["files"] == 2
    assert len(no_whole_reads) == len(records) + len(CLEAN) + 1


def test_aligned_files_are_read_in_step_line_by_line(tmp_path: Path, no_whole_reads) -> None:
    hyp, ref = tmp_path / "hyp.en", tmp_path / "ref.en"
    hyp.write_text("A cat.\nA dog.\n", encoding="utf-8")
    ref.write_text("The cat.\nThe dog.\n", encoding="utf-8")
    corpus = read_aligned(str(hyp), refs=[str(ref)])
    assert [(s.text, s.refs) for s in corpus.segments] == [("A cat.", ("The cat.",)), ("A dog.", ("The dog.",))]
    assert no_whole_reads == [1, 1, 2, 2]


def test_a_report_reads_the_file_again_and_points_at_real_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": CLEAN[0]}, {"text": "Caf\u00e9 “news” " + REPEATED}])
    result = invoke(str(path), "--no-lm", "--format", "json", "-q")
    data = json.loads(result.output)
    [finding] = data["documents"][0]["findings"]
    line = path.read_text(encoding="utf-8").splitlines()[1]
    assert (finding["line"], finding["text"]) == (2, " the")
    assert line[finding["column"] - 1 :].startswith(" the flooded")


def test_a_file_changed_during_the_run_is_an_error_not_a_wrong_location(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": REPEATED}])
    corpus = read_corpus([str(path)])
    run = run_gate(corpus, Config(lm=False))
    path.write_text('{"text": "Something else entirely was written here."}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.jsonl: the file changed while it was being checked"):
        anchored_report(run)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"text": "A."}\n{"text": "B\x00."}\n', r"NUL byte at offset 26, line 2"),
        (b'\xef\xbb\xbf{"text": "A."}\n{"text": "Caf\xe9."}\n', r"byte 0xe9 at offset 31, line 2"),
        (b'\xff\xfe{\x00"\x00', r"is UTF-16 encoded"),
        (b'{"text": "' + b"x" * 700 + b'"}\n', r"c\.jsonl:1: a line longer than the input limit of 600 bytes"),
    ],
)
def test_line_errors_name_the_offset_and_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_corpus([str(path)], limit=100)  # a line may be six times the limit (JSON escapes)


def test_a_bom_is_dropped_and_offsets_index_the_decoded_text(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_bytes("\ufefftext\nOne.\nTwo.\n".encode("utf-8"))
    segments = read_corpus([str(path)]).segments
    assert [(s.text, s.line, s.record) for s in segments] == [("One.", 2, (5, 9)), ("Two.", 3, (10, 14))]


def test_csv_with_carriage_returns_only_keeps_its_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b'id,text\r1,"Two\rlines."\r2,Plain.\r')
    segments = read_corpus([str(path)]).segments
    assert [(s.id, s.text, s.line) for s in segments] == [("1", "Two\rlines.", 2), ("2", "Plain.", 4)]
    text = path.read_bytes().decode("utf-8")
    assert [text[slice(*s.record)] for s in segments] == ['1,"Two\rlines."\r', "2,Plain.\r"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_kept_in_memory_because_it_cannot_be_read_twice(tmp_path: Path) -> None:
    pipe = tmp_path / "c.jsonl"
    os.mkfifo(pipe)
    body = json.dumps({"text": REPEATED}) + "\n"

    def writer() -> None:
        with open(pipe, "w", encoding="utf-8") as handle:
            handle.write(body)

    thread = threading.Thread(target=writer)
    thread.start()
    corpus = read_corpus([str(pipe)])
    thread.join(timeout=30)
    report = anchored_report(run_gate(corpus, Config(lm=False)))
    [document] = report.documents
    assert document.document.text == body
    assert [f.code for f in document.findings] == ["R003"]


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = st.one_of(
    st.sampled_from(["\n", "\r", "\r\n", ",", '"', '""', "\t", "é", "😀", "a", "text", "id"]),
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=5),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(PIECES, max_size=30).map("".join), st.booleans())
def test_lines_read_in_pieces_are_the_lines_of_the_whole_text(tmp_path: Path, text: str, bom: bool) -> None:
    from mtcheck.inputs import LineReader, _text_lines

    path = tmp_path / "lines.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert list(LineReader(str(path), line_limit=1 << 20, whole_limit=1 << 20)) == list(_text_lines(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(PIECES, max_size=30).map("".join))
def test_csv_read_line_by_line_gives_the_rows_and_lines_of_a_whole_read(tmp_path: Path, body: str) -> None:
    import csv
    import io

    text = "id,text\n" + body
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode("utf-8"))
    try:
        whole = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        with pytest.raises(InputError, match=r"c\.csv:\d+: "):  # that row, or an earlier one that is wrong
            read_corpus([str(path)])
        return
    rows = [row for row in whole[1:] if row]
    if any(len(row) != 2 for row in rows) or not rows:
        with pytest.raises(InputError):
            read_corpus([str(path)])
        return
    segments = read_corpus([str(path)]).segments
    assert [s.text for s in segments] == [row[1] for row in rows]
    for segment in segments:  # each record span holds its row, as the report's offsets need
        assert next(csv.reader(io.StringIO(text[slice(*segment.record)], newline=""))) [1] == segment.text
