"""Corpus readers: every layout, the segment → document → file mapping, and one-line input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtcheck.errors import InputError
from mtcheck.gate.corpus import (
    FieldNames,
    build_documents,
    expand_inputs,
    read_aligned,
    read_corpus,
)
from mtcheck.gate.corpus_offsets import encode_replacement, raw_offsets

from .conftest import CLEAN, DOUBLED, write_jsonl


def test_folder_is_searched_recursively_for_text_and_markdown(text_corpus: Path) -> None:
    files = expand_inputs([str(text_corpus)])
    assert files == [str(Path("corpus/clean.txt")), str(Path("corpus/news/flood.txt")), str(Path("corpus/news/town.md"))]
    corpus = read_corpus([str(text_corpus)])
    assert [s.id for s in corpus.segments] == files
    assert corpus.segments[1].text == f"{CLEAN[0]}\n\n{DOUBLED}\n"


def test_glob_and_single_files(text_corpus: Path) -> None:
    assert expand_inputs(["corpus/**/*.md"]) == [str(Path("corpus/news/town.md"))]
    assert expand_inputs(["corpus/clean.txt", "corpus/clean.txt"]) == ["corpus/clean.txt"]
    with pytest.raises(InputError, match="matches no files"):
        expand_inputs(["corpus/**/*.rst"])
    with pytest.raises(InputError, match="missing.txt: no such file"):
        expand_inputs(["missing.txt"])


def test_jsonl_fields_ids_and_documents(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"seg": 7, "text": "One.", "doc": "d", "src": "Eins.", "r1": "One!", "r2": "1."},
        {"seg": 8, "text": "Two.", "doc": "d", "src": "Zwei.", "r1": "Two!", "r2": "2."},
    ])
    names = FieldNames(id="seg", doc="doc", src="src", refs=("r1", "r2"))
    corpus = read_corpus([str(path)], names)
    first, second = corpus.segments
    assert (first.id, first.doc, first.src, first.refs, first.line) == ("7", "d", "Eins.", ("One!", "1."), 1)
    assert second.line == 2 and corpus.ref_count == 2
    [document] = build_documents(corpus.segments)
    assert document.text == "One.\n\nTwo."


def test_jsonl_id_defaults_to_id_field_then_line_number(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "text": "A."}, {"text": "B."}])
    path.write_text(path.read_text() + "\n", encoding="utf-8")  # a blank line is skipped
    assert [s.id for s in read_corpus([str(path)]).segments] == ["x", "2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "ok"', r"bad\.jsonl:2: invalid JSON"),
        ('["text"]', r"bad\.jsonl:2: expected a JSON object"),
        ('{"body": "x"}', r"bad\.jsonl:2: missing text field 'text'"),
        ('{"text": 3}', r"bad\.jsonl:2: text field 'text' is int, not a string"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "Fine."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_corpus([str(path)])


def test_missing_reference_and_doc_fields_name_the_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": "A.", "ref": "A."}, {"text": "B."}])
    with pytest.raises(InputError, match=r"c\.jsonl:2: missing reference field 'ref'"):
        read_corpus([str(path)], FieldNames(refs=("ref",)))
    with pytest.raises(InputError, match=r"c\.jsonl:1: missing document field 'doc'"):
        read_corpus([str(path)], FieldNames(doc="doc"))


def test_tsv_is_split_on_tabs_without_quoting(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text('id\tmt\tref\n1\t"Quoted" start , here.\tRef one.\r\n2\tPlain.\tRef two.\n', encoding="utf-8")
    corpus = read_corpus([str(path)], FieldNames(text="mt", refs=("ref",)))
    assert [s.text for s in corpus.segments] == ['"Quoted" start , here.', "Plain."]
    assert [s.refs for s in corpus.segments] == [("Ref one.",), ("Ref two.",)]
    assert [s.line for s in corpus.segments] == [2, 3]


def test_table_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("id\tmt\n1\tA.\n2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.tsv:1: no text column 'text' \(columns: id, mt\)"):
        read_corpus([str(path)])
    with pytest.raises(InputError, match=r"c\.tsv:3: 1 fields, but the header has 2"):
        read_corpus([str(path)], FieldNames(text="mt"))


def test_csv_quoting_and_multiline_records(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('id,text\n1,"He said ""no"", twice."\n2,"Two\nlines."\n3,Plain.\n', encoding="utf-8")
    segments = read_corpus([str(path)]).segments
    assert [s.text for s in segments] == ['He said "no", twice.', "Two\nlines.", "Plain."]
    assert [s.line for s in segments] == [2, 3, 5]


def test_aligned_files_read_like_sacrebleu(tmp_path: Path) -> None:
    hyp = tmp_path / "out.en"
    hyp.write_text("First line.  \r\nSecond line.\n\nFourth.", encoding="utf-8")
    ref = tmp_path / "ref.en"
    ref.write_text("One.\nTwo.\nThree.\nFour.\n", encoding="utf-8")
    corpus = read_aligned(str(hyp), refs=[str(ref)])
    # Trailing whitespace is stripped per line, an empty line is still a segment.
    assert [s.text for s in corpus.segments] == ["First line.", "Second line.", "", "Fourth."]
    assert [s.refs[0] for s in corpus.segments] == ["One.", "Two.", "Three.", "Four."]


def test_misaligned_line_counts_are_an_error(tmp_path: Path) -> None:
    hyp = tmp_path / "out.en"
    hyp.write_text("A.\nB.\nC.\n", encoding="utf-8")
    ref = tmp_path / "ref.en"
    ref.write_text("A.\nB.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ref\.en: reference file has 2 lines but .*out\.en has 3 \(the files disagree from line 3\)"):
        read_aligned(str(hyp), refs=[str(ref)])
    with pytest.raises(InputError, match=r"source file has 2 lines"):
        read_aligned(str(hyp), src=str(ref))


def test_empty_and_undecodable_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="the corpus has no segments"):
        read_corpus([str(empty)])
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 prices rose.".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.txt: not valid UTF-8 \(byte 0xe9 at offset 3, line 1\)"):
        read_corpus([str(latin)])
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="hypothesis file is empty"):
        read_aligned(str(hyp))


def test_documents_group_by_doc_id_and_locate_spans(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [
        {"text": "Alpha one.", "doc": "x"},
        {"text": "Beta two.", "doc": "y"},
        {"text": "Alpha three.", "doc": "x"},
    ])
    documents = build_documents(read_corpus([str(path)], FieldNames(doc="doc")).segments)
    assert [d.text for d in documents] == ["Alpha one.\n\nAlpha three.", "Beta two."]
    first = documents[0]
    start = first.text.index("three")
    assert first.locate(start, start + 5) == (1, 6, 11)
    # A span crossing from one segment into the next is attributed to the first and cut at its end.
    assert first.locate(first.text.index("one"), start + 5) == (0, 6, 10)


def _raw_span(path: Path, segment, start: int, end: int) -> str:
    text = path.read_text(encoding="utf-8")
    raw_start, raw_end = raw_offsets(segment, text, [start, end])
    return text[raw_start:raw_end]


def test_offsets_map_through_json_escapes(tmp_path: Path) -> None:
    text = 'Le "café" \u4e2d dit\ttab 😀 end , ok.'
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": "decoy , ok.", "note": "text"}, {"other": "x", "text": text}])
    segment = read_corpus([str(path)]).segments[1]
    start = text.index(" ,")
    assert _raw_span(path, segment, start, start + 2) == " ,"
    emoji = text.index("😀")
    assert _raw_span(path, segment, emoji, emoji + 1) == "\\ud83d\\ude00"
    quote = text.index('"café"')
    assert _raw_span(path, segment, quote, quote + 6) == '\\"caf\\u00e9\\"'
    assert json.loads('"' + _raw_span(path, segment, 0, len(text)) + '"') == text


def test_offsets_map_through_csv_quotes_and_tsv_columns(tmp_path: Path) -> None:
    csv_path = tmp_path / "c.csv"
    csv_path.write_text('id,text\n1,"He said ""no"" , twice."\n', encoding="utf-8")
    [segment] = read_corpus([str(csv_path)]).segments
    start = segment.text.index(" ,")
    assert _raw_span(csv_path, segment, start, start + 2) == " ,"
    assert _raw_span(csv_path, segment, 8, 12) == '""no""'
    tsv_path = tmp_path / "c.tsv"
    tsv_path.write_text("id\tsrc\tmt\n1\tQuelle , ici.\tTarget , here.\n", encoding="utf-8")
    [segment] = read_corpus([str(tsv_path)], FieldNames(text="mt")).segments
    assert _raw_span(tsv_path, segment, 6, 8) == " ,"
    assert tsv_path.read_text().index("Target , here.") + 6 == raw_offsets(segment, tsv_path.read_text(), [6])[0]


def test_replacements_are_escaped_or_dropped_for_the_record() -> None:
    from mtcheck.gate.corpus import CSV, FILE, JSONL, LINE, TSV, Segment

    def seg(encoding: str) -> Segment:
        return Segment(id="1", text="x", file="f", line=1, encoding=encoding)

    assert encode_replacement(seg(JSONL), 'say "hi"') == 'say \\"hi\\"'
    assert encode_replacement(seg(FILE), "a\nb") == "a\nb"
    assert encode_replacement(seg(LINE), "a\nb") is None
    assert encode_replacement(seg(TSV), "a\tb") is None
    assert encode_replacement(seg(CSV), "a, b") is None
    assert encode_replacement(seg(CSV), "") == ""
