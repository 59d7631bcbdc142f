"""The detector at check time, on the tiny random-weight backbone: plumbing, offsets, the same
number everywhere, and a clear error for a backbone without weights."""

from __future__ import annotations

import numpy as np
import pytest

from mtcheck.config import Config
from mtcheck.document import Document

TEXTS = [
    "The mayor said the plan was ready. Work starts in May.\n\nCritics disagree.",
    "One line per segment here.\nAnd a second segment.\nA third one, with “quotes” and 12 numbers.",
    "",
]


def test_every_word_gets_a_probability_and_findings_point_into_the_text(tiny_detector) -> None:
    documents = [Document.parse(t) for t in TEXTS]
    probabilities = tiny_detector.probabilities(documents)
    for document, probs in zip(documents, probabilities):
        assert probs.shape == (len(document.words),)
        assert np.all((probs > 0) & (probs < 1))
    for document, result in zip(documents, tiny_detector.analyse(documents)):
        assert len(result.sentences) == len(document.sentences)
        for finding in result.findings:
            assert 0 <= finding.start < finding.end <= len(document.text)
            assert finding.code in ("F001", "F002")


def test_a_document_scores_the_same_alone_or_in_a_batch(tiny_detector) -> None:
    documents = [Document.parse(t) for t in TEXTS]
    together = tiny_detector.probabilities(documents)
    for document, probs in zip(documents, together):
        alone = tiny_detector.probabilities([document])[0]
        assert np.allclose(alone, probs, atol=1e-5)


def test_report_fluency_is_the_detector_number(tiny_detector) -> None:
    from mtcheck.pipeline import Checker

    report = Checker(Config(), fluency=tiny_detector).check(TEXTS[0])
    doc = report.documents[0]
    result = tiny_detector.analyse([Document.parse(TEXTS[0])])[0]
    assert doc.fluency == result.fluency and doc.fluency_label == result.label
    assert [s.fluency for s in doc.sentences] == [s.fluency for s in result.sentences]
    assert doc.to_dict()["fluency_label"] in ("fluent", "awkward", "garbled")


def test_a_model_without_weights_is_one_clear_error(tmp_path) -> None:
    from click.testing import CliRunner

    from mtcheck.cli.main import main

    pytest.importorskip("torch")
    sample = tmp_path / "a.txt"
    sample.write_text("Some text.", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(sample), "--weights", str(tmp_path / "none.safetensors")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("mtcheck: error: no detector weights") and "mtcheck train" in lines[-1]


def test_another_model_without_weights_is_one_clear_line_not_a_fallback(tmp_path) -> None:
    from click.testing import CliRunner

    from mtcheck.cli.main import main
    from mtcheck.lm.testing import tiny_model

    loaded = tiny_model()
    folder = tmp_path / "tiny-llama"
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    sample = tmp_path / "a.txt"
    sample.write_text("Some text to check.", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(sample), "--model", str(folder)])
    assert result.exit_code == 2, result.output
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last.startswith("mtcheck: error: the detector weights") and "mtcheck train --model" in last
    assert "Traceback" not in result.output


def test_windows_of_rows_give_the_same_probabilities(tiny_detector, monkeypatch) -> None:
    import mtcheck.fluency.detector as detector_module

    documents = [Document.parse(t) for t in TEXTS * 3]
    whole = tiny_detector.probabilities(documents)
    monkeypatch.setattr(detector_module, "WINDOW_TOKENS", 16)  # a window per row or two
    for a, b in zip(whole, tiny_detector.probabilities(documents)):
        assert np.allclose(a, b, atol=1e-5)


def test_a_long_text_in_windows_gets_every_sentence_scored(tiny_detector) -> None:
    from mtcheck import Checker
    from mtcheck.fluency.decode import whole_document_fluency

    text = "\n\n".join(f"The river rose by {i} metres overnight. Farmers moved their cattle." for i in range(40))
    whole = Checker(Config(), fluency=tiny_detector).check(text).documents[0]
    checker = Checker(Config(), fluency=tiny_detector)
    checker.window_chars = 600
    windowed = checker.check(text).documents[0]
    assert [(s.start, s.end) for s in windowed.sentences] == [(s.start, s.end) for s in whole.sentences]
    assert [s.fluency for s in windowed.sentences] == pytest.approx([s.fluency for s in whole.sentences], abs=1e-4)
    assert windowed.fluency == whole_document_fluency([s.fluency for s in windowed.sentences])
    assert windowed.fluency_label is not None


def test_progress_with_the_detector_moves_as_its_windows_finish(tiny_detector, monkeypatch) -> None:
    import mtcheck.fluency.detector as detector_module
    from mtcheck import Checker

    monkeypatch.setattr(detector_module, "WINDOW_TOKENS", 16)  # a window per row or two
    texts = [(t, str(i)) for i, t in enumerate(TEXTS * 2)]
    calls: list[int] = []
    Checker(Config(), fluency=tiny_detector).check_many(texts, progress=calls.append)
    assert sum(calls) == sum(len(t) for t, _ in texts)  # every character once, never more
    assert all(n >= 0 for n in calls) and len(calls) > 2  # the detector's windows, then the rest
