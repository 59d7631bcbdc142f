"""Training data: word labels from character spans, layouts, stable splits."""

from __future__ import annotations

import pytest

from mtcheck.document import Document
from mtcheck.fluency import data
from mtcheck.fluency.data import IGNORE, MINOR, Example, layout, word_labels

TEXT = "The bridge by closed was , the police said on Monday."


def _span(word: str) -> tuple[int, int]:
    start = TEXT.index(word)
    return start, start + len(word)


def test_word_labels_from_spans() -> None:
    example = Example(TEXT, "ted-train", "t", positive=[_span("by closed")], ignore=[_span("police")], minor=[_span("Monday")])
    doc = Document.parse(TEXT)
    labels = dict(zip((w.text for w in doc.words), word_labels(example, doc)))
    assert labels["by"] == labels["closed"] == 1
    assert labels["police"] == IGNORE and labels["Monday"] == MINOR
    assert labels["The"] == labels["said"] == 0


def test_a_span_on_punctuation_alone_leaves_its_neighbours_out_of_the_loss() -> None:
    example = Example(TEXT, "bio-train", "b", positive=[_span(",")])
    doc = Document.parse(TEXT)
    labels = dict(zip((w.text for w in doc.words), word_labels(example, doc)))
    assert labels["was"] == IGNORE and labels["the"] == IGNORE and labels["bridge"] == 0


def test_layouts_and_splits() -> None:
    paragraphs = [["One.", "Two."], ["Three."]]
    assert layout(paragraphs, "paragraphs") == "One. Two.\n\nThree."
    assert layout(paragraphs, "lines") == "One.\nTwo.\nThree."
    with pytest.raises(ValueError):
        layout(paragraphs, "columns")
    assert data.half_of("doc-1") == data.half_of("doc-1") and {data.half_of(f"d{i}") for i in range(20)} == {"train", "calib"}


def test_dev_examples_never_touch_holdout(monkeypatch) -> None:
    from mtcheck import evaldata

    if not (evaldata.EVAL_DIR / "dev" / "mqm_ted_zhen.jsonl").is_file():
        pytest.skip("dev evaluation data not present")
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    examples = data.all_examples(bio_limit=50, ted_limit=50, corrupt_rounds=1)
    assert {e.part for e in examples} >= {"ted-train", "bio-train", "corrupt-train", "clean-train", "clean-calib"}
    assert opened and not any("holdout" in path for path in opened)
    calib_groups = {e.group for e in examples if e.part == "clean-calib"}
    assert not calib_groups & {e.group for e in examples if e.part in ("clean-train", "corrupt-train", "corrupt-val")}


def test_examples_survive_a_round_trip_through_jsonl(tmp_path) -> None:
    from mtcheck.fluency.data import Example, read_examples, write_examples

    examples = [
        Example("Zwölf “quoted” words here.", "bio-train", "d1", [(0, 5)], [(6, 14)], [[{"severity": "Minor"}]], [(0, 5)]),
        Example("Clean.\nLines.", "clean-calib", "k"),
    ]
    for name in ("examples.jsonl", "examples.jsonl.gz"):
        write_examples(examples, tmp_path / name)
        assert read_examples(tmp_path / name) == examples


def test_a_damaged_examples_file_is_one_clear_line(tmp_path, capsys) -> None:
    from mtcheck.fluency import train as training

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "part": "clean-train", "group": "g"}\n{"text": 3\n', encoding="utf-8")
    assert training.main(["--examples", str(bad), "--write-examples", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl, line 2" in err[0]
