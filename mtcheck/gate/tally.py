"""The gate's numbers, folded run by run: a corpus checked slice by slice is summarised without
keeping its segments. What is kept grows with the findings (each flagged segment is listed) and,
with the language model, by 8 bytes per sentence (the fluency quantiles); nothing else does."""

from __future__ import annotations

from array import array
from collections import Counter
from typing import TYPE_CHECKING, Any

from mtcheck.findings import Severity
from mtcheck.gate.corpus import Corpus, Segment
from mtcheck.stats import quantile, rounded

if TYPE_CHECKING:
    from mtcheck.gate.run import GateRun
    from mtcheck.gate.summary import Thresholds

LOWEST_CHRF_SHOWN = 10
FLUENCY_WORDS = ("fluent", "awkward", "garbled")
SPLIT_DOCUMENTS_SHOWN = 5


def segment_dict(segment: Segment) -> dict[str, Any]:
    """Where a segment is (id, file, line, document), and its source when known."""
    entry = {"id": segment.id, "file": segment.file, "line": segment.line, "doc": segment.doc}
    if segment.src is not None:
        entry["src"] = segment.src  # what a reviewer compares the flagged translation with
    return entry


class GateTally:
    """Everything the summary says about a corpus, added one :class:`GateRun` at a time."""

    def __init__(self) -> None:
        self.corpus: Corpus | None = None
        self.lm = False
        self.documents = self.segments = self.sentences = 0
        self.by_severity = {str(s): 0 for s in sorted(Severity, reverse=True)}
        self.by_code: dict[str, dict[str, Any]] = {}
        self.total = self.flagged = 0
        self.sentence_fluency = array("d")
        self.document_fluency = array("d")
        self.fluency_words: Counter[str] = Counter()
        self.flagged_segments: list[dict[str, Any]] = []
        self.unchecked: list[dict[str, Any]] = []
        self.split_documents = 0
        self.split_shown: list[str] = []
        self.metrics: Any = None  # StreamedMetrics, when the corpus has references
        self.lowest: list[tuple[float, int, dict[str, Any]]] = []
        self.cache: Any = None
        self.source_language: str | None = None

    def add(self, run: GateRun) -> GateTally:
        self.corpus, self.lm = run.corpus, run.lm
        base = self.segments
        segments = run.corpus.segments
        self.documents += len(run.documents)
        self.segments += len(segments)
        for document, result in zip(run.documents, run.results, strict=True):
            self.sentences += len(result.sentences)
            self.sentence_fluency.extend(s.fluency for s in result.sentences if s.fluency is not None)
            if result.fluency is not None:
                self.document_fluency.append(result.fluency)
            self.fluency_words[result.fluency_label] += 1
            if result.error is not None:
                self.unchecked.append({**segment_dict(document.segments[0]), "error": result.error})
            for f in result.findings:
                self.by_severity[str(f.severity)] += 1
                self.by_code.setdefault(f.code, {"slug": f.slug, "count": 0})["count"] += 1
                self.total += 1
                self.flagged += f.severity >= Severity.WARNING
        chrf = self._add_references(run.corpus, base)
        self._add_flagged(run, chrf)
        self.split_documents += len(run.split_documents)
        self.split_shown += run.split_documents[: SPLIT_DOCUMENTS_SHOWN - len(self.split_shown)]
        self.cache = run.cache
        self.source_language = run.source_language or self.source_language
        return self

    def _add_references(self, corpus: Corpus, base: int) -> list[float] | None:
        """Each segment's chrF; the corpus metrics' statistics and the lowest chrF updated."""
        if not corpus.has_refs:
            return None
        from mtcheck.gate.metrics import StreamedMetrics

        hypotheses = [s.text for s in corpus.segments]
        references = [[s.refs[k] for s in corpus.segments] for k in range(corpus.ref_count)]
        if self.metrics is None:
            self.metrics = StreamedMetrics()
        chrf = self.metrics.add(hypotheses, references)
        order = sorted(range(len(chrf)), key=lambda i: (chrf[i], i))[:LOWEST_CHRF_SHOWN]
        candidates = [(chrf[i], base + i, {**segment_dict(corpus.segments[i]), "chrf": round(chrf[i], 4)}) for i in order]
        self.lowest = sorted(self.lowest + candidates, key=lambda item: item[:2])[:LOWEST_CHRF_SHOWN]
        return chrf

    def _add_flagged(self, run: GateRun, chrf: list[float] | None) -> None:
        entries: dict[int, dict[str, Any]] = {}
        positions = {id(s): i for i, s in enumerate(run.corpus.segments)}
        for segment, finding in run.located:
            position = positions[id(segment)]
            entry = entries.get(position)
            if entry is None:
                entry = entries[position] = {**segment_dict(segment), "findings": []}
                if chrf is not None:
                    entry["chrf"] = round(chrf[position], 4)
            entry["findings"].append({
                "code": finding.code,
                "slug": finding.slug,
                "severity": str(finding.severity),
                "start": finding.start,
                "end": finding.end,
                "text": segment.text[finding.start : finding.end],
                "message": finding.message,
                "suggestion": finding.suggestion,
            })
        self.flagged_segments += [entries[i] for i in sorted(entries)]

    def fluency(self) -> dict[str, Any] | None:
        if not self.lm or (not self.sentence_fluency and not self.document_fluency):
            return None
        documents = self.document_fluency
        summary: dict[str, Any] = {
            "documents_mean": rounded(sum(documents) / len(documents)) if documents else None,
            # the detector's words for each document's fluency (thresholds fitted on clean dev text)
            "documents": {label: self.fluency_words[label] for label in FLUENCY_WORDS},
            "sentences": None,
        }
        if self.sentence_fluency:
            import numpy

            values = numpy.sort(numpy.frombuffer(self.sentence_fluency, dtype=numpy.float64))
            summary["sentences"] = {
                "count": len(values),
                "mean": rounded(sum(self.sentence_fluency) / len(self.sentence_fluency)),
                **{f"p{round(q * 100)}": rounded(float(quantile(values, q))) for q in (0.10, 0.50, 0.90)},
            }
        return summary

    def summary(self, thresholds: Thresholds, seconds: float) -> dict[str, Any]:
        """The gate summary as a JSON-ready dict, decision and reasons included."""
        from mtcheck.gate.summary import decide

        files = len(self.corpus.files) if self.corpus is not None else 0
        summary: dict[str, Any] = {
            "passed": True,
            "reasons": [],
            "unchecked": self.unchecked,
            "thresholds": thresholds.to_dict(),
            "corpus": {
                "files": files,
                "documents": self.documents,
                "segments": self.segments,
                "sentences": self.sentences,
                "source_language": self.source_language,  # the accuracy rules ran in it (None: no sources)
                "split_documents": self.split_documents,
            },
            "findings": {"total": self.total, "by_severity": self.by_severity, "by_code": dict(sorted(self.by_code.items()))},
            "flagged": self.flagged,
            "flag_rate": round(100.0 * self.flagged / self.sentences if self.sentences else 0.0, 4),
            "fluency": self.fluency(),
            "metrics": None if self.metrics is None else {k: s.to_dict() for k, s in self.metrics.scores().items()},
            "lowest_chrf": [entry for _, _, entry in self.lowest],
            "cache": None if self.cache is None else self.cache.to_dict(),
            "seconds": round(seconds, 3),
            "segments_per_second": round(self.segments / seconds, 1) if seconds > 0 else None,
            "segments": self.flagged_segments,
        }
        if self.split_shown:
            summary["corpus"]["split_shown"] = self.split_shown
        reasons = decide(summary, thresholds)
        summary["passed"] = not reasons
        summary["reasons"] = reasons
        return summary
