"""Fluency rules: the language model's view of the text, normalised, calibrated and verified.

Every paragraph is scored once, so each token's log-probability is conditioned on all the text
before it in its paragraph. Two detectors turn those scores into findings (config ``detector``):

**tagger** (``detector = "tagger"``; needs mtcheck/data/tagger.npz fitted for the model, see docs/tagger.md):
1. The learned tagger gives every word a probability of being garbled, from the same LM pass.
2. The three-word window around each word rated at least ``candidate_p``, and each candidate
   window of the untrained detector, is verified by small edits (see 4 below); it scores
   logit(highest p in the window) + ``gain_weight`` * (best edit gain in bits), and scores
   above thresholds fitted on clean text give F001 (overlapping windows make one finding).
3. Sentence fluency comes from the sentence head (as below); F002 flags a sentence whose garbled
   probability is above what clean text reaches at the budget.

**untrained** (the default flags; any model):
1. Each word's surprisal (bits) is normalised by its context-free base rate (wordfreq unigram
   surprisal): rare-but-correct words stop looking surprising. Capitalised, hyphenated and
   digit-bearing words, the paragraph's first word and allowlisted terms are never counted
   as surprising (they are left to consistency rules); their normalised surprisal is capped at 0.
2. Windows of three words whose summed normalised surprisal exceeds a threshold fitted on clean
   text are candidates, verified by edits as below.
3. F002 flags a sentence whose summed normalised surprisal (z) is above what clean text reaches
   at the budget. Sentence fluency comes from the sentence head (mtcheck/sentence_score.py:
   log-probability, length, z and the tagger's probabilities) when the tagger fits the model,
   else it is the share of clean sentences whose z was worse.

4. Edit verification (both): drop a word, swap two neighbours, or put a frequent alternative in
   a word's place; the gain is how much more likely the edited text is (bits, net of the unigram
   cost of the change and a per-deleted-word penalty). The best edit becomes the suggestion.
"""

from __future__ import annotations

import json
import math
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from mtcheck.document import Document, Sentence, Word
from mtcheck.errors import MtcheckError
from mtcheck.findings import Finding, SentenceScore, Severity
from mtcheck.rules.base import Rule, RuleContext, register

LN2 = math.log(2.0)
WINDOW_WORDS = 3
TAIL_WORDS = 4  # words after a window that an edit is judged on
UNIGRAM_FLOOR = 1e-8  # frequency given to words wordfreq has never seen (~26.6 bits)
DEFAULT_THRESHOLDS = "fluency_thresholds.json"


@register
class DisfluentSpan(Rule):
    """Catches a clause the language model finds garbled: rated by the learned tagger (or far
    less likely than its words' base rates), backed by a small edit that makes it fluent.

    Bad: ``They blame the United States for silence their global ambitions.``
    Good: ``They blame the United States for silencing their global ambitions.``
    """

    code = "F001"
    slug = "disfluent-span"
    severity = Severity.WARNING
    summary = "A word window the LM finds garbled, backed by an edit that repairs it."
    uses_lm = True


@register
class DisfluentSentence(Rule):
    """Catches a sentence whose overall fluency is below almost all clean, edited sentences.

    Bad: ``The call was the second month between them and appeared to be with him.``
    Good: ``It was their second call this month.``
    """

    code = "F002"
    slug = "disfluent-sentence"
    severity = Severity.WARNING
    summary = "A sentence less fluent than 99.8% of clean news sentences."
    uses_lm = True


class FluencyError(MtcheckError):
    """Thresholds cannot be read or do not fit the model."""


@dataclass
class TaggerThresholds:
    """How the learned tagger's word probabilities become findings (fitted on clean text).

    The window around a word the tagger rates at least ``candidate_p`` (and each untrained
    candidate window) is verified by edits; its score is logit(highest p in the window) +
    ``gain_weight`` * (best edit gain in bits). Scores
    at ``span_info`` / ``span_warning`` give info / warning F001 findings, and so does (warning)
    an untrained candidate window whose best edit gains at least ``span_gain`` bits, more than
    edits of clean text gain. A sentence whose
    garbled probability reaches ``sentence_info`` / ``sentence_warning`` gives an F002 finding.
    ``fluency_quantiles``, when fitted, are the sentence head's scores of the clean text: sentence
    fluency is then relative to that text instead of the head's own clean news.
    """

    candidate_p: float
    gain_weight: float
    span_warning: float
    span_info: float
    sentence_warning: float
    sentence_info: float
    fluency_quantiles: list[float] = field(default_factory=list)
    span_gain: float = math.inf


@dataclass
class Thresholds:
    """What calibration fits on clean text; shipped for the default model as package data."""

    model: str
    word_mean: float
    word_std: float
    window_bits: float
    verify_margin_bits: float
    deletion_penalty_bits: float
    sentence_flag_z: float
    notice_margin_bits: float = math.inf  # info-level F001 below the warning margin
    sentence_notice_z: float = math.inf  # info-level F002 below the warning z
    sentence_quantiles: list[float] = field(default_factory=list)
    clean_sentences: int = 0
    tagger: "TaggerThresholds | None" = None  # the learned tagger's decoding, when fitted for this model

    def __post_init__(self) -> None:
        if isinstance(self.tagger, dict):
            self.tagger = TaggerThresholds(**self.tagger)

    def fluency(self, z: float) -> float:
        """Share of clean sentences with a worse (higher) z: 1 fluent … 0 garbled."""
        q = self.sentence_quantiles
        if not q:
            return 0.5 * math.erfc(z / math.sqrt(2))
        rank = bisect_left(q, z)
        return 1.0 - rank / len(q)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None) -> "Thresholds":
        try:
            if path is None:
                text = resources.files("mtcheck.data").joinpath(DEFAULT_THRESHOLDS).read_text(encoding="utf-8")
            else:
                text = Path(path).read_text(encoding="utf-8")
            return cls(**json.loads(text))
        except (OSError, ValueError, TypeError) as exc:
            raise FluencyError(f"cannot read fluency thresholds {path or DEFAULT_THRESHOLDS}: {exc}") from None


def overlapping_groups(windows: Iterable[tuple]) -> list[list[tuple]]:
    """Windows (sentence index, first word, last word, ...) grouped where they overlap in a sentence."""
    groups: list[list[tuple]] = []
    for window in sorted(windows, key=lambda w: (w[0], w[1])):
        if groups and groups[-1][0][0] == window[0] and window[1] <= max(w[2] for w in groups[-1]):
            groups[-1].append(window)
        else:
            groups.append([window])
    return groups


MIN_SUGGESTION_GAIN_BITS = 1.0
# Windows that could not reach the info score even with this edit gain are not verified (the
# largest gain on 6,116 dev candidate windows was 35.2 bits).
GAIN_CAP_BITS = 40.0  # an edit that gains less is no repair worth suggesting


def logit(p: float, clip: float = 1e-9) -> float:
    p = min(max(p, clip), 1 - clip)
    return math.log(p / (1 - p))


def mean_fluency(scores: Sequence[SentenceScore]) -> float | None:
    return sum(s.fluency for s in scores) / len(scores) if scores else None


class ScoredWindow(NamedTuple):
    """A tagger candidate window, verified: its score, best edit, whether it is an untrained
    candidate, and whether that edit repairs it beyond ``span_gain`` (untrained candidates only)."""

    sentence: int
    first: int
    last: int
    score: float  # logit(highest tagger p) + gain_weight * gain
    gain: float  # the best edit's gain, bits
    edited: str  # the window as the best edit leaves it
    untrained: bool
    repaired: bool


@dataclass
class WordScore:
    word: Word
    normalised_bits: float  # LM surprisal minus unigram surprisal, capped at 0 for exempt words
    eligible: bool


@dataclass
class TaggedDocument:
    """A document after the LM pass: its paragraphs' token scores, each sentence's word scores and
    each word's probability of being garbled (per sentence; empty without a tagger)."""

    document: Document
    paragraph_scores: list
    words: list[list[WordScore]]
    probabilities: list[list[float]]


@dataclass
class FluencyResult:
    findings: list[Finding]
    sentences: list[SentenceScore]
    fluency: float | None


@lru_cache(maxsize=65536)
def frequency(word: str) -> float:
    """The word's wordfreq frequency in English (0 when wordfreq has never seen it)."""
    from wordfreq import word_frequency

    return word_frequency(word.lower(), "en")


@lru_cache(maxsize=65536)
def unigram_bits(word: str) -> float:
    return -math.log2(max(frequency(word), UNIGRAM_FLOOR))


def known_word(word: str) -> bool:
    """Whether wordfreq has a frequency for the word (else its unigram surprisal is the floor)."""
    return frequency(word) > 0


def exempt(word: Word, ctx: RuleContext) -> bool:
    text = word.text
    return (
        text[:1].isupper()
        or any(c.isdigit() for c in text)
        or "-" in text
        or not text.isascii()
        or ctx.allowed(text)
    )


class FluencyModel:
    """Turns LM token scores into sentence fluency and verified span findings."""

    def __init__(
        self,
        scorer,
        thresholds: Thresholds,
        notice: Callable[[str], None] | None = None,
        tagger=None,
        tagger_flags: bool = False,
        sentence_head=None,
    ) -> None:
        self.scorer = scorer
        self.thresholds = thresholds
        self.tagger = tagger  # mtcheck.tagger.Tagger, when fitted for this model: sentence fluency
        self.tagger_flags = tagger_flags  # and F001/F002 too (needs thresholds.tagger)
        # mtcheck.sentence_score.SentenceHead: sentence fluency from the tagger, z and log-probability
        self.sentence_head = sentence_head if tagger is not None else None
        self.span_rule = DisfluentSpan()
        self.sentence_rule = DisfluentSentence()
        if thresholds.model != scorer.identity and notice is not None:
            notice(
                f"mtcheck: thresholds were fitted for {thresholds.model}, not {scorer.identity}; "
                "run `mtcheck calibrate` for reliable fluency flags"
            )

    @classmethod
    def from_config(cls, config) -> "FluencyModel":
        from mtcheck.lm.models import load_model
        from mtcheck.lm.scorer import Scorer

        from mtcheck.sentence_score import SentenceHead
        from mtcheck.tagger import Tagger

        def notice(message: str) -> None:
            print(message, file=sys.stderr)

        scorer = Scorer(load_model(config.model, gguf_file=config.gguf_file, device=config.device))
        thresholds = Thresholds.load(config.thresholds)
        tagger = None if config.detector == "untrained" else Tagger.load(scorer.identity)
        if tagger is None and config.detector != "untrained":
            notice("mtcheck: no learned tagger for this model; sentence fluency comes from the untrained score")
        if config.detector == "tagger" and (tagger is None or thresholds.tagger is None):
            raise FluencyError(
                "detector = 'tagger' needs tagger weights fitted for this model and thresholds with a "
                "tagger section (`mtcheck calibrate` writes one)"
            )
        head = SentenceHead.load(scorer.identity) if tagger is not None else None
        return cls(
            scorer, thresholds, notice=notice, tagger=tagger, tagger_flags=config.detector == "tagger", sentence_head=head
        )

    # -- scoring -----------------------------------------------------------------------------
    def paragraph_scores(self, documents: Sequence[Document]) -> list[list]:
        """Per document, the TokenScores of each paragraph: one batched LM pass for all of them."""
        texts = [p.text for d in documents for p in d.paragraphs]
        layer = self.tagger.hidden_layer if self.tagger is not None else None
        flat = self.scorer.score(texts, hidden_layer=layer) if texts else []
        grouped, cursor = [], 0
        for doc in documents:
            grouped.append(flat[cursor : cursor + len(doc.paragraphs)])
            cursor += len(doc.paragraphs)
        return grouped

    def word_scores(
        self, documents: Sequence[Document], ctx: RuleContext, paragraph_scores: list[list] | None = None
    ) -> list[list[list[WordScore]]]:
        """Per document, per sentence, the normalised surprisal of each word."""
        if paragraph_scores is None:
            paragraph_scores = self.paragraph_scores(documents)
        paragraphs = [(d, p) for d in documents for p in d.paragraphs]
        token_scores = [scores for doc_scores in paragraph_scores for scores in doc_scores]
        per_doc: dict[int, list[list[WordScore]]] = {id(d): [] for d in documents}
        for (doc, paragraph), scores in zip(paragraphs, token_scores):
            starts = scores.starts + paragraph.start
            ends = scores.ends + paragraph.start
            bits = -scores.logprobs / LN2
            cursor = 0
            for sentence in paragraph.sentences:
                words = []
                for word in sentence.words:
                    while cursor < len(ends) and ends[cursor] <= word.start:
                        cursor += 1
                    k = cursor
                    surprisal = 0.0
                    while k < len(starts) and starts[k] < word.end:
                        surprisal += float(bits[k])
                        k += 1
                    normalised = surprisal - unigram_bits(word.text)
                    first_in_paragraph = not words and sentence is paragraph.sentences[0]
                    is_exempt = exempt(word, ctx) or first_in_paragraph
                    if is_exempt:
                        normalised = min(normalised, 0.0)
                    words.append(WordScore(word, normalised, eligible=not is_exempt))
                per_doc[id(doc)].append(words)
        return [per_doc[id(d)] for d in documents]

    def sentence_z(self, words: Sequence[WordScore]) -> float:
        if not words:
            return 0.0
        t = self.thresholds
        total = sum(w.normalised_bits for w in words)
        return (total - len(words) * t.word_mean) / (t.word_std * math.sqrt(len(words)))

    @staticmethod
    def windows(words: Sequence[WordScore]) -> Iterator[tuple[int, int, float]]:
        """(first, last, summed bits) for each window of up to three words holding an eligible word."""
        for i in range(len(words)):
            j = min(i + WINDOW_WORDS, len(words))
            if any(w.eligible for w in words[i:j]):
                yield i, j - 1, sum(w.normalised_bits for w in words[i:j])

    # -- findings ----------------------------------------------------------------------------
    @property
    def uses_tagger(self) -> bool:
        """Whether F001/F002 come from the tagger (else from the untrained detector)."""
        return self.tagger_flags and self.tagger is not None and self.thresholds.tagger is not None

    def tag(self, documents: Sequence[Document], ctx: RuleContext | None = None) -> list[TaggedDocument]:
        """One batched LM pass over ``documents``: token, word and (with a tagger) tagger scores."""
        paragraph_scores = self.paragraph_scores(documents)
        word_scores = self.word_scores(documents, ctx or RuleContext(), paragraph_scores)
        tagged = []
        for doc, scores, words in zip(documents, paragraph_scores, word_scores):
            probabilities = self.tagger.word_probabilities(doc, scores) if self.tagger is not None and doc.paragraphs else []
            tagged.append(TaggedDocument(doc, scores, words, probabilities))
        return tagged

    def analyse(self, documents: Sequence[Document], ctx: RuleContext, spans: bool = True) -> list[FluencyResult]:
        """Sentence scores and F002 findings of each document, and F001 spans unless ``spans`` is
        False (then no edit is verified: most of the LM time on short texts)."""
        result = self.tagged_result if self.uses_tagger else self.untrained_result
        return [result(tagged, spans) for tagged in self.tag(documents, ctx)]

    def untrained_result(self, tagged: TaggedDocument, spans: bool = True) -> FluencyResult:
        """F002 from z; F001 from surprising windows verified by edits; sentence fluency from the
        tagger when there is one (it ranks sentences better), else from z."""
        findings: list[Finding] = []
        scores: list[SentenceScore] = []
        learned = self.learned_fluency(tagged)
        for index, (sentence, words) in enumerate(zip(tagged.document.sentences, tagged.words)):
            z = self.sentence_z(words)
            z_fluency = self.thresholds.fluency(z)
            fluency = learned[index] if learned is not None else z_fluency
            scores.append(SentenceScore(sentence.start, sentence.end, fluency, z))
            if words and z > min(self.thresholds.sentence_flag_z, self.thresholds.sentence_notice_z):
                warning = z > self.thresholds.sentence_flag_z
                findings.append(self.sentence_finding(sentence, z_fluency, warning))
        if spans:
            findings.extend(self.verified_spans(tagged.document, tagged.words))
        return FluencyResult(findings, scores, mean_fluency(scores))

    def tagged_result(self, tagged: TaggedDocument, spans: bool = True) -> FluencyResult:
        """Sentence fluency, F002 and F001 from the learned tagger (z is still reported)."""
        limits = self.thresholds.tagger
        findings: list[Finding] = []
        scores: list[SentenceScore] = []
        garbled = self.tagger.sentence_probabilities(tagged.probabilities)
        fluencies = self.learned_fluency(tagged) or []
        for sentence, words, p, fluency in zip(tagged.document.sentences, tagged.words, garbled, fluencies):
            scores.append(SentenceScore(sentence.start, sentence.end, fluency, self.sentence_z(words)))
            if words and p >= limits.sentence_info:
                findings.append(self.sentence_finding(sentence, fluency, p >= limits.sentence_warning))
        if spans:
            findings.extend(self.tagged_spans(tagged.document, tagged.words, tagged.probabilities))
        return FluencyResult(findings, scores, mean_fluency(scores))

    def learned_fluency(self, tagged: TaggedDocument) -> list[float] | None:
        """Each sentence's fluency from the sentence head (or the tagger alone), if there is a tagger."""
        if self.tagger is None or not tagged.document.paragraphs:
            return None
        if self.sentence_head is None:
            return [self.tagger.sentence_fluency(p) for p in self.tagger.sentence_probabilities(tagged.probabilities)]
        domain = self.thresholds.tagger.fluency_quantiles if self.thresholds.tagger is not None else None
        return [self.sentence_head.fluency(d, domain or None) for d in self.head_disfluency(tagged)]

    def head_disfluency(self, tagged: TaggedDocument) -> Sequence[float]:
        """The sentence head's score of each sentence (higher = less fluent; a numpy array)."""
        return self.sentence_head.disfluency(self.sentence_features(tagged))

    def sentence_features(self, tagged: TaggedDocument) -> list:
        """The sentence head's FEATURES vector for each sentence."""
        from mtcheck.sentence_score import sentence_logprobs, signals

        doc = tagged.document
        totals = [t for paragraph, scores in zip(doc.paragraphs, tagged.paragraph_scores) for t in sentence_logprobs(paragraph, scores)]
        return [
            signals(logprob, tokens, [unigram_bits(w.word.text) for w in words], self.sentence_z(words), probs)
            for (logprob, tokens), words, probs in zip(totals, tagged.words, tagged.probabilities)
        ]

    def sentence_finding(self, sentence: Sentence, fluency: float, warning: bool) -> Finding:
        finding = self.sentence_rule.finding(
            sentence.start,
            sentence.end,
            f"This sentence reads less fluently than {100 * (1 - fluency):.1f}% of clean news "
            "sentences; check it against the source.",
            score=fluency,
        )
        return finding if warning else finding.with_severity(Severity.INFO)

    def tagged_candidates(
        self, sentences: Sequence[Sequence[WordScore]], probabilities: Sequence[Sequence[float]]
    ) -> list[tuple[int, int, int, float, bool]]:
        """(sentence index, first, last, highest tagger p, untrained candidate?) of the windows
        worth verifying: the window around each word the tagger rates at least ``candidate_p``
        and the untrained detector's candidates, when the window holds a word edits may touch and
        could reach the info score with an edit gain of up to GAIN_CAP_BITS (an untrained
        candidate always can, when ``span_gain`` is set)."""
        limits = self.thresholds.tagger
        reachable = limits.span_info - limits.gain_weight * GAIN_CAP_BITS
        windows = []
        for index, (words, probs) in enumerate(zip(sentences, probabilities)):
            tagged = {(max(0, i - 1), min(len(words) - 1, i + 1)) for i, p in enumerate(probs) if p >= limits.candidate_p}
            untrained = {(first, last) for first, last, _ in self.candidates(words)}
            for first, last in sorted(tagged | untrained):
                p = max(probs[first : last + 1])
                is_untrained = (first, last) in untrained
                repairable = is_untrained and limits.span_gain <= GAIN_CAP_BITS
                if (logit(p) >= reachable or repairable) and any(w.eligible for w in words[first : last + 1]):
                    windows.append((index, first, last, p, is_untrained))
        return windows

    def tagged_scores(
        self, doc: Document, sentences: Sequence[Sequence[WordScore]], probabilities: Sequence[Sequence[float]]
    ) -> list[ScoredWindow]:
        """Each candidate window that has an edit, scored (one batched LM call)."""
        limits = self.thresholds.tagger
        windows = self.tagged_candidates(sentences, probabilities)
        sentence_list = doc.sentences
        plans = [self.edit_plan(doc, sentence_list[s], sentences[s], first, last) for s, first, last, _, _ in windows]
        scored = []
        for (s, first, last, p, untrained), best in zip(windows, self.best_edits(plans)):
            if best is None:
                continue
            gain, edited = best
            score = logit(p) + limits.gain_weight * gain
            scored.append(ScoredWindow(s, first, last, score, gain, edited, untrained, untrained and gain >= limits.span_gain))
        return scored

    def tagged_spans(
        self, doc: Document, sentences: Sequence[Sequence[WordScore]], probabilities: Sequence[Sequence[float]]
    ) -> list[Finding]:
        """F001 findings from the tagger: windows scoring at least ``span_info``, and untrained
        candidates repaired by an edit beyond ``span_gain``; overlapping flagged windows of a
        sentence become one finding (the strongest window's edit)."""
        limits = self.thresholds.tagger
        flagged = [w for w in self.tagged_scores(doc, sentences, probabilities) if w.score >= limits.span_info or w.repaired]
        findings = []
        for group in overlapping_groups(flagged):
            words = sentences[group[0].sentence]
            start, end = words[min(w.first for w in group)].word.start, words[max(w.last for w in group)].word.end
            strongest = max(group, key=lambda w: (w.repaired, w.score))
            window_start, window_end = words[strongest.first].word.start, words[strongest.last].word.end
            suggestion = None
            if strongest.gain >= MIN_SUGGESTION_GAIN_BITS:
                suggestion = doc.text[start:window_start] + strongest.edited + doc.text[window_end:end]
            if strongest.repaired:
                message = (
                    f"An edit makes this wording {strongest.gain:.1f} bits more likely, more than edits of clean "
                    f"text gain (fluency tagger score {strongest.score:.2f})."
                )
            else:
                message = f"The fluency tagger rates this wording as likely garbled (score {strongest.score:.2f})" + (
                    f"; an edit makes it {strongest.gain:.1f} bits more likely." if suggestion is not None else "."
                )
            finding = self.span_rule.finding(start, end, message, suggestion=suggestion, score=strongest.score)
            warning = strongest.repaired or strongest.score >= limits.span_warning
            findings.append(finding if warning else finding.with_severity(Severity.INFO))
        return findings

    def candidates(self, words: Sequence[WordScore]) -> list[tuple[int, int, float]]:
        """Non-overlapping windows above the threshold, strongest first."""
        above = sorted(
            (w for w in self.windows(words) if w[2] >= self.thresholds.window_bits), key=lambda w: -w[2]
        )
        chosen: list[tuple[int, int, float]] = []
        for first, last, bits in above:
            if all(last < a or first > b for a, b, _ in chosen):
                chosen.append((first, last, bits))
        return chosen

    def verified_spans(
        self, doc: Document, sentence_words: Sequence[Sequence[WordScore]]
    ) -> list[Finding]:
        """F001 findings of one document: candidate windows verified by edits, all scored at once."""
        windows = [
            (sentence, words, first, last, bits)
            for sentence, words in zip(doc.sentences, sentence_words)
            for first, last, bits in self.candidates(words)
        ]
        plans = [self.edit_plan(doc, sentence, words, first, last) for sentence, words, first, last, _ in windows]
        findings = []
        for (_, words, first, last, bits), best in zip(windows, self.best_edits(plans)):
            if best is None:
                continue
            gain, suggestion = best
            if gain < min(self.thresholds.verify_margin_bits, self.thresholds.notice_margin_bits):
                continue
            finding = self.span_rule.finding(
                words[first].word.start,
                words[last].word.end,
                f"The language model finds this wording garbled ({bits:.1f} bits above the words' "
                f"usual rates); an edit makes it {gain:.1f} bits more likely.",
                suggestion=suggestion,
                score=gain,
            )
            if gain < self.thresholds.verify_margin_bits:
                finding = finding.with_severity(Severity.INFO)
            findings.append(finding)
        return findings

    def edit_plan(
        self, doc: Document, sentence: Sentence, words: Sequence[WordScore], first: int, last: int
    ) -> EditPlan | None:
        """What to score for the edits of words[first..last].

        Each variant is scored with the paragraph up to the window as shared context and the next
        few words after it (an edit's effect is local).
        """
        start, end = words[first].word.start, words[last].word.end
        window = words[first : last + 1]
        edits = list(span_edits(doc.text, [w.word for w in window], start, [w.eligible for w in window]))
        if not edits:
            return None
        paragraph = doc.paragraphs[sentence.paragraph]
        prefix = doc.text[paragraph.start : start]
        tail_end = words[min(last + TAIL_WORDS, len(words) - 1)].word.end if last + 1 < len(words) else end
        tail = doc.text[end:tail_end]
        variants = [doc.text[start:end] + tail] + [edit.text + tail for edit in edits]
        return EditPlan(prefix, variants, edits)

    def edit_gains(self, plans: Sequence[EditPlan | None]) -> list[list[tuple[float, Edit]] | None]:
        """Score every plan in one batched LM call; per plan, each edit with its gain.

        The gain is in bits, net of the edit's change in unigram surprisal (deleting a rare word
        is no repair by itself) and a small per-deleted-word penalty.
        """
        real = [plan for plan in plans if plan is not None]
        scored = iter(self.scorer.continuation_logprob_many([(p.prefix, p.variants) for p in real]) if real else [])
        results: list[list[tuple[float, Edit]] | None] = []
        for plan in plans:
            if plan is None:
                results.append(None)
                continue
            logprobs = next(scored)
            original = logprobs[0] / LN2
            results.append(
                [
                    (
                        lp / LN2
                        - original
                        - edit.unigram_delta_bits
                        - self.thresholds.deletion_penalty_bits * edit.removed_words,
                        edit,
                    )
                    for edit, lp in zip(plan.edits, logprobs[1:])
                ]
            )
        return results

    def best_edits(self, plans: Sequence[EditPlan | None]) -> list[tuple[float, str] | None]:
        """Per plan, its best (gain, edited text) (see ``edit_gains``)."""
        results: list[tuple[float, str] | None] = []
        for gains in self.edit_gains(plans):
            if not gains:
                results.append(None)
                continue
            gain, edit = max(gains, key=lambda g: g[0])
            results.append((gain, edit.text))
        return results


@dataclass(frozen=True)
class EditPlan:
    prefix: str  # the paragraph up to the window
    variants: list[str]  # the window as written, then each edit, each followed by the same tail
    edits: list["Edit"]


CONFUSION_SETS = (
    ("in", "on", "at", "of", "for", "to", "with", "by", "from", "about"),
    ("a", "an", "the"),
    ("is", "are", "was", "were"),
    ("has", "have", "had"),
    ("this", "these", "that", "those"),
)
CONFUSABLE = {word: group for group in CONFUSION_SETS for word in group}
MIN_ALTERNATIVE_ZIPF = 3.0


def inflections(word: str) -> set[str]:
    """Frequent inflectional neighbours of a lowercase word ("silence" -> "silencing", "silenced", …)."""
    stems = {word}
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            stems |= {stem, stem + "e"}
    forms = set()
    for stem in stems:
        base = stem[:-1] if stem.endswith("e") else stem
        forms |= {stem, stem + "s", base + "ing", base + "ed", stem + "es"}
    return forms - {word}


def alternatives(word: str) -> list[str]:
    from wordfreq import zipf_frequency

    lowered = word.lower()
    if word != lowered:
        return []
    if lowered in CONFUSABLE:
        candidates = set(CONFUSABLE[lowered])
    else:
        candidates = inflections(lowered) if len(lowered) >= 4 else set()
    candidates.discard(lowered)
    return sorted(c for c in candidates if zipf_frequency(c, "en") >= MIN_ALTERNATIVE_ZIPF)


@dataclass(frozen=True)
class Edit:
    text: str  # the span as edited
    removed_words: int
    unigram_delta_bits: float  # unigram surprisal of the words taken out minus of those put in
    kind: str  # drop | swap | alternative


def span_edits(
    text: str, words: Sequence[Word], offset: int, editable: Sequence[bool] | None = None
) -> Iterator[Edit]:
    """Small edits of a span: drop one word, swap two neighbours, or put a frequent alternative
    (a confusable function word or an inflection of the same stem) in one word's place.

    Only ``editable`` words are touched: deleting a name or a number always "improves" the
    text for the model, and such words are left to the consistency rules. Nor is a word wordfreq
    has never seen deleted: its unigram rate is unknown (floored), so what deleting it gains
    cannot be told from what it costs.
    """
    editable = [True] * len(words) if editable is None else list(editable)
    span = text[offset : words[-1].end]
    for i, word in enumerate(words):
        if not editable[i] or not known_word(word.text):
            continue
        a, b = word.start - offset, word.end - offset
        if i + 1 < len(words):
            b = words[i + 1].start - offset
        elif i > 0:
            a = words[i - 1].end - offset
        yield Edit(span[:a] + span[b:], 1, unigram_bits(word.text), "drop")
    for i in range(len(words) - 1):
        if not (editable[i] and editable[i + 1]):
            continue
        w1, w2 = words[i], words[i + 1]
        a, b = w1.start - offset, w2.end - offset
        middle = text[w1.end : w2.start]
        yield Edit(span[:a] + w2.text + middle + w1.text + span[b:], 0, 0.0, "swap")
    for word, can_edit in zip(words, editable):
        if not can_edit:
            continue
        a, b = word.start - offset, word.end - offset
        for alternative in alternatives(word.text):
            delta = unigram_bits(word.text) - unigram_bits(alternative)
            yield Edit(span[:a] + alternative + span[b:], 0, delta, "alternative")
