"""Reference-based metrics through sacrebleu's Python API: corpus BLEU, chrF and TER, segment chrF.

The metric objects are built with sacrebleu's defaults, the same ones its command line uses, so
``mtcheck gate --hyp out.en --ref ref.en`` reports the numbers ``sacrebleu ref.en -i out.en -m bleu
chrf ter`` prints, with the same signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricScore:
    name: str  # as sacrebleu names it: "BLEU", "chrF2", "TER"
    score: float
    signature: str
    verbose: str  # sacrebleu's one-line description of the score

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": round(self.score, 4), "signature": self.signature, "verbose": self.verbose}


def _check_streams(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if not references:
        raise ValueError("reference metrics need at least one reference stream")
    for stream in references:
        if len(stream) != len(hypotheses):
            raise ValueError(f"a reference stream has {len(stream)} segments for {len(hypotheses)} hypotheses")


def corpus_metrics(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, MetricScore]:
    """BLEU, chrF and TER of the whole corpus; ``references`` is a list of streams, one per reference set."""
    metrics = StreamedMetrics()
    metrics.add(hypotheses, references)
    return metrics.scores()


def segment_chrf(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """chrF of each segment against its references (what sacrebleu's ``sentence_score`` gives)."""
    return StreamedMetrics().add(hypotheses, references)


STATISTICS_BATCH = 1000


class StreamedMetrics:
    """Corpus BLEU, chrF and TER over a corpus given in parts: sacrebleu's sufficient statistics
    (matched and total n-grams, lengths, edits) summed part by part, then scored once, which is
    how sacrebleu itself scores a whole corpus (``corpus_score``: statistics, then their sum)."""

    def __init__(self) -> None:
        from sacrebleu.metrics import BLEU, CHRF, TER

        self.metrics = {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}
        self.totals: dict[str, list[Any] | None] = dict.fromkeys(self.metrics)

    def add(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
        """Add segments to the corpus scores; returns each segment's chrF, scored from its own
        statistics as sacrebleu's ``sentence_score`` scores it."""
        from sacrebleu.utils import sum_of_lists

        _check_streams(hypotheses, references)
        chrf: list[float] = []
        # sacrebleu holds the n-grams of every reference of a call at once (chrF: about 36 KB a
        # segment), so the statistics are taken a batch at a time; they are per segment, so the
        # sums are the same.
        for start in range(0, len(hypotheses), STATISTICS_BATCH):
            batch = list(hypotheses[start : start + STATISTICS_BATCH])
            streams = [list(stream[start : start + STATISTICS_BATCH]) for stream in references]
            for key, metric in self.metrics.items():
                stats = metric._extract_corpus_statistics(batch, streams)
                total = self.totals[key]
                self.totals[key] = sum_of_lists(stats if total is None else [total, *stats])
                if key == "chrf":
                    chrf += [float(metric._compute_score_from_stats(row).score) for row in stats]
        return chrf

    def scores(self) -> dict[str, MetricScore]:
        scores = {}
        for key, metric in self.metrics.items():
            total = self.totals[key]
            if total is None:
                raise ValueError("reference metrics need at least one segment")
            result = metric._compute_score_from_stats(total)
            scores[key] = MetricScore(result.name, float(result.score), str(metric.get_signature()), str(result))
        return scores
