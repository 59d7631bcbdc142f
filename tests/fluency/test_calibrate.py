"""Thresholds from clean text hold their budgets on every layout, and span_info follows dev F1."""

from __future__ import annotations

import numpy as np

from mtcheck.document import Document
from mtcheck.evaluation import Gold
from mtcheck.fluency.calibrate import best_span_info, fit, rates, span_rate

SENTENCES = [f"Sentence number {i} reads well enough for a clean text." for i in range(400)]


def _documents(seed: int) -> tuple[list[tuple[str, Document]], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    documents, probabilities = [], []
    for layout, joiner in (("paragraphs", " "), ("lines", "\n")):
        for begin in range(0, len(SENTENCES), 20):
            doc = Document.parse(joiner.join(SENTENCES[begin : begin + 20]))
            documents.append((layout, doc))
            probabilities.append(rng.beta(0.3, 6.0, size=len(doc.words)))  # mostly low, a long tail
    return documents, probabilities


def test_fitted_thresholds_hold_the_budgets_in_both_layouts() -> None:
    documents, probabilities = _documents(1)
    thresholds, measured = fit(documents, probabilities, {"span_warning": 0.5, "garbled": 0.5})
    assert set(measured) == {"lines", "paragraphs"}
    for layout, row in measured.items():
        assert row["sentences"] == 400
        assert row["warning_per_100"] <= 0.5 + 0.5 + 1e-9  # F001 and F002 warnings, each within its budget
    assert 0 < thresholds.garbled <= thresholds.awkward <= 1 and thresholds.span_info <= thresholds.span_warning
    # stricter budgets give stricter thresholds
    strict, _ = fit(documents, probabilities, {"span_warning": 0.1, "garbled": 0.1})
    assert strict.span_warning >= thresholds.span_warning and strict.garbled <= thresholds.garbled
    assert rates(documents, probabilities, strict)["lines"]["warning_per_100"] <= measured["lines"]["warning_per_100"]


def test_span_info_is_the_best_dev_f1_within_the_clean_cap() -> None:
    documents, probabilities = _documents(2)
    doc = Document.parse("The bridge by closed was the police it said.")
    probs = np.array([0.05, 0.05, 0.95, 0.9, 0.3, 0.05, 0.05, 0.05, 0.05])
    start, end = doc.words[2].start, doc.words[3].end
    gold = Gold(set(range(start, end)) - {doc.text.index(" ", start)}, set())
    chosen, table = best_span_info([(doc, probs, gold)], documents, probabilities)
    assert table[chosen]["clean_per_100"] <= 5.0
    assert chosen >= 0.3 and table[chosen]["f1"] == max(v["f1"] for v in table.values() if v["clean_per_100"] <= 5.0)
    assert span_rate(documents, probabilities, 0.99) <= span_rate(documents, probabilities, 0.3)
