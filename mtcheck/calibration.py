"""Fit fluency thresholds on clean text, for a target false-positive rate.

Every threshold is a quantile of what the model does on text that is known to be fine, so a
flag means "rarer than N per 100 clean sentences", whatever the domain or model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mtcheck.document import Document
from mtcheck.rules.base import RuleContext
from mtcheck.rules.fluency import FluencyModel, Thresholds

DELETION_PENALTY_BITS = 2.0  # on top of the deleted word's unigram surprisal (DESIGN.md: 3-6 bits per token)
CANDIDATES_PER_100 = 30.0  # windows passed to edit verification per 100 clean sentences: a cheap pre-filter; the edit gain decides
SPAN_FLAGS_PER_100 = 0.2
SENTENCE_FLAGS_PER_100 = 0.2
NOTICES_PER_100 = 1.0  # info-level flags of each fluency rule
MIN_VERIFY_MARGIN_BITS = 1.0
QUANTILES = 200


def quantile(sorted_values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of the values lie (nearest rank)."""
    if not sorted_values:
        return math.inf
    index = min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))
    return sorted_values[index]


def margin_for(gains_descending: Sequence[float], allowed: int) -> float:
    """The smallest gain that lets at most ``allowed`` of these clean-text gains through."""
    margin = gains_descending[allowed] + 1e-6 if allowed < len(gains_descending) else MIN_VERIFY_MARGIN_BITS
    return max(MIN_VERIFY_MARGIN_BITS, margin)


def calibrate(
    scorer,
    documents: Sequence[Document],
    span_flags_per_100: float = SPAN_FLAGS_PER_100,
    sentence_flags_per_100: float = SENTENCE_FLAGS_PER_100,
    progress: Callable[[str], None] | None = None,
) -> Thresholds:
    say = progress or (lambda message: None)
    ctx = RuleContext()
    provisional = Thresholds(
        model=scorer.identity,
        word_mean=0.0,
        word_std=1.0,
        window_bits=math.inf,
        verify_margin_bits=math.inf,
        deletion_penalty_bits=DELETION_PENALTY_BITS,
        sentence_flag_z=math.inf,
    )
    model = FluencyModel(scorer, provisional)
    say(f"scoring {sum(len(d.sentences) for d in documents)} clean sentences")
    per_doc = model.word_scores(documents, ctx)
    sentences = [words for doc_words in per_doc for words in doc_words if words]
    if len(sentences) < 50:
        raise ValueError(f"calibration needs at least 50 clean sentences, got {len(sentences)}")
    values = [w.normalised_bits for words in sentences for w in words]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    provisional.word_mean, provisional.word_std = mean, std

    z_scores = sorted(model.sentence_z(words) for words in sentences)
    n = len(sentences)
    provisional.sentence_flag_z = quantile(z_scores, 1 - sentence_flags_per_100 / 100)
    provisional.sentence_notice_z = quantile(z_scores, 1 - NOTICES_PER_100 / 100)
    provisional.sentence_quantiles = [round(quantile(z_scores, (i + 0.5) / QUANTILES), 4) for i in range(QUANTILES)]

    window_peaks = sorted((bits for words in sentences for _, _, bits in model.windows(words)), reverse=True)
    allowed_candidates = max(1, int(n * CANDIDATES_PER_100 / 100))
    provisional.window_bits = window_peaks[min(allowed_candidates, len(window_peaks) - 1)]

    say("verifying candidate windows with edits")
    gains = []
    for doc, doc_words in zip(documents, per_doc):
        for sentence, words in zip(doc.sentences, doc_words):
            for first, last, _ in model.candidates(words):
                best = model.best_edit(doc, sentence, words, first, last)
                if best is not None:
                    gains.append(best[0])
    gains.sort(reverse=True)
    provisional.verify_margin_bits = margin_for(gains, int(n * span_flags_per_100 / 100))
    provisional.notice_margin_bits = margin_for(gains, int(n * NOTICES_PER_100 / 100))
    provisional.clean_sentences = n
    return provisional
