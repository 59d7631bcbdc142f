"""Fit fluency thresholds on clean text, for a target false-positive rate.

Every threshold is a quantile of what the model does on text that is known to be fine, so a
flag means "rarer than N per 100 clean sentences", whatever the domain or model.
"""

from __future__ import annotations

import math
from dataclasses import replace
from collections.abc import Callable, Sequence
from typing import Any

from mtcheck.document import Document
from mtcheck.rules.base import RuleContext
from mtcheck.rules.fluency import FluencyModel, ScoredWindow, TaggerThresholds, Thresholds, logit

DELETION_PENALTY_BITS = 2.0  # on top of the deleted word's unigram surprisal (DESIGN.md: 3-6 bits per token)
CANDIDATES_PER_100 = 30.0  # windows passed to edit verification per 100 clean sentences: a cheap pre-filter; the edit gain decides
SPAN_FLAGS_PER_100 = 0.2
SENTENCE_FLAGS_PER_100 = 0.2
NOTICES_PER_100 = 1.0  # info-level flags of each fluency rule
MIN_VERIFY_MARGIN_BITS = 1.0
QUANTILES = 200
# Tagger decoding, chosen on the tagger's dev validation data (TED talk.7 character F1, synthetic
# recall, clean calib halves for the budget; docs/tagger.md, "Decoding"):
TAGGER_CANDIDATE_P = 0.12
TAGGER_GAIN_WEIGHT = 0.02  # logit units per bit of edit gain
# Untrained candidate windows whose best edit gains more than this share of clean windows' edits do
# are flagged whatever the tagger says (in practice: more than any clean window's edit gains).
TAGGER_REPAIR_FLAGS_PER_100 = 0.05


def quantile(sorted_values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of the values lie (nearest rank)."""
    if not sorted_values:
        return math.inf
    index = min(len(sorted_values) - 1, max(0, math.ceil(share * len(sorted_values)) - 1))
    return sorted_values[index]


def margin_for(gains_descending: Sequence[float], allowed: int) -> float:
    """The smallest gain that lets at most ``allowed`` of these clean-text gains through."""
    return threshold_for(gains_descending, allowed, floor=MIN_VERIFY_MARGIN_BITS)


def calibrate(
    scorer,
    documents: Sequence[Document],
    span_flags_per_100: float = SPAN_FLAGS_PER_100,
    sentence_flags_per_100: float = SENTENCE_FLAGS_PER_100,
    progress: Callable[[str], None] | None = None,
    tagger=None,
    tagger_documents: Sequence[Document] | None = None,
    sentence_head=None,
) -> Thresholds:
    """Thresholds for ``scorer`` on clean ``documents``; with a ``tagger`` (mtcheck.tagger.Tagger)
    also its decoding, fitted on ``tagger_documents`` (default: the same documents), and with a
    ``sentence_head`` (mtcheck.sentence_score.SentenceHead) the quantiles its fluency is relative to."""
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
        plans = [
            model.edit_plan(doc, sentence, words, first, last)
            for sentence, words in zip(doc.sentences, doc_words)
            for first, last, _ in model.candidates(words)
        ]
        gains.extend(best[0] for best in model.best_edits(plans) if best is not None)
    gains.sort(reverse=True)
    provisional.verify_margin_bits = margin_for(gains, int(n * span_flags_per_100 / 100))
    provisional.notice_margin_bits = margin_for(gains, int(n * NOTICES_PER_100 / 100))
    provisional.clean_sentences = n
    if tagger is not None:
        tagged = FluencyModel(scorer, provisional, tagger=tagger, sentence_head=sentence_head)
        provisional.tagger = calibrate_tagger(
            tagged, documents if tagger_documents is None else tagger_documents,
            span_flags_per_100, sentence_flags_per_100, progress=progress,
        )
    return provisional


def calibrate_tagger(
    model: FluencyModel,
    documents: Sequence[Document],
    span_flags_per_100: float = SPAN_FLAGS_PER_100,
    sentence_flags_per_100: float = SENTENCE_FLAGS_PER_100,
    notices_per_100: float = NOTICES_PER_100,
    progress: Callable[[str], None] | None = None,
) -> TaggerThresholds:
    """Decoding thresholds of ``model.tagger`` for these clean documents' false-positive budget.

    Use text the tagger was not trained on: its training negatives score lower than new text.
    """
    if model.tagger is None:
        raise ValueError("calibrate_tagger needs a FluencyModel with a tagger")
    say = progress or (lambda message: None)
    ctx = RuleContext()
    # span_info -inf while fitting: every candidate window is verified, none skipped
    limits = TaggerThresholds(TAGGER_CANDIDATE_P, TAGGER_GAIN_WEIGHT, math.inf, -math.inf, math.inf, math.inf)
    saved, model.thresholds = model.thresholds, replace(model.thresholds, tagger=limits)
    try:
        say(f"tagging {sum(len(d.sentences) for d in documents)} clean sentences")
        windows: list[tuple[int, ScoredWindow]] = []  # (document, window)
        sentence_ps: list[float] = []
        head_scores: list[float] = []
        n = 0
        for d, tagged in enumerate(model.tag(documents, ctx)):
            sentences, probabilities = tagged.words, tagged.probabilities
            sentence_ps.extend(p for p, words in zip(model.tagger.sentence_probabilities(probabilities), sentences) if words)
            if model.sentence_head is not None and tagged.document.paragraphs:
                disfluency = model.head_disfluency(tagged)
                head_scores.extend(float(score) for score, words in zip(disfluency, sentences) if words)
            n += sum(1 for words in sentences if words)
            windows.extend((d, w) for w in model.tagged_scores(tagged.document, sentences, probabilities))
    finally:
        model.thresholds = saved
    if n < 50:
        raise ValueError(f"calibration needs at least 50 clean sentences, got {n}")
    sentence_ps.sort(reverse=True)
    repair_gains = sorted((w.gain for _, w in windows if w.untrained), reverse=True)
    limits.span_gain = threshold_for(
        repair_gains, int(n * TAGGER_REPAIR_FLAGS_PER_100 / 100), floor=model.thresholds.verify_margin_bits
    )
    # a window repaired beyond span_gain is flagged whatever its score: it spends the same budget
    scored = [((d, w.sentence), w.first, w.last, math.inf if w.untrained and w.gain >= limits.span_gain else w.score)
              for d, w in windows]
    floor = logit(TAGGER_CANDIDATE_P)
    limits.span_warning = span_threshold(scored, int(n * span_flags_per_100 / 100), floor)
    limits.span_info = span_threshold(scored, int(n * notices_per_100 / 100), floor)
    limits.sentence_warning = threshold_for(sentence_ps, int(n * sentence_flags_per_100 / 100), floor=0.0)
    limits.sentence_info = threshold_for(sentence_ps, int(n * notices_per_100 / 100), floor=0.0)
    if head_scores:
        head_scores.sort()
        limits.fluency_quantiles = [round(quantile(head_scores, (i + 0.5) / QUANTILES), 5) for i in range(QUANTILES)]
    return limits


def strictest(limits: Sequence[TaggerThresholds]) -> TaggerThresholds:
    """The tagger decoding that keeps every one of these calibrations' budgets: each threshold at
    its highest. Fitted per kind of clean text, it holds on each kind, not only on their mix."""
    if not limits:
        raise ValueError("strictest needs at least one calibration")
    first = limits[0]
    if any((l.candidate_p, l.gain_weight) != (first.candidate_p, first.gain_weight) for l in limits):
        raise ValueError("calibrations with different candidate_p or gain_weight cannot be combined")
    return replace(
        first,
        span_warning=max(l.span_warning for l in limits),
        span_info=max(l.span_info for l in limits),
        sentence_warning=max(l.sentence_warning for l in limits),
        sentence_info=max(l.sentence_info for l in limits),
        span_gain=max(l.span_gain for l in limits),
        fluency_quantiles=[],
    )


def span_threshold(windows: Sequence[tuple], allowed: int, floor: float) -> float:
    """The smallest score at which the windows reaching it form at most ``allowed`` findings
    (overlapping windows of a sentence make one finding, as ``overlapping_groups`` joins them).

    Windows are added from the highest score down, merging each into the word ranges of its
    sentence that it overlaps, so the finding count is kept up to date rather than recounted.
    """
    ranges: dict[Any, list[tuple[int, int]]] = {}
    findings = 0
    ordered = sorted(windows, key=lambda w: -w[3])
    i = 0
    while i < len(ordered):
        score = ordered[i][3]
        while i < len(ordered) and ordered[i][3] == score:
            key, first, last = ordered[i][:3]
            kept = []
            for a, b in ranges.get(key, []):
                if a <= last and first <= b:
                    first, last = min(first, a), max(last, b)
                    findings -= 1
                else:
                    kept.append((a, b))
            ranges[key] = kept + [(first, last)]
            findings += 1
            i += 1
        if findings > allowed:
            return max(floor, score + 1e-6)
    return floor


def threshold_for(descending: Sequence[float], allowed: int, floor: float) -> float:
    """The smallest value that lets at most ``allowed`` of these clean-text values reach it."""
    if allowed >= len(descending):
        return floor
    return max(floor, descending[allowed] + 1e-6)
