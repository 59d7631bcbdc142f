"""Fluency rules: the language model's view of the text, normalised, calibrated and verified.

How a span is found (see DESIGN.md, "Fluency"):
1. Every paragraph is scored once, so each token's log-probability is conditioned on all the
   text before it in its paragraph.
2. Each word's surprisal (bits) is normalised by its context-free base rate (wordfreq unigram
   surprisal): rare-but-correct words stop looking surprising. Capitalised, hyphenated and
   digit-bearing words, the paragraph's first word and allowlisted terms are never counted
   as surprising (they are left to consistency rules); their normalised surprisal is capped at 0.
3. Windows of three words whose summed normalised surprisal exceeds a threshold fitted on clean
   text are candidates. A candidate is verified by small edits (drop a word, drop a repeat, swap
   two words): when an edit raises the sentence's log-probability by a calibrated margin (after
   a per-token deletion penalty), the span is flagged and the edit becomes the suggestion.
4. Sentence fluency is the share of clean sentences that scored worse (a calibrated 0-1 value:
   clean text is spread evenly over 0-1, garbled text sits near 0).
"""

from __future__ import annotations

import json
import math
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

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
    """Catches a clause the language model finds far less likely than its words' base rates,
    confirmed by a small edit that makes it fluent.

    Bad: ``They blame the United States for silence their global ambitions.``
    Good: ``They blame the United States for silencing their global ambitions.``
    """

    code = "F001"
    slug = "disfluent-span"
    severity = Severity.WARNING
    summary = "A word window the LM finds garbled, verified by an edit that repairs it."
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


@dataclass
class WordScore:
    word: Word
    normalised_bits: float  # LM surprisal minus unigram surprisal, capped at 0 for exempt words
    eligible: bool


@dataclass
class FluencyResult:
    findings: list[Finding]
    sentences: list[SentenceScore]
    fluency: float | None


@lru_cache(maxsize=65536)
def unigram_bits(word: str) -> float:
    from wordfreq import word_frequency

    return -math.log2(max(word_frequency(word.lower(), "en"), UNIGRAM_FLOOR))


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
    ) -> None:
        self.scorer = scorer
        self.thresholds = thresholds
        self.tagger = tagger  # mtcheck.tagger.Tagger: learned sentence fluency, when fitted for this model
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

        from mtcheck.tagger import Tagger

        def notice(message: str) -> None:
            print(message, file=sys.stderr)

        scorer = Scorer(load_model(config.model, gguf_file=config.gguf_file, device=config.device))
        tagger = Tagger.load(scorer.identity)
        if tagger is None:
            notice("mtcheck: no learned tagger for this model; sentence fluency comes from the untrained score")
        return cls(scorer, Thresholds.load(config.thresholds), notice=notice, tagger=tagger)

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
    def analyse(self, documents: Sequence[Document], ctx: RuleContext) -> list[FluencyResult]:
        results = []
        paragraph_scores = self.paragraph_scores(documents)
        word_scores = self.word_scores(documents, ctx, paragraph_scores)
        for doc, doc_scores, sentences in zip(documents, paragraph_scores, word_scores):
            findings: list[Finding] = []
            scores: list[SentenceScore] = []
            learned = self.learned_fluency(doc, doc_scores)
            for index, (sentence, words) in enumerate(zip(doc.sentences, sentences)):
                z = self.sentence_z(words)
                z_fluency = self.thresholds.fluency(z)
                fluency = learned[index] if learned is not None else z_fluency
                scores.append(SentenceScore(sentence.start, sentence.end, fluency, z))
                if words and z > min(self.thresholds.sentence_flag_z, self.thresholds.sentence_notice_z):
                    finding = self.sentence_rule.finding(
                        sentence.start,
                        sentence.end,
                        f"This sentence reads less fluently than {100 * (1 - z_fluency):.1f}% of clean news "
                        "sentences; check it against the source.",
                        score=z_fluency,
                    )
                    if z <= self.thresholds.sentence_flag_z:
                        finding = finding.with_severity(Severity.INFO)
                    findings.append(finding)
                findings.extend(self.verified_spans(doc, sentence, words))
            fluency = sum(s.fluency for s in scores) / len(scores) if scores else None
            results.append(FluencyResult(findings, scores, fluency))
        return results

    def learned_fluency(self, doc: Document, paragraph_scores: list) -> list[float] | None:
        """The tagger's sentence fluency (share of clean sentences that look more garbled), if there is a tagger."""
        if self.tagger is None or not doc.paragraphs:
            return None
        probabilities = self.tagger.word_probabilities(doc, paragraph_scores)
        return [self.tagger.sentence_fluency(p) for p in self.tagger.sentence_probabilities(probabilities)]

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

    def verified_spans(self, doc: Document, sentence: Sentence, words: Sequence[WordScore]) -> list[Finding]:
        findings = []
        for first, last, bits in self.candidates(words):
            best = self.best_edit(doc, sentence, words, first, last)
            start, end = words[first].word.start, words[last].word.end
            if best is None:
                continue
            gain, suggestion = best
            if gain < min(self.thresholds.verify_margin_bits, self.thresholds.notice_margin_bits):
                continue
            finding = self.span_rule.finding(
                start,
                end,
                f"The language model finds this wording garbled ({bits:.1f} bits above the words' "
                f"usual rates); an edit makes it {gain:.1f} bits more likely.",
                suggestion=suggestion,
                score=gain,
            )
            if gain < self.thresholds.verify_margin_bits:
                finding = finding.with_severity(Severity.INFO)
            findings.append(finding)
        return findings

    def best_edit(
        self, doc: Document, sentence: Sentence, words: Sequence[WordScore], first: int, last: int
    ) -> tuple[float, str] | None:
        """The edit of words[first..last] that most raises the text's normalised log-probability.

        Each variant is scored with the paragraph up to the window as shared context and the next
        few words after it (an edit's effect is local); the gain is in bits, net of the edit's
        change in unigram surprisal (deleting a rare word is no repair by itself) and a small
        per-deleted-word penalty.
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
        logprobs = self.scorer.continuation_logprob(prefix, variants)
        original = logprobs[0] / LN2
        best = None
        for edit, lp in zip(edits, logprobs[1:]):
            gain = (
                lp / LN2
                - original
                - edit.unigram_delta_bits
                - self.thresholds.deletion_penalty_bits * edit.removed_words
            )
            if best is None or gain > best[0]:
                best = (gain, edit.text)
        return best


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


def span_edits(
    text: str, words: Sequence[Word], offset: int, editable: Sequence[bool] | None = None
) -> Iterator[Edit]:
    """Small edits of a span: drop one word, swap two neighbours, or put a frequent alternative
    (a confusable function word or an inflection of the same stem) in one word's place.

    Only ``editable`` words are touched: deleting a name or a number always "improves" the
    text for the model, and such words are left to the consistency rules.
    """
    editable = [True] * len(words) if editable is None else list(editable)
    span = text[offset : words[-1].end]
    for i, word in enumerate(words):
        if not editable[i]:
            continue
        a, b = word.start - offset, word.end - offset
        if i + 1 < len(words):
            b = words[i + 1].start - offset
        elif i > 0:
            a = words[i - 1].end - offset
        yield Edit(span[:a] + span[b:], 1, unigram_bits(word.text))
    for i in range(len(words) - 1):
        if not (editable[i] and editable[i + 1]):
            continue
        w1, w2 = words[i], words[i + 1]
        a, b = w1.start - offset, w2.end - offset
        middle = text[w1.end : w2.start]
        yield Edit(span[:a] + w2.text + middle + w1.text + span[b:], 0, 0.0)
    for word, can_edit in zip(words, editable):
        if not can_edit:
            continue
        a, b = word.start - offset, word.end - offset
        for alternative in alternatives(word.text):
            delta = unigram_bits(word.text) - unigram_bits(alternative)
            yield Edit(span[:a] + alternative + span[b:], 0, delta)
