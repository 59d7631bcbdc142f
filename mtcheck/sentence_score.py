"""Sentence fluency from several LM signals at once: a linear score fitted on dev minimal pairs.

No single signal ranks sentences well everywhere. The summed log-probability decides minimal pairs
(BLiMP, JFLEG) best but grows with length; the tagger's garbled probability ranks MQM segments best
but ignores agreement and word order; ``z`` sits in between. ``SentenceHead`` weighs them with a
linear score fitted by ``scripts/train_sentence_score.py`` on dev pairs only (BLiMP pairs beyond
those the evaluation measures, JFLEG's test split, TED MQM outputs of one talk: error-free beats
Major for the same source), so the fitted weights also decide how much length costs.

Fluency is then the share of clean calibration sentences that score worse, interpolated between
quantiles (so nearby scores stay apart) with an exponential tail beyond them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mtcheck.document import Paragraph
from mtcheck.errors import MtcheckError
from mtcheck.rules.fluency import logit
from mtcheck.tagger import sentence_probability

DEFAULT_HEAD = "sentence_score.json"
FORMAT_VERSION = 1
FEATURES = ("logprob", "tokens", "words", "unigram_bits", "z", "tagger_any", "tagger_max")
LOGIT_CLIP = 1e-6  # what the shipped weights were fitted with
L2 = 1e-3  # ridge on the standardised weights: keeps Newton steps finite on separable pairs


class SentenceHeadError(MtcheckError):
    pass


def sentence_logprobs(paragraph: Paragraph, scores) -> list[tuple[float, int]]:
    """(summed log-probability in nats, token count) of each sentence of ``paragraph``.

    A token belongs to the first sentence it overlaps; one that starts in the gap between two
    sentences (" The") belongs to the next.
    """
    starts = np.asarray(scores.starts) + paragraph.start
    ends = np.asarray(scores.ends) + paragraph.start
    logprobs = np.asarray(scores.logprobs, dtype=np.float64)
    result = []
    cursor = 0
    for sentence in paragraph.sentences:
        while cursor < len(ends) and ends[cursor] <= sentence.start:
            cursor += 1
        first = cursor
        while cursor < len(starts) and starts[cursor] < sentence.end:
            cursor += 1
        result.append((float(logprobs[first:cursor].sum()), cursor - first))
    return result


def signals(
    logprob: float, tokens: int, unigram_bits: Sequence[float], z: float, word_probabilities: Sequence[float]
) -> np.ndarray:
    """One sentence's FEATURES vector."""
    probs = list(word_probabilities)
    return np.array(
        [
            logprob,
            float(tokens),
            float(len(unigram_bits)),
            float(sum(unigram_bits)),
            z,
            logit(sentence_probability(probs, "noisy-or"), LOGIT_CLIP),
            logit(sentence_probability(probs, "max"), LOGIT_CLIP),
        ],
        dtype=np.float64,
    )


@dataclass
class SentenceHead:
    """disfluency = weights · (features − mean) / scale; fluency from clean quantiles of it."""

    identity: str  # Scorer.identity of the model (and tagger) the weights were fitted for
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    quantiles: np.ndarray  # ascending disfluency of clean calibration sentences
    tail: float  # disfluency units per e-fold beyond the outer quantiles
    metadata: dict = field(default_factory=dict)

    def disfluency(self, features: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Higher = less fluent, for each FEATURES vector (an [n, len(FEATURES)] array or a list)."""
        x = (np.atleast_2d(np.asarray(features, dtype=np.float64)).reshape(-1, len(FEATURES)) - self.mean) / self.scale
        return x @ self.weights

    def fluency(self, disfluency: float, quantiles: Sequence[float] | None = None) -> float:
        """Share of clean calibration sentences (or of ``quantiles``, a user's clean text calibrated
        by `mtcheck calibrate`) that score worse: 1 fluent … 0 garbled."""
        return continuous_rank(self.quantiles if quantiles is None else quantiles, float(disfluency), self.tail)

    # -- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "identity": self.identity,
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "quantiles": [round(float(v), 5) for v in self.quantiles],
            "tail": round(float(self.tail), 6),
            "metadata": self.metadata,
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path | None = None) -> SentenceHead:
        """The head at ``path``, or the packaged one."""
        try:
            if path is None:
                text = resources.files("mtcheck.data").joinpath(DEFAULT_HEAD).read_text(encoding="utf-8")
            else:
                text = Path(path).read_text(encoding="utf-8")
            data = json.loads(text)
            if data["format"] != FORMAT_VERSION or tuple(data["features"]) != FEATURES:
                raise ValueError(f"format {data['format']} with features {data['features']}")
            head = cls(
                identity=str(data["identity"]),
                mean=np.asarray(data["mean"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                weights=np.asarray(data["weights"], dtype=np.float64),
                quantiles=np.asarray(data["quantiles"], dtype=np.float64),
                tail=float(data["tail"]),
                metadata=dict(data.get("metadata", {})),
            )
            if not (len(head.mean) == len(head.scale) == len(head.weights) == len(FEATURES)) or head.tail <= 0:
                raise ValueError("arrays do not match the features")
            return head
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise SentenceHeadError(f"cannot read sentence score {path or DEFAULT_HEAD}: {exc}") from None

    @classmethod
    def load(cls, identity: str, path: Path | None = None) -> SentenceHead | None:
        """The packaged (or given) head when it was fitted for the model ``identity``, else None
        (also when no head is packaged: sentence fluency then comes from the tagger alone)."""
        if path is None and not resources.files("mtcheck.data").joinpath(DEFAULT_HEAD).is_file():
            return None
        head = cls.read(path)
        return head if head.identity == identity else None


def continuous_rank(quantiles: Sequence[float] | np.ndarray, value: float, tail: float) -> float:
    """1 − the interpolated empirical CDF of ``value`` among ``quantiles`` (ascending).

    Strictly decreasing in ``value``: between quantiles it is linear, and beyond the outer ones it
    decays exponentially toward 1 (below) or 0 (above), ``tail`` units per e-fold.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    n = len(q)
    if n == 0:
        return 1.0 / (1.0 + math.exp(min(max(value / tail, -60.0), 60.0)))
    # plotting positions (i + 0.5) / n keep the ends off 0 and 1
    if value <= q[0]:
        return 1.0 - (0.5 / n) * math.exp((value - q[0]) / tail)
    if value >= q[-1]:
        return (0.5 / n) * math.exp(-(value - q[-1]) / tail)
    i = int(np.searchsorted(q, value, side="right")) - 1
    width = q[i + 1] - q[i]
    position = i + 0.5 + ((value - q[i]) / width if width > 0 else 0.5)
    return 1.0 - position / n


# -- fitting (scripts/train_sentence_score.py) ---------------------------------------------
def fit_pairwise(differences: Sequence[np.ndarray], l2: float = L2, steps: int = 50) -> np.ndarray:
    """w minimising Σ_source mean log(1 + exp(−w·d)) + l2·|w|², d = x_garbled − x_fluent (standardised)."""
    width = differences[0].shape[1]
    w = np.zeros(width)
    for _ in range(steps):
        gradient, hessian = 2 * l2 * w, 2 * l2 * np.eye(width)
        for d in differences:
            margin = d @ w
            p = 1.0 / (1.0 + np.exp(np.clip(margin, -60, 60)))  # sigmoid(−margin)
            gradient -= d.T @ p / len(d)
            hessian += (d * (p * (1 - p))[:, None]).T @ d / len(d)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def paired_accuracy(disfluency_good: np.ndarray, disfluency_bad: np.ndarray) -> float:
    """Share of pairs where the fluent side scores lower; ties count ½."""
    wins = (disfluency_good < disfluency_bad) + 0.5 * (disfluency_good == disfluency_bad)
    return float(wins.mean()) if len(wins) else float("nan")
