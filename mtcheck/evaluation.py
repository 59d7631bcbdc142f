"""Evaluation metrics: span and character P/R/F1 with don't-care regions, AUROC, Kendall's tau-b,
paired accuracy, and MQM gold construction. Pure Python (no numpy), so it is cheap to import and test.

Conventions (documented in docs/evaluation.md):
- Spans are half-open ``(start, end)`` character offsets. A zero-width span (an insertion point) is
  widened to the characters on either side of it, so it can overlap something.
- Character-level counts skip whitespace: raters and rules disagree about trailing spaces, and a
  space is not an error a reader sees.
- Gold takes precedence over don't-care: a character that is both counts as gold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtcheck.stats import rounded

Span = tuple[int, int]

# MQM categories an English-only checker can see. Everything else on the target side
# (Accuracy, Terminology, Locale convention, Other, Source issue) is don't-care.
GOLD_CATEGORY_PREFIXES = ("Fluency", "Style", "Non-translation")


def widen(span: Span, length: int | None = None) -> Span:
    """A zero-width span becomes the one character on each side of it (clipped to the text)."""
    start, end = span
    if start < end:
        return start, end
    upper = end + 1 if length is None else min(end + 1, length)
    return max(0, start - 1), max(upper, start)


def chars(spans: Iterable[Span], length: int | None = None) -> set[int]:
    """The character positions covered by the spans."""
    covered: set[int] = set()
    for span in spans:
        start, end = widen(span, length)
        covered.update(range(start, end))
    return covered


def runs(positions: Iterable[int]) -> list[Span]:
    """Maximal runs of consecutive positions, as spans."""
    ordered = sorted(set(positions))
    out: list[Span] = []
    for p in ordered:
        if out and out[-1][1] == p:
            out[-1] = (out[-1][0], p + 1)
        else:
            out.append((p, p + 1))
    return out


def covered_by_at_least(span_sets: Sequence[Iterable[Span]], k: int, length: int | None = None) -> set[int]:
    """Characters covered by spans of at least ``k`` of the given span sets (one set per rater)."""
    counts: dict[int, int] = {}
    for spans in span_sets:
        for p in chars(spans, length):
            counts[p] = counts.get(p, 0) + 1
    return {p for p, n in counts.items() if n >= k}


def is_gold_category(category: str) -> bool:
    return category.startswith(GOLD_CATEGORY_PREFIXES)


@dataclass
class Gold:
    """Gold characters and don't-care characters of one text (disjoint)."""

    gold: set[int]
    dont_care: set[int]

    @property
    def spans(self) -> list[Span]:
        return runs(self.gold)

    @property
    def dont_care_spans(self) -> list[Span]:
        return runs(self.dont_care)


def mqm_gold(
    ratings: Sequence[Sequence[dict[str, Any]]],
    length: int,
    min_raters: int = 1,
    major_only: bool = False,
) -> Gold:
    """Gold and don't-care characters of one MT output from its raters' MQM error lists.

    ``ratings`` holds one error list per rater (dicts with side, start, end, category, severity).
    A character is gold when at least ``min_raters`` raters cover it with a target-side error in a
    gold category. With ``major_only`` it must also be inside some rater's Major gold-category
    error: an agreed span takes the highest severity any of its raters gave (raters agree on where
    an error is far more often than on its severity). Every other character that some rater marked
    on the target side (other categories, Minor-only gold under ``major_only``, gold marked by too
    few raters) is don't-care. Source-side errors have no target offsets and are ignored.
    """
    gold_sets: list[list[Span]] = []
    major: set[int] = set()
    marked: set[int] = set()
    for errors in ratings:
        target = [e for e in errors if e.get("side") == "target"]
        marked |= chars(((e["start"], e["end"]) for e in target), length)
        spans = [e for e in target if is_gold_category(e["category"])]
        gold_sets.append([(e["start"], e["end"]) for e in spans])
        major |= chars(((e["start"], e["end"]) for e in spans if e["severity"] == "Major"), length)
    gold = covered_by_at_least(gold_sets, min_raters, length)
    if major_only:
        gold &= major
    return Gold(gold, marked - gold)


@dataclass
class PRF:
    """Precision/recall counts: precision = tp_pred / n_pred, recall = tp_gold / n_gold."""

    tp_pred: int = 0
    n_pred: int = 0
    tp_gold: int = 0
    n_gold: int = 0

    def __add__(self, other: "PRF") -> "PRF":
        return PRF(
            self.tp_pred + other.tp_pred,
            self.n_pred + other.n_pred,
            self.tp_gold + other.tp_gold,
            self.n_gold + other.n_gold,
        )

    @property
    def precision(self) -> float | None:
        return self.tp_pred / self.n_pred if self.n_pred else None

    @property
    def recall(self) -> float | None:
        return self.tp_gold / self.n_gold if self.n_gold else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "f1": rounded(self.f1),
            "tp_pred": self.tp_pred,
            "n_pred": self.n_pred,
            "tp_gold": self.tp_gold,
            "n_gold": self.n_gold,
        }


def char_prf(text: str, predicted: Iterable[Span], gold: Gold) -> PRF:
    """Character-level counts; predicted characters in don't-care regions count for neither side."""
    visible = {i for i, c in enumerate(text) if not c.isspace()}
    pred = chars(predicted, len(text)) & visible
    gold_chars = gold.gold & visible
    scored_pred = pred - (gold.dont_care - gold.gold)
    tp = len(pred & gold_chars)
    return PRF(tp_pred=tp, n_pred=len(scored_pred), tp_gold=tp, n_gold=len(gold_chars))


def _overlaps(span: Span, positions: set[int], length: int) -> bool:
    start, end = widen(span, length)
    return any(p in positions for p in range(start, end))


def span_prf(text: str, predicted: Iterable[Span], gold: Gold) -> PRF:
    """Span-overlap counts.

    A predicted span is correct when it overlaps a gold character; one that overlaps no gold but
    some don't-care character is not counted; any other is a false positive. A gold span (a
    maximal run of gold characters) is found when some predicted span overlaps it. Identical
    predicted spans count once.
    """
    length = len(text)
    pred_spans = sorted(set(predicted))
    pred_chars = chars(pred_spans, length)
    tp_pred = n_pred = 0
    for span in pred_spans:
        if _overlaps(span, gold.gold, length):
            tp_pred += 1
            n_pred += 1
        elif not _overlaps(span, gold.dont_care, length):
            n_pred += 1
    gold_spans = gold.spans
    found = sum(1 for span in gold_spans if _overlaps(span, pred_chars, length))
    return PRF(tp_pred=tp_pred, n_pred=n_pred, tp_gold=found, n_gold=len(gold_spans))


def auroc(higher: Sequence[float], lower: Sequence[float]) -> float | None:
    """P(a score from ``higher`` > one from ``lower``), ties counting one half (Mann-Whitney U)."""
    if not higher or not lower:
        return None
    pooled = sorted([(s, 0) for s in lower] + [(s, 1) for s in higher])
    rank_sum = 0.0  # sum of the midranks of the ``higher`` scores
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        midrank = (i + 1 + j) / 2  # ranks i+1 … j share their mean
        rank_sum += midrank * sum(1 for k in range(i, j) if pooled[k][1] == 1)
        i = j
    n1, n0 = len(higher), len(lower)
    u = rank_sum - n1 * (n1 + 1) / 2
    return u / (n1 * n0)


def _count_swaps(values: list[float]) -> int:
    """Inversions (pairs i < j with values[i] > values[j]) by merge sort; sorts values in place."""
    n = len(values)
    swaps = 0
    width = 1
    buffer = values[:]
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if values[j] < values[i]:
                    buffer[k] = values[j]
                    swaps += mid - i
                    j += 1
                else:
                    buffer[k] = values[i]
                    i += 1
                k += 1
            buffer[k : k + mid - i] = values[i:mid]
            k += mid - i
            buffer[k : k + hi - j] = values[j:hi]
            values[lo:hi] = buffer[lo:hi]
        width *= 2
    return swaps


def _tied_pairs(values: Iterable[float]) -> int:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sum(c * (c - 1) // 2 for c in counts.values())


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (tie-corrected), O(n log n) by Knight's algorithm."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    n = len(x)
    if n < 2:
        return None
    pairs = sorted(zip(x, y))
    n0 = n * (n - 1) // 2
    ties_x = _tied_pairs(p[0] for p in pairs)
    ties_y = _tied_pairs(p[1] for p in pairs)
    # pairs tied in both x and y
    ties_xy = 0
    i = 0
    while i < n:
        j = i
        while j < n and pairs[j] == pairs[i]:
            j += 1
        ties_xy += (j - i) * (j - i - 1) // 2
        i = j
    # Within runs of equal x the y values are sorted, so inversions only come from x-ordered pairs.
    swaps = _count_swaps([p[1] for p in pairs])
    denominator = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    if denominator == 0:
        return None
    concordant_minus_discordant = n0 - ties_x - ties_y + ties_xy - 2 * swaps
    return concordant_minus_discordant / denominator


@dataclass
class Paired:
    """Minimal pairs: how often the good member scores better, worse, or the same."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    by_group: dict[str, "Paired"] = field(default_factory=dict)

    def add(self, good: float, bad: float, group: str | None = None) -> None:
        outcome = "wins" if good > bad else "losses" if good < bad else "ties"
        setattr(self, outcome, getattr(self, outcome) + 1)
        if group is not None:
            self.by_group.setdefault(group, Paired()).add(good, bad)

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def accuracy(self) -> float | None:
        """Share of pairs the good member wins outright (ties count as failures)."""
        return self.wins / self.n if self.n else None

    @property
    def accuracy_half_ties(self) -> float | None:
        """Share of pairs won, a tie counting one half (chance level is 0.5)."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    def to_dict(self, groups: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "accuracy": rounded(self.accuracy),
            "accuracy_half_ties": rounded(self.accuracy_half_ties),
        }
        if groups and self.by_group:
            out["by_group"] = {k: v.to_dict(groups=False) for k, v in sorted(self.by_group.items())}
        return out

