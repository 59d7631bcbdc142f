"""From word probabilities to what the user sees: F001 spans, sentence and document fluency, F002.

One scale everywhere:
- a word's probability ``p`` of lying in an error span (the network's output);
- a sentence's **fluency** = the product over its words of (1 − p): the detector's probability
  that no word of the sentence lies in an error span (words taken as independent): 1 reads
  fluently, 0 is garbled. Chosen on dev over the highest word probability and the mean of the top
  three (sentence AUROC, error-free vs Major, on the validation TED and Bio-MQM outputs: 0.667 and
  0.779 against 0.620 and 0.757 for the top three; docs/detector.md);
- a document's fluency = the mean fluency of its least fluent quarter of sentences (at least
  one), so it drops when any part of the text is garbled, however long the rest is;
- words for the scale: below ``garbled`` a sentence is "garbled", below ``awkward`` "awkward",
  else "fluent"; a document likewise against ``document_garbled`` and ``document_awkward``
  (thresholds fitted on clean text, mtcheck.fluency.calibrate).

F001: a run of neighbouring words of one sentence with ``p`` ≥ ``span_info``; warning when its
highest ``p`` reaches ``span_warning``. F002: a sentence whose fluency is below ``awkward``
(info) or ``garbled`` (warning) with no F001 warning inside it: the garbling is spread out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mtcheck.document import Document
from mtcheck.findings import Finding, SentenceScore, Severity
from mtcheck.stats import rounded


@dataclass(frozen=True)
class Thresholds:
    span_info: float
    span_warning: float
    awkward: float  # sentence fluency below this: "awkward" (F002 info)
    garbled: float  # below this: "garbled" (F002 warning)
    # A document's fluency (its least fluent quarter) sits on another scale than one sentence's:
    # its words come from clean documents (None in files written before they existed: the sentence ones).
    document_awkward: float | None = None
    document_garbled: float | None = None

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        optional = {k: float(data[k]) for k in ("document_awkward", "document_garbled") if data.get(k) is not None}
        return cls(**{k: float(data[k]) for k in ("span_info", "span_warning", "awkward", "garbled")}, **optional)

    def label(self, fluency: float) -> str:
        """The word for a sentence's fluency."""
        return "garbled" if fluency < self.garbled else "awkward" if fluency < self.awkward else "fluent"

    def document_label(self, fluency: float) -> str:
        """The word for a document's fluency."""
        if self.document_awkward is None or self.document_garbled is None:
            return self.label(fluency)
        return "garbled" if fluency < self.document_garbled else "awkward" if fluency < self.document_awkward else "fluent"


def sentence_fluency(probabilities: Sequence[float] | np.ndarray) -> float:
    return float(np.prod(1.0 - np.asarray(probabilities, dtype=np.float64)))


def document_fluency(fluencies: Sequence[float]) -> float | None:
    if not fluencies:
        return None
    worst = sorted(fluencies)[: max(1, math.ceil(len(fluencies) / 4))]
    return float(sum(worst) / len(worst))


def whole_document_fluency(fluencies: Sequence[float]) -> float | None:
    """The document fluency as reported: of all its sentences, rounded."""
    return rounded(document_fluency(fluencies))


@dataclass
class Decoded:
    spans: list[tuple[int, int, float]]  # (first word, last word, peak p) per F001 run, document word indices
    sentences: list[SentenceScore]
    fluency: float | None


def sentence_words(document: Document) -> list[range]:
    """Per sentence, the range of its words' indices in ``document.words``."""
    ranges, cursor = [], 0
    for sentence in document.sentences:
        ranges.append(range(cursor, cursor + len(sentence.words)))
        cursor += len(sentence.words)
    return ranges


def runs_at_least(probabilities: np.ndarray, words: range, floor: float) -> list[tuple[int, int, float]]:
    """Maximal runs of consecutive words (of one sentence) with probability ≥ ``floor``."""
    found, begin = [], None
    for i in words:
        if probabilities[i] >= floor:
            begin = i if begin is None else begin
            continue
        if begin is not None:
            found.append((begin, i - 1, float(probabilities[begin:i].max())))
            begin = None
    if begin is not None:
        found.append((begin, words[-1], float(probabilities[begin : words[-1] + 1].max())))
    return found


def decode(document: Document, probabilities: np.ndarray, thresholds: Thresholds) -> Decoded:
    spans: list[tuple[int, int, float]] = []
    scores: list[SentenceScore] = []
    for sentence, words in zip(document.sentences, sentence_words(document)):
        spans.extend(runs_at_least(probabilities, words, thresholds.span_info))
        fluency = sentence_fluency(probabilities[words.start : words.stop])
        scores.append(SentenceScore(sentence.start, sentence.end, round(fluency, 4), label=thresholds.label(fluency)))
    return Decoded(spans, scores, whole_document_fluency([s.fluency for s in scores]))



def without_span_warning(document: Document, decoded: Decoded, thresholds: Thresholds) -> list[int]:
    """Indices of the sentences in which no F001 warning starts: F002 speaks only for those."""
    warned = {document.words[first].start for first, _, peak in decoded.spans if peak >= thresholds.span_warning}
    return [i for i, s in enumerate(document.sentences) if not any(s.start <= w < s.end for w in warned)]


def findings(document: Document, decoded: Decoded, thresholds: Thresholds, spans: bool = True) -> list[Finding]:
    words = document.words
    found: list[Finding] = []
    if spans:
        for first, last, peak in decoded.spans:
            severity = Severity.WARNING if peak >= thresholds.span_warning else Severity.INFO
            start, end = words[first].start, words[last].end
            found.append(
                Finding(
                    "F001", "disfluent-span", severity, start, end,
                    f"“{document.text[start:end]}” reads like garbled translation: reread it against the source.",
                    score=round(peak, 4),
                )
            )
    speaking = without_span_warning(document, decoded, thresholds) if spans else range(len(document.sentences))
    for index in speaking:
        sentence, score = document.sentences[index], decoded.sentences[index]
        fluency = score.fluency if score.fluency is not None else 1.0
        if fluency >= thresholds.awkward:
            continue
        label = thresholds.label(fluency)
        severity = Severity.WARNING if label == "garbled" else Severity.INFO
        found.append(
            Finding(
                "F002", "disfluent-sentence", severity, sentence.start, sentence.end,
                f"This sentence reads as {label}: rewrite it or check it against the source.",
                score=fluency,
            )
        )
    return found

