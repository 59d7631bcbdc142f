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
    from sacrebleu.metrics import BLEU, CHRF, TER

    _check_streams(hypotheses, references)
    scores = {}
    for key, metric in (("bleu", BLEU()), ("chrf", CHRF()), ("ter", TER())):
        result = metric.corpus_score(list(hypotheses), [list(stream) for stream in references])
        verbose = str(result)
        scores[key] = MetricScore(result.name, float(result.score), str(metric.get_signature()), verbose)
    return scores


def segment_chrf(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """chrF of each segment against its references (sacrebleu ``sentence_score``)."""
    from sacrebleu.metrics import CHRF

    _check_streams(hypotheses, references)
    metric = CHRF()
    return [
        float(metric.sentence_score(hypothesis, [stream[i] for stream in references]).score)
        for i, hypothesis in enumerate(hypotheses)
    ]
