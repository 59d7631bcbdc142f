"""A learned fluency tagger: the probability that each word is garbled, from frozen LM features.

The language model is not fine-tuned. One forward pass per paragraph (the same pass that gives the
fluency rules their surprisals) also returns the hidden states of one layer; per word this module
builds a feature vector and a small MLP, trained by ``scripts/train_tagger.py`` on dev data only
(TED MQM spans and synthetic corruptions of clean news), turns it into P(garbled).

Per word (a ``Document`` word: a run of letters/digits, see mtcheck.document):
- the hidden state of ``hidden_layer``, averaged over the word's tokens (the mean is steadier than
  the first or last token when a rare word splits into many pieces), standardised and projected
  onto a fixed PCA basis fitted on training words;
- scalars: LM surprisal of the word (sum over its tokens; first token and the rest apart), its
  wordfreq unigram surprisal and the difference (the SLOR-like normalised surprisal), the model's
  entropy before the word, the surprisal of punctuation between it and the previous word, casing,
  digit, hyphen and non-ASCII flags, position in the sentence and paragraph, and repetition cues
  (same as the previous word or the one before it, elsewhere in the window, elsewhere in the
  document), plus the sentence's mean surprisal;
- the same for its neighbours: scalars of the words two before to two after, hidden projections of
  the word before and after (within the paragraph; zero-padded, with a padding flag).

Inference is numpy only (plus wordfreq); the weights, the feature scalers, the model identity they
were fitted for and the decoding thresholds live in ``mtcheck/data/tagger.npz``.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mtcheck.document import Document, Paragraph
from mtcheck.rules.fluency import unigram_bits

LN2 = math.log(2.0)
DEFAULT_WEIGHTS = "tagger.npz"
FORMAT_VERSION = 1
SCALAR_CONTEXT = 2  # scalars of words i-2 .. i+2
HIDDEN_CONTEXT = 1  # hidden projections of words i-1 .. i+1
RECENT_WORDS = 6
CLIP = 5.0  # standardised features are clipped to +-CLIP
FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "about",
        "into",
        "over",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "this",
        "these",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "he",
        "him",
        "his",
        "she",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "as",
        "than",
        "then",
        "if",
        "when",
        "while",
        "because",
        "not",
        "no",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "there",
        "here",
        "what",
    ]
)
SCALAR_NAMES = (
    "bits",
    "first_bits",
    "rest_bits",
    "unigram_bits",
    "normalised_bits",
    "entropy_bits",
    "surprise_over_entropy",
    "log_tokens",
    "gap_bits",
    "gap_marks",
    "gap_quote",
    "gap_stop",
    "gap_comma",
    "capitalised",
    "all_caps",
    "digit",
    "hyphen_or_apostrophe",
    "non_ascii",
    "function_word",
    "sentence_first",
    "paragraph_first",
    "sentence_last",
    "relative_position",
    "log_sentence_words",
    "same_as_previous",
    "same_as_second_previous",
    "recent_repeat",
    "log_document_count",
    "sentence_mean_bits",
    "sentence_mean_normalised",
    "gap_after_bits",
    "gap_after_marks",
    "paragraph_last",
    "reduplication",
)
# "one by one", "face to face", "more and more": a word repeated across these is idiomatic
REDUPLICATION_LINKS = frozenset(["by", "to", "after", "for", "upon", "in", "on"])
AND_REDUPLICATIONS = frozenset(
    [
        "more",
        "less",
        "over",
        "again",
        "on",
        "through",
        "round",
        "around",
        "up",
        "down",
        "better",
        "worse",
        "faster",
        "slower",
        "longer",
        "shorter",
        "further",
        "bigger",
        "smaller",
        "higher",
        "lower",
        "closer",
        "deeper",
        "harder",
        "stronger",
        "weaker",
        "louder",
    ]
)



@dataclass
class ParagraphFeatures:
    """Per-word features of one paragraph, words in sentence order."""

    scalars: np.ndarray  # float32 [n_words, len(SCALAR_NAMES)]
    hidden: np.ndarray  # float32 [n_words, d]: mean hidden state over each word's tokens
    sentence_sizes: list[int]  # words per sentence of the paragraph


def document_counts(doc: Document) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in doc.words:
        key = word.text.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def paragraph_features(paragraph: Paragraph, scores, counts: dict[str, int]) -> ParagraphFeatures:
    """Features of every word of ``paragraph`` from its token scores (offsets relative to it)."""
    text = paragraph.text
    base = paragraph.start
    starts, ends = np.asarray(scores.starts), np.asarray(scores.ends)
    bits = -np.asarray(scores.logprobs, dtype=np.float64) / LN2
    entropy = np.asarray(scores.entropy, dtype=np.float64) / LN2
    hidden = scores.hidden
    width = 0 if hidden is None else hidden.shape[1]
    words = [w for s in paragraph.sentences for w in s.words]
    n = len(words)
    scalars = np.zeros((n, len(SCALAR_NAMES)), dtype=np.float64)
    pooled = np.zeros((n, width), dtype=np.float32)
    sentence_sizes = [len(s.words) for s in paragraph.sentences]
    index = 0
    previous_last = -1  # last token of the previous word
    previous_end = 0
    lowered = [w.text.lower() for w in words]
    token_range = [(0, -1)] * n
    for sentence in paragraph.sentences:
        size = len(sentence.words)
        first_index = index
        for position, word in enumerate(sentence.words):
            ws, we = word.start - base, word.end - base
            first = int(np.searchsorted(ends, ws, side="right"))
            last = int(np.searchsorted(starts, we, side="left")) - 1
            if last < first:  # no token overlaps (cannot happen with a well-formed scorer): borrow one
                first = last = min(max(first, 0), len(starts) - 1)
            token_bits = bits[first : last + 1]
            total = float(token_bits.sum())
            uni = unigram_bits(word.text)
            gap_first = max(previous_last + 1, 0)
            gap_bits = float(bits[gap_first:first].sum()) if first > gap_first else 0.0
            gap = text[previous_end:ws]
            marks = gap.replace(" ", "").replace("\n", "").replace("\t", "")
            row = scalars[index]
            row[0] = total
            row[1] = token_bits[0] if len(token_bits) else 0.0
            row[2] = total - row[1]
            row[3] = uni
            row[4] = total - uni
            row[5] = entropy[first] if len(entropy) else 0.0
            row[6] = row[1] - row[5]
            row[7] = math.log(last - first + 1)
            row[8] = gap_bits
            row[9] = min(len(marks), 4)
            row[10] = any(c in "\"“”'‘’«»" for c in marks)
            row[11] = any(c in ".!?;:" for c in marks)
            row[12] = any(c in ",—–-()" for c in marks)
            wt = word.text
            row[13] = wt[:1].isupper()
            row[14] = len(wt) > 1 and wt.isupper()
            row[15] = any(c.isdigit() for c in wt)
            row[16] = any(c in "-'’" for c in wt)
            row[17] = not wt.isascii()
            row[18] = lowered[index] in FUNCTION_WORDS
            row[19] = position == 0
            row[20] = index == 0
            row[21] = position == size - 1
            row[22] = position / max(size - 1, 1)
            row[23] = math.log(size)
            row[24] = index > 0 and lowered[index - 1] == lowered[index]
            row[25] = index > 1 and lowered[index - 2] == lowered[index]
            row[26] = lowered[index] in lowered[max(0, index - RECENT_WORDS) : index]
            row[27] = math.log(max(counts.get(lowered[index], 1), 1))
            if index > 1 and lowered[index - 2] == lowered[index]:
                link = lowered[index - 1]
                row[33] = link in REDUPLICATION_LINKS or (link == "and" and lowered[index] in AND_REDUPLICATIONS)
            token_range[index] = (first, last)
            if width:
                pooled[index] = hidden[first : last + 1].astype(np.float32).mean(axis=0)
            previous_last, previous_end = last, we
            index += 1
        if size:
            block = scalars[first_index:index]
            block[:, 28] = block[:, 0].mean()
            block[:, 29] = block[:, 4].mean()
    # what follows each word up to the next one: the previous row's gap, or the paragraph's tail
    if n:
        scalars[:-1, 30] = scalars[1:, 8]
        scalars[:-1, 31] = scalars[1:, 9]
        last = token_range[-1][1]
        scalars[-1, 30] = float(bits[last + 1 :].sum())
        tail = text[words[-1].end - base :]
        scalars[-1, 31] = min(len("".join(tail.split())), 4)
        scalars[-1, 32] = 1.0
    return ParagraphFeatures(scalars.astype(np.float32), pooled, sentence_sizes)


def window_inputs(
    scalars: np.ndarray,
    projected: np.ndarray,
    scalar_context: int = SCALAR_CONTEXT,
    hidden_context: int = HIDDEN_CONTEXT,
) -> np.ndarray:
    """Each word's input row: its and its neighbours' (standardised) features, zero-padded.

    Neighbours are taken within the paragraph (a split sentence shows at its seam); each offset
    carries a flag that is 1 where the neighbour is padding.
    """
    n = scalars.shape[0]
    parts = []
    for offset in range(-scalar_context, scalar_context + 1):
        parts.append(_shifted(scalars, offset))
        if offset:
            parts.append(_padding_flag(n, offset))
    for offset in range(-hidden_context, hidden_context + 1):
        parts.append(_shifted(projected, offset))
    return np.concatenate(parts, axis=1).astype(np.float32)


def _shifted(values: np.ndarray, offset: int) -> np.ndarray:
    """Row i holds values[i + offset] (zeros outside)."""
    out = np.zeros_like(values)
    n = values.shape[0]
    if offset >= 0:
        out[: max(n - offset, 0)] = values[offset:]
    else:
        out[-offset:] = values[: n + offset]
    return out


def _padding_flag(n: int, offset: int) -> np.ndarray:
    flag = np.zeros((n, 1), dtype=np.float32)
    if offset > 0:
        flag[max(n - offset, 0) :] = 1.0
    else:
        flag[: min(-offset, n)] = 1.0
    return flag


def sentence_probability(word_probabilities: Sequence[float], how: str = "max") -> float:
    """One garbled probability for a sentence: its likeliest garbled word ("max") or the chance
    that at least one word is garbled if words were independent ("noisy-or")."""
    if not len(word_probabilities):
        return 0.0
    p = np.asarray(word_probabilities, dtype=np.float64)
    if how == "max":
        return float(p.max())
    if how == "noisy-or":
        return float(1.0 - np.exp(np.log1p(-np.clip(p, 0.0, 1.0 - 1e-12)).sum()))
    raise ValueError(f"unknown sentence score {how!r}")


def decode_spans(
    doc: Document, probabilities: Sequence[Sequence[float]], threshold: float, max_gap: int = 1
) -> list[tuple[int, int, float]]:
    """Word-aligned spans: runs of words above ``threshold`` in one sentence, merged across gaps of
    at most ``max_gap`` words. Each is ``(start, end, highest word probability)``."""
    spans = []
    for sentence, probs in zip(doc.sentences, probabilities):
        above = [i for i, p in enumerate(probs) if p >= threshold]
        if not above:
            continue
        group = [above[0]]
        for i in above[1:]:
            if i - group[-1] - 1 <= max_gap:
                group.append(i)
            else:
                spans.append(_span(sentence.words, probs, group[0], group[-1]))
                group = [i]
        spans.append(_span(sentence.words, probs, group[0], group[-1]))
    return spans


def _span(words, probs, first: int, last: int) -> tuple[int, int, float]:
    return words[first].start, words[last].end, float(max(probs[first : last + 1]))


class TaggerError(ValueError):
    """The tagger weights cannot be read."""


@dataclass
class Tagger:
    """Weights and decoding settings of the learned tagger (see the module docstring)."""

    identity: str  # Scorer.identity of the model the weights were fitted for
    hidden_layer: int
    scalar_mean: np.ndarray
    scalar_scale: np.ndarray
    hidden_mean: np.ndarray
    hidden_scale: np.ndarray
    projection: np.ndarray  # [d, k]
    weights: list[np.ndarray]  # MLP: W1 [D, H], b1 [H], W2 [H, 1], b2 [1] (or W [D, 1], b [1])
    warning_threshold: float = 1.0
    info_threshold: float = 1.0
    sentence_mode: str = "max"
    scalar_context: int = SCALAR_CONTEXT
    hidden_context: int = HIDDEN_CONTEXT
    # sorted quantiles of the sentence probabilities of the clean calibration sentences
    sentence_quantiles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    metadata: str = "{}"  # JSON: how and on what the weights were fitted, measured numbers

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        arrays = {
            "format": np.array(FORMAT_VERSION),
            "identity": np.array(self.identity),
            "hidden_layer": np.array(self.hidden_layer),
            "scalar_mean": self.scalar_mean.astype(np.float32),
            "scalar_scale": self.scalar_scale.astype(np.float32),
            "hidden_mean": self.hidden_mean.astype(np.float32),
            "hidden_scale": self.hidden_scale.astype(np.float32),
            "projection": self.projection.astype(np.float32),
            "thresholds": np.array([self.warning_threshold, self.info_threshold], dtype=np.float64),
            "sentence_mode": np.array(self.sentence_mode),
            "metadata": np.array(self.metadata),
            "layers": np.array(len(self.weights)),
            "context": np.array([self.scalar_context, self.hidden_context]),
            "sentence_quantiles": np.asarray(self.sentence_quantiles, dtype=np.float32),
        }
        for i, w in enumerate(self.weights):
            arrays[f"w{i}"] = w.astype(np.float32)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def read(cls, path: Path | None = None) -> Tagger:
        """The weights at ``path``, or the packaged ones."""
        try:
            source = resources.files("mtcheck.data").joinpath(DEFAULT_WEIGHTS) if path is None else Path(path)
            with source.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT_VERSION:
                    raise TaggerError(f"tagger weights format {int(data['format'])}, expected {FORMAT_VERSION}")
                warning, info = (float(x) for x in data["thresholds"])
                scalar_context, hidden_context = (int(x) for x in data["context"])
                return cls(
                    identity=str(data["identity"]),
                    hidden_layer=int(data["hidden_layer"]),
                    scalar_mean=data["scalar_mean"],
                    scalar_scale=data["scalar_scale"],
                    hidden_mean=data["hidden_mean"],
                    hidden_scale=data["hidden_scale"],
                    projection=data["projection"],
                    weights=[data[f"w{i}"] for i in range(int(data["layers"]))],
                    warning_threshold=warning,
                    info_threshold=info,
                    sentence_mode=str(data["sentence_mode"]),
                    scalar_context=scalar_context,
                    hidden_context=hidden_context,
                    sentence_quantiles=data["sentence_quantiles"],
                    metadata=str(data["metadata"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise TaggerError(f"cannot read tagger weights {path or DEFAULT_WEIGHTS}: {exc}") from None

    @classmethod
    def load(cls, identity: str, path: Path | None = None) -> Tagger | None:
        """The packaged (or given) tagger when it was fitted for the model ``identity``, else None."""
        tagger = cls.read(path)
        return tagger if tagger.identity == identity else None

    @property
    def info(self) -> dict:
        return json.loads(self.metadata)

    # -- inference ------------------------------------------------------------------------------
    def inputs(self, features: ParagraphFeatures) -> np.ndarray:
        # clipped: a feature far outside what training saw must not extrapolate into a flag
        scalars = np.clip((features.scalars - self.scalar_mean) / self.scalar_scale, -CLIP, CLIP)
        hidden = (features.hidden - self.hidden_mean) / self.hidden_scale
        projected = np.clip(hidden @ self.projection, -CLIP, CLIP).astype(np.float32)
        return window_inputs(scalars.astype(np.float32), projected, self.scalar_context, self.hidden_context)

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = x
        pairs = list(zip(self.weights[::2], self.weights[1::2]))
        for k, (w, b) in enumerate(pairs):
            h = h @ w + b
            if k < len(pairs) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def paragraph_probabilities(self, features: ParagraphFeatures) -> np.ndarray:
        if features.scalars.shape[0] == 0:
            return np.zeros(0)
        z = self.logits(self.inputs(features)).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def word_probabilities(self, doc: Document, paragraph_scores: Sequence) -> list[list[float]]:
        """P(garbled) of each word of each sentence (doc.sentences and sentence.words order).

        ``paragraph_scores[i]`` are the scorer's TokenScores of ``doc.paragraphs[i].text``, scored
        with ``hidden_layer=self.hidden_layer``.
        """
        if len(paragraph_scores) != len(doc.paragraphs):
            raise ValueError(f"{len(paragraph_scores)} paragraph scores for {len(doc.paragraphs)} paragraphs")
        counts = document_counts(doc)
        result: list[list[float]] = []
        for paragraph, scores in zip(doc.paragraphs, paragraph_scores):
            if scores.hidden is None:
                raise ValueError(f"token scores lack hidden states: score with hidden_layer={self.hidden_layer}")
            probs = self.paragraph_probabilities(paragraph_features(paragraph, scores, counts))
            cursor = 0
            for sentence in paragraph.sentences:
                result.append([float(p) for p in probs[cursor : cursor + len(sentence.words)]])
                cursor += len(sentence.words)
        return result

    def decode_spans(
        self, doc: Document, probabilities: Sequence[Sequence[float]], threshold: float | None = None
    ) -> list[tuple[int, int, float]]:
        """Spans at ``threshold`` (default: the info threshold); a span whose highest probability
        reaches ``warning_threshold`` is a warning, the others are info."""
        return decode_spans(doc, probabilities, self.info_threshold if threshold is None else threshold)

    def sentence_probabilities(self, probabilities: Sequence[Sequence[float]]) -> list[float]:
        """One garbled probability per sentence (``sentence_mode`` of its word probabilities)."""
        return [sentence_probability(p, self.sentence_mode) for p in probabilities]

    def sentence_fluency(self, probability: float) -> float:
        """Share of clean calibration sentences that look more garbled than this one: 1 fluent …
        0 garbled, spread evenly over 0-1 on clean news (like the F002 fluency)."""
        q = self.sentence_quantiles
        if not len(q):
            return 1.0 - probability
        return 1.0 - bisect_left(q.tolist(), probability) / len(q)
