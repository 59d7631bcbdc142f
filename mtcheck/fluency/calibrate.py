"""Thresholds from clean text: how many flags a clean text may get (per 100 sentences), in both layouts.

Each threshold is the lowest value that keeps its flags on every layout's clean text within its
budget; never below its floor. ``mtcheck calibrate`` refits them on a user's own clean text.
Training may instead choose ``span_info`` (where info-level F001 hints start) by character F1 on
the dev validation MQM texts, among the values that keep clean text under ``INFO_CAP`` hints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from mtcheck.document import Document
from mtcheck.evaluation import PRF, Gold, char_prf
from mtcheck.findings import Severity
from mtcheck.fluency.decode import (
    Thresholds,
    decode,
    findings,
    runs_at_least,
    sentence_words,
    without_span_warning,
)

# Flags per 100 clean sentences: warnings are what fails a CI gate, so they get little of the
# tool's budget of 1 (the heuristic rules need the rest); info flags are hints for an editor.
BUDGETS = {"span_warning": 0.2, "span_info": 2.0, "garbled": 0.1, "awkward": 1.0}
# Shares of clean documents whose document fluency may fall below each document word.
DOCUMENT_SHARES = {"document_awkward": 0.05, "document_garbled": 0.01}
FLOORS = {"span_warning": 0.5, "span_info": 0.3}
INFO_CAP = 5.0  # F001 hints (any severity) per 100 clean sentences, at most, whatever F1 would gain


def _at_least(descending: Sequence[float], allowed: int, floor: float) -> float:
    """The threshold t (flag when value >= t) letting at most ``allowed`` of the values reach it."""
    if allowed >= len(descending):
        return floor
    return max(floor, math.nextafter(descending[allowed], math.inf))


def _by_layout(documents: Sequence[tuple[str, Document]], probabilities: Sequence[np.ndarray]):
    """Per layout key, in sorted order: its (document, probabilities) pairs and their sentence count."""
    for key in sorted({k for k, _ in documents}):
        chosen = [(d, p) for (k, d), p in zip(documents, probabilities) if k == key]
        yield key, chosen, sum(len(d.sentences) for d, _ in chosen)


def _span_peaks(chosen: Sequence[tuple[Document, np.ndarray]], floor: float) -> list[float]:
    """The highest word probability of each F001 run at ``floor``, highest first (at 0 a sentence is one run)."""
    return sorted((peak for d, p in chosen for w in sentence_words(d) for *_, peak in runs_at_least(p, w, floor)), reverse=True)


def fit(documents: Sequence[tuple[str, Document]], probabilities: Sequence[np.ndarray],
        budgets: dict[str, float] | None = None, span_info: float | None = None) -> tuple[Thresholds, dict]:
    """Thresholds that hold the budgets on each layout of ``documents`` (layout key, parsed document)."""
    budgets = {**BUDGETS, **(budgets or {})}
    layouts = [(chosen, {name: int(budget * sentences / 100) for name, budget in budgets.items()})
               for _, chosen, sentences in _by_layout(documents, probabilities)]
    if span_info is None:
        span_info = max(_at_least(_span_peaks(chosen, 0.0), allowed["span_info"], FLOORS["span_info"])
                        for chosen, allowed in layouts)
    span_warning = max(span_info, *(_at_least(_span_peaks(chosen, span_info), allowed["span_warning"], FLOORS["span_warning"])
                                    for chosen, allowed in layouts))
    partial = Thresholds(span_info, span_warning, awkward=1.0, garbled=1.0)
    awkward, garbled = [], []
    for chosen, allowed in layouts:
        fluencies = []
        for d, p in chosen:
            decoded = decode(d, p, partial)
            fluencies.extend(decoded.sentences[i].fluency for i in without_span_warning(d, decoded, partial))
        ascending = sorted(fluencies)  # worst first
        awkward.append(_below(ascending, allowed["awkward"]))
        garbled.append(_below(ascending, allowed["garbled"]))
    sentence_level = Thresholds(span_info, span_warning, awkward=min(awkward), garbled=min(min(garbled), min(awkward)))
    by_document = {name: [] for name in DOCUMENT_SHARES}
    for _, chosen, _ in _by_layout(documents, probabilities):
        ascending = sorted(f for d, p in chosen if (f := decode(d, p, sentence_level).fluency) is not None)
        for name, share in DOCUMENT_SHARES.items():
            by_document[name].append(_below(ascending, int(share * len(ascending))))
    document_awkward = min(by_document["document_awkward"])
    thresholds = replace(sentence_level, document_awkward=document_awkward,
                         document_garbled=min(min(by_document["document_garbled"]), document_awkward))
    return thresholds, rates(documents, probabilities, thresholds)


def span_rate(documents: Sequence[tuple[str, Document]], probabilities: Sequence[np.ndarray], floor: float) -> float:
    """F001 spans per 100 sentences at ``floor``, on the worst layout."""
    worst = 0.0
    for _, chosen, sentences in _by_layout(documents, probabilities):
        spans = sum(len(runs_at_least(p, w, floor)) for d, p in chosen for w in sentence_words(d))
        worst = max(worst, 100 * spans / max(1, sentences))
    return worst


def best_span_info(
    texts: Sequence[tuple[Document, np.ndarray, Gold]],
    clean: Sequence[tuple[str, Document]],
    clean_probabilities: Sequence[np.ndarray],
    candidates: Sequence[float] = tuple(np.round(np.arange(0.2, 0.95, 0.05), 2)),
) -> tuple[float, dict]:
    """The ``span_info`` with the best character F1 on ``texts`` (document, probabilities, MQM gold)
    among those giving clean text at most INFO_CAP spans per 100 sentences."""
    table = {}
    for floor in candidates:
        rate = span_rate(clean, clean_probabilities, floor)
        total = PRF()
        for document, probs, gold in texts:
            spans = [(document.words[a].start, document.words[b].end)
                     for w in sentence_words(document) for a, b, _ in runs_at_least(probs, w, floor)]
            total += char_prf(document.text, spans, gold)
        table[float(floor)] = {"f1": total.f1 or 0.0, "clean_per_100": round(rate, 3)}
    allowed = {k: v for k, v in table.items() if v["clean_per_100"] <= INFO_CAP} or {max(table): table[max(table)]}
    best = max(allowed, key=lambda k: allowed[k]["f1"])
    return max(best, FLOORS["span_info"]), table


def _below(ascending: Sequence[float], allowed: int) -> float:
    """The threshold t (flag when fluency < t) letting at most ``allowed`` of the values below it."""
    if allowed >= len(ascending):
        return 1.0
    return ascending[allowed]


def rates(documents: Sequence[tuple[str, Document]], probabilities: Sequence[np.ndarray], thresholds: Thresholds) -> dict:
    """Flags per 100 sentences by layout and severity."""
    result = {}
    for key, chosen, sentences in _by_layout(documents, probabilities):
        found = [f for d, p in chosen for f in findings(d, decode(d, p, thresholds), thresholds)]
        result[key] = {
            "sentences": sentences,
            "warning_per_100": round(100 * sum(f.severity >= Severity.WARNING for f in found) / max(1, sentences), 3),
            "info_per_100": round(100 * sum(f.severity is Severity.INFO for f in found) / max(1, sentences), 3),
        }
    return result
