"""Word probabilities to findings and one fluency scale."""

from __future__ import annotations

import numpy as np

from mtcheck.document import Document
from mtcheck.findings import Severity
from mtcheck.fluency.decode import (
    Thresholds,
    decode,
    document_fluency,
    findings,
    runs_at_least,
    sentence_fluency,
)

THRESHOLDS = Thresholds(span_info=0.4, span_warning=0.8, awkward=0.7, garbled=0.4)
TEXT = "The river rose fast. The bridge by closed was the police it. Nobody was hurt."


def _probs(doc: Document, high: dict[str, float]) -> np.ndarray:
    return np.array([high.get(w.text, 0.01) for w in doc.words])


def test_sentence_fluency_is_the_chance_that_no_word_is_wrong() -> None:
    assert sentence_fluency([]) == 1.0
    assert sentence_fluency([0.9, 0.0, 0.0, 0.0]) > sentence_fluency([0.9, 0.9, 0.9, 0.0])
    assert abs(sentence_fluency([0.5, 0.5, 0.0]) - 0.25) < 1e-9
    assert sentence_fluency([0.01] * 5) > sentence_fluency([0.01] * 50)  # more words, more chances to err


def test_document_fluency_drops_when_one_sentence_is_garbled() -> None:
    clean = [0.95] * 20
    assert document_fluency(clean) == 0.95
    assert document_fluency(clean[:-1] + [0.1]) < 0.8
    assert document_fluency([]) is None


def test_runs_stay_inside_a_sentence_and_keep_their_peak() -> None:
    probs = np.array([0.1, 0.5, 0.9, 0.5, 0.1, 0.6])
    assert runs_at_least(probs, range(0, 4), 0.4) == [(1, 3, 0.9)]
    assert runs_at_least(probs, range(4, 6), 0.4) == [(5, 5, 0.6)]


def test_spans_get_severity_by_peak_and_offsets_into_the_text() -> None:
    doc = Document.parse(TEXT)
    probs = _probs(doc, {"by": 0.9, "closed": 0.85, "it": 0.5})
    decoded = decode(doc, probs, THRESHOLDS)
    found = findings(doc, decoded, THRESHOLDS)
    spans = [(f.code, f.severity, doc.text[f.start : f.end]) for f in found]
    assert ("F001", Severity.WARNING, "by closed") in spans
    assert ("F001", Severity.INFO, "it") in spans
    assert not any(code == "F002" for code, *_ in spans)  # the garbled sentence already has a warning span
    assert decoded.sentences[1].fluency < decoded.sentences[0].fluency


def test_spread_out_garbling_gives_f002_with_a_word_for_it() -> None:
    doc = Document.parse(TEXT)
    probs = _probs(doc, {"by": 0.75, "closed": 0.75, "police": 0.75, "it": 0.75})
    found = findings(doc, decode(doc, probs, THRESHOLDS), THRESHOLDS, spans=False)
    assert [(f.code, f.severity) for f in found] == [("F002", Severity.WARNING)]
    assert "garbled" in found[0].message and THRESHOLDS.label(0.5) == "awkward" and THRESHOLDS.label(0.9) == "fluent"


def test_sentences_carry_their_label_and_only_unfluent_ones_are_shaded() -> None:
    from mtcheck.findings import DocumentReport
    from mtcheck.formats.html_report import _shades

    doc = Document.parse(TEXT)
    decoded = decode(doc, _probs(doc, {"by": 0.9, "closed": 0.85, "it": 0.5}), THRESHOLDS)
    assert [s.label for s in decoded.sentences] == ["fluent", "garbled", "fluent"]
    shades = _shades(DocumentReport(doc, [], decoded.sentences, decoded.fluency))
    assert [shade for _, shade in sorted(shades.values(), key=lambda v: -v[0])] == [0.0, 0.0, 1.0]
