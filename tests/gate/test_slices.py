"""A corpus is checked slice by slice, whole documents at a time, so its size does not set the
gate's memory: the results, the summary and every report are the same as in one piece."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mtcheck.gate.metrics
import mtcheck.gate.run
from mtcheck.config import Config
from mtcheck.errors import InputError
from mtcheck.gate.corpus import FieldNames, Segment, open_corpus, read_aligned
from mtcheck.gate.metrics import StreamedMetrics, corpus_metrics
from mtcheck.gate.run import run_gate_slices, slices

from .conftest import CLEAN, DOUBLED, REPEATED, SPACED, invoke, write_jsonl


def _segment(text: str, doc: str | None, line: int = 1) -> Segment:
    return Segment(id=str(line), text=text, file="c.jsonl", line=line, doc=doc)


def test_slices_close_only_where_the_document_changes() -> None:
    stream = [_segment("x" * 10, doc, i) for i, doc in enumerate("aaabbc", start=1)]
    parts = list(slices(stream, chars=15, count=100))
    assert [[s.doc for s in part] for part in parts] == [["a", "a", "a"], ["b", "b"], ["c"]]
    by_count = list(slices(stream, chars=10**9, count=4))
    assert [[s.doc for s in part] for part in by_count] == [["a", "a", "a", "b", "b"], ["c"]]
    alone = [_segment("x", None, i) for i in range(1, 6)]  # no document id: each segment is one
    assert [len(part) for part in slices(alone, chars=10**9, count=2)] == [2, 2, 1]


def test_a_document_larger_than_the_input_limit_is_an_input_error() -> None:
    stream = [_segment("y" * 40, "big", i) for i in range(1, 4)]
    assert len(list(slices(stream, limit=124))) == 1  # 3 × 40 and two blank lines between
    with pytest.raises(InputError, match=r"c.jsonl:3: document 'big' is larger than the input limit of 123 bytes"):
        list(slices(stream, limit=123))


def test_the_stream_is_read_only_as_far_as_the_slice_being_checked(tmp_path: Path) -> None:
    records = [{"text": CLEAN[i % 4], "doc": f"d{i // 2}"} for i in range(40)]
    corpus, segments = open_corpus([str(write_jsonl(tmp_path / "c.jsonl", records))], FieldNames(doc="doc"))
    pulled = []

    def counted():
        for segment in segments:
            pulled.append(segment)
            yield segment

    runs = run_gate_slices(corpus, counted(), Config(lm=False), slice_chars=1, slice_segments=1)
    first = next(runs)
    assert len(first.corpus.segments) == 2 and len(pulled) == 3  # one document, and the look-ahead
    assert sum(len(run.corpus.segments) for run in runs) == 38


def _corpus(tmp_path: Path) -> Path:
    texts = [*CLEAN, DOUBLED, REPEATED, SPACED]
    records = [{"id": f"s{i}", "doc": f"d{i // 3}", "text": texts[i % len(texts)], "ref": CLEAN[i % 4],
                "src": "Der Bürgermeister besuchte die Schule."} for i in range(60)]
    late = "The last train left at midnight."
    records += [{"id": "late", "doc": "d0", "text": late, "ref": late, "src": "Schnee."}]  # d0 again
    return write_jsonl(tmp_path / "c.jsonl", records)


def _gate_json(path: Path, *extra: str) -> dict:
    result = invoke(str(path), "--no-lm", "--doc-field", "doc", "--ref-field", "ref", "--src-field", "src",
                    "--source-lang", "de", "--format", "json", "-q", *extra)
    data = json.loads(result.stdout)
    for key in ("seconds", "segments_per_second"):
        data["gate"].pop(key)
    return data


def test_sliced_and_whole_runs_agree_on_summary_findings_and_metrics(tmp_path: Path, monkeypatch) -> None:
    path = _corpus(tmp_path)
    whole = _gate_json(path)
    monkeypatch.setattr(mtcheck.gate.run, "SLICE_CHARS", 100)  # a slice of two or three documents
    sliced = _gate_json(path)
    assert whole["gate"]["corpus"]["split_documents"] == 0
    assert sliced["gate"]["corpus"]["split_documents"] == 1  # d0 came back after its slice closed
    assert sliced["gate"]["corpus"]["split_shown"] == [f"{path}#d0"]
    for data in (whole, sliced):
        data["gate"]["corpus"].pop("split_documents")
        data["gate"]["corpus"].pop("split_shown", None)
    assert sliced["gate"]["corpus"]["documents"] == whole["gate"]["corpus"]["documents"] + 1
    sliced["gate"]["corpus"]["documents"] -= 1
    assert sliced == whole
    assert {"P001", "R003", "P002", "A005"} <= set(whole["gate"]["findings"]["by_code"])
    assert whole["gate"]["metrics"]["bleu"]["score"] > 0


def test_a_split_document_is_named_in_the_text_summary(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(mtcheck.gate.run, "SLICE_CHARS", 100)
    result = invoke(str(_corpus(tmp_path)), "--no-lm", "--doc-field", "doc")
    assert "1 document continued after other documents" in result.output and "c.jsonl#d0" in result.output


def test_the_inconsistent_translation_rule_remembers_earlier_slices(tmp_path: Path, monkeypatch) -> None:
    records = [{"text": "Save changes?", "src": "Änderungen speichern?", "doc": "a"}]
    records += [{"text": CLEAN[i % 4], "src": "Anderes.", "doc": f"m{i}"} for i in range(10)]
    records += [{"text": "Keep the changes?", "src": "Änderungen speichern?", "doc": "z"}]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    monkeypatch.setattr(mtcheck.gate.run, "SLICE_SEGMENTS", 2)
    result = invoke(str(path), "--no-lm", "--doc-field", "doc", "--src-field", "src", "--source-lang", "de",
                    "--select", "A005", "--format", "json", "-q")
    segments = json.loads(result.stdout)["gate"]["segments"]
    flagged = [(s["line"], [f["code"] for f in s["findings"]]) for s in segments]
    assert (12, ["A005"]) in flagged and all(line != 1 for line, _ in flagged)


def test_metrics_summed_part_by_part_equal_the_whole_corpus(tmp_path: Path, monkeypatch) -> None:
    hyp, ref = tmp_path / "hyp.en", tmp_path / "ref.en"
    hypotheses = [CLEAN[i % 4] if i % 3 else REPEATED for i in range(25)]
    references = [CLEAN[(i + 1) % 4] if i % 5 == 0 else CLEAN[i % 4] for i in range(25)]
    hyp.write_text("\n".join(hypotheses) + "\n", encoding="utf-8")
    ref.write_text("\n".join(references) + "\n", encoding="utf-8")
    corpus = read_aligned(str(hyp), refs=[str(ref)])
    whole = corpus_metrics([s.text for s in corpus.segments], [[s.refs[0] for s in corpus.segments]])
    monkeypatch.setattr(mtcheck.gate.metrics, "STATISTICS_BATCH", 3)  # statistics taken 3 segments at a time
    streamed = StreamedMetrics()
    for start in range(0, 25, 7):
        part = corpus.segments[start : start + 7]
        streamed.add([s.text for s in part], [[s.refs[0] for s in part]])
    assert streamed.scores() == whole
    from sacrebleu.metrics import CHRF

    chrf = StreamedMetrics().add([s.text for s in corpus.segments], [[s.refs[0] for s in corpus.segments]])
    assert chrf == [CHRF().sentence_score(s.text, [s.refs[0]]).score for s in corpus.segments]
    assert 0 < whole["bleu"].score < 100 and whole["ter"].score > 0


def test_the_progress_bar_counts_segments_of_record_files(tmp_path: Path) -> None:
    from mtcheck.cli.gate import _estimated_segments

    path = write_jsonl(tmp_path / "c.jsonl", [{"text": t} for t in CLEAN])
    table = tmp_path / "c.tsv"
    table.write_text("text\n" + "".join(f"{t}\n" for t in CLEAN), encoding="utf-8")
    (tmp_path / "a.txt").write_text(CLEAN[0], encoding="utf-8")
    assert _estimated_segments([str(path), str(table), str(tmp_path / "a.txt")], aligned=False) == 9
    assert _estimated_segments([str(path)], aligned=True) == 4
