"""The CI gate on a translated corpus: check every document, summarise, compare with thresholds.

Three steps, each usable on its own:

1. :func:`check_documents` checks corpus documents through the pipeline, reusing cached results
   and checking each distinct text once (optionally heuristics in several processes).
2. :func:`summarize` counts findings per severity and rule, the flag rate (warning and error
   findings per 100 sentences), the fluency distribution and the reference metrics.
3. :func:`decide` compares the summary with the thresholds and lists EVERY reason the gate failed.

:func:`anchored_report` turns the results back into a :class:`~mtcheck.findings.Report` whose
documents are the corpus files, so every output format points at real files, lines and columns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from mtcheck.cache import CacheStats, CheckResult, ResultCache
from mtcheck.config import Config
from mtcheck.corpus import Corpus, CorpusDocument, Segment
from mtcheck.corpus_offsets import encode_replacement, raw_offsets
from mtcheck.document import Document, Paragraph, Sentence
from mtcheck.errors import MtcheckError, debugging, one_line
from mtcheck.findings import DocumentReport, Finding, Report, SentenceScore, Severity, in_text_order
from mtcheck.fluency.decode import document_fluency

LOWEST_CHRF_SHOWN = 10
Progress = Callable[[int], None]  # called with the number of documents just finished


# ------------------------------------------------------------------------------------ running

_worker_checker: Any = None


def _start_worker(config: Config) -> None:
    global _worker_checker
    from mtcheck.pipeline import Checker

    _worker_checker = Checker(config)


def _check_in_worker(texts: list[str]) -> list[CheckResult]:
    return check_texts(_worker_checker, texts)


def check_texts(checker: Any, texts: Sequence[str]) -> list[CheckResult]:
    """One result per text, in order, whatever engine runs it. A text whose check raises gets a
    failed result naming the error (the gate then fails and lists it) instead of ending the run;
    mtcheck's own errors (a model that is not installed, a bad device) still end it."""
    try:
        report = checker.check_many([(text, "-") for text in texts])
        return [CheckResult.from_report(d) for d in report.documents]
    except MtcheckError:
        raise
    except Exception as exc:  # isolated to the text that raised, and reported
        if len(texts) > 1:
            return [result for text in texts for result in check_texts(checker, [text])]
        if debugging():
            raise
        return [CheckResult.failed(one_line(exc, limit=200))]


def chunk_size_for(count: int) -> int:
    """Chunks small enough for a smooth progress bar and incremental cache writes, large enough to batch."""
    return max(8, min(256, math.ceil(count / 50)))


class LocalEngine:
    """Checks chunks of texts on this machine: in this process, or the heuristic rules in
    ``jobs`` processes when the language model is off (the LM batches across documents in one
    process). An engine maps chunks of texts to their results, in order; the gate around it
    (cache, duplicates, progress, summary) is the same whatever engine runs the checks."""

    def __init__(self, config: Config, jobs: int = 1, checker: Any = None) -> None:
        self.config = config
        self.jobs = jobs
        self.checker = checker  # a Checker to reuse (its model stays loaded); built when needed

    def map(self, chunks: Sequence[list[str]]) -> Iterator[list[CheckResult]]:
        uses_lm = self.config.lm and self.config.enabled("F")
        if self.jobs > 1 and not uses_lm and self.checker is None and len(chunks) > 1:
            with ProcessPoolExecutor(max_workers=self.jobs, initializer=_start_worker, initargs=(self.config,)) as pool:
                yield from pool.map(_check_in_worker, chunks)
            return
        if self.checker is None:
            from mtcheck.pipeline import Checker

            self.checker = Checker(self.config)
        for chunk in chunks:
            yield check_texts(self.checker, chunk)


def check_documents(
    documents: Sequence[CorpusDocument],
    config: Config,
    *,
    cache: ResultCache | None = None,
    jobs: int = 1,
    checker: Any = None,
    engine: Any = None,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """One CheckResult per document, in order. Cached texts are not checked again.

    ``engine`` runs the checks (default: a :class:`LocalEngine` with ``jobs`` and ``checker``).
    """
    results: list[CheckResult | None] = [None] * len(documents)
    known: dict[str, CheckResult] = {}  # cached results by text
    waiting: dict[str, list[int]] = {}  # text to check -> indexes of the documents that have it
    for index, document in enumerate(documents):
        text = document.text
        if text in waiting:
            waiting[text].append(index)
            continue
        hit = known.get(text)
        if hit is None and cache is not None:
            hit = cache.get(text)
        if hit is not None:
            known[text] = results[index] = hit
        else:
            waiting[text] = [index]
    if progress is not None:
        progress(sum(1 for r in results if r is not None))

    texts = list(waiting)
    size = chunk_size_for(len(texts))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]

    # Creating a cache file costs about half as much as checking a short segment, mostly in the
    # kernel without the GIL: one writer thread overlaps the writes with the checking.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtcheck-cache") if cache is not None else None
    writes: list[Future[None]] = []
    engine = engine if engine is not None else LocalEngine(config, jobs=jobs, checker=checker)
    try:
        for number, checked in enumerate(engine.map(chunks)):  # run to its end: a pool closes there
            chunk = chunks[number]
            for text, result in zip(chunk, checked):
                for index in waiting[text]:
                    results[index] = result
            if writer is not None:
                writes.append(writer.submit(_put_all, cache, list(zip(chunk, checked))))
            if progress is not None:
                progress(sum(len(waiting[text]) for text in chunk))
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    for write in writes:
        write.result()  # a bug in the writer must not pass silently (OSError is counted, not raised)
    return [r for r in results if r is not None]


def _put_all(cache: ResultCache, items: list[tuple[str, CheckResult]]) -> None:
    for text, result in items:
        cache.put(text, result)


@dataclass
class GateRun:
    """A checked corpus: its documents and one result per document."""

    corpus: Corpus
    documents: list[CorpusDocument]
    results: list[CheckResult]
    lm: bool
    cache: CacheStats | None = None
    seconds: float = 0.0
    source_language: str | None = None  # of the sources, when the accuracy rules ran

    @cached_property
    def located(self) -> list[tuple[Segment, Finding]]:
        """Every finding with offsets into its segment's text (see CorpusDocument.locate)."""
        out = []
        for document, result in zip(self.documents, self.results):
            for finding in result.findings:
                index, start, end = document.locate(finding.start, finding.end)
                out.append((document.segments[index], _moved(finding, start, end)))
        return out


def _moved(finding: Finding, start: int, end: int) -> Finding:
    return replace(finding, start=start, end=end)


def run_gate(
    corpus: Corpus,
    config: Config,
    *,
    cache: ResultCache | None = None,
    jobs: int = 1,
    checker: Any = None,
    engine: Any = None,
    progress: Progress | None = None,
    source_language: str | None = None,
) -> GateRun:
    """Check a corpus; where segments have sources, the accuracy rules (A) run on them too, in the
    sources' language (``source_language``, or detected)."""
    from mtcheck.corpus import build_documents
    from mtcheck.source.check import with_source_findings

    began = time.perf_counter()
    documents = build_documents(corpus.segments)
    results = check_documents(
        documents, config, cache=cache, jobs=jobs, checker=checker, engine=engine, progress=progress
    )
    results, language = with_source_findings(documents, results, config, source_language)
    return GateRun(
        corpus,
        documents,
        results,
        lm=bool(config.lm and config.enabled("F")),
        cache=cache.stats if cache is not None else None,
        seconds=time.perf_counter() - began,
        source_language=language,
    )


# ------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """What makes the gate fail; None leaves a check out."""

    max_flag_rate: float | None = None
    fail_on: Severity | None = None
    max_findings: int | None = None
    min_chrf: float | None = None
    min_bleu: float | None = None
    min_fluency: float | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {
            "max_flag_rate": self.max_flag_rate,
            "fail_on": None if self.fail_on is None else str(self.fail_on),
            "max_findings": self.max_findings,
            "min_chrf": self.min_chrf,
            "min_bleu": self.min_bleu,
            "min_fluency": self.min_fluency,
        }
        return {k: v for k, v in values.items() if v is not None}


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _fluency_summary(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    sentence_values = sorted(s.fluency for r in results for s in r.sentences if s.fluency is not None)
    document_values = [r.fluency for r in results if r.fluency is not None]
    if not sentence_values and not document_values:
        return None
    summary: dict[str, Any] = {
        "documents_mean": _round(sum(document_values) / len(document_values)) if document_values else None,
        "sentences": None,
    }
    if sentence_values:
        summary["sentences"] = {
            "count": len(sentence_values),
            "mean": _round(sum(sentence_values) / len(sentence_values)),
            "p10": _round(quantile(sentence_values, 0.10)),
            "p50": _round(quantile(sentence_values, 0.50)),
            "p90": _round(quantile(sentence_values, 0.90)),
        }
    return summary


def _segment_dict(segment: Segment) -> dict[str, Any]:
    entry = {"id": segment.id, "file": segment.file, "line": segment.line, "doc": segment.doc}
    if segment.src is not None:
        entry["src"] = segment.src  # what a reviewer compares the flagged translation with
    return entry


def summarize(
    run: GateRun,
    thresholds: Thresholds,
    rules: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    chrf: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The gate summary as a JSON-ready dict, decision and reasons included.

    ``metrics`` maps bleu/chrf/ter to :class:`~mtcheck.metrics.MetricScore`; ``chrf`` holds one
    segment chrF per corpus segment, in corpus order.
    """
    findings = [f for r in run.results for f in r.findings]
    by_severity = {str(s): 0 for s in sorted(Severity, reverse=True)}
    by_code: dict[str, dict[str, Any]] = {}
    for f in findings:
        by_severity[str(f.severity)] += 1
        entry = by_code.setdefault(f.code, {"slug": f.slug, "count": 0})
        entry["count"] += 1
    sentences = sum(len(r.sentences) for r in run.results)
    flagged = sum(1 for f in findings if f.severity >= Severity.WARNING)
    flag_rate = 100.0 * flagged / sentences if sentences else 0.0

    segments: dict[int, dict[str, Any]] = {}
    positions = {id(s): i for i, s in enumerate(run.corpus.segments)}
    for segment, finding in run.located:
        entry = segments.setdefault(positions[id(segment)], {**_segment_dict(segment), "findings": []})
        entry["findings"].append(
            {
                "code": finding.code,
                "slug": finding.slug,
                "severity": str(finding.severity),
                "start": finding.start,
                "end": finding.end,
                "text": segment.text[finding.start : finding.end],
                "message": finding.message,
                "suggestion": finding.suggestion,
            }
        )
    lowest: list[dict[str, Any]] = []
    if chrf is not None:
        for index, entry in segments.items():
            entry["chrf"] = round(chrf[index], 4)
        order = sorted(range(len(chrf)), key=lambda i: (chrf[i], i))[:LOWEST_CHRF_SHOWN]
        lowest = [{**_segment_dict(run.corpus.segments[i]), "chrf": round(chrf[i], 4)} for i in order]

    unchecked = [
        {**_segment_dict(document.segments[0]), "error": result.error}
        for document, result in zip(run.documents, run.results, strict=True)
        if result.error is not None
    ]
    summary: dict[str, Any] = {
        "passed": True,
        "reasons": [],
        "unchecked": unchecked,
        "thresholds": thresholds.to_dict(),
        "corpus": {
            "files": len(run.corpus.files),
            "documents": len(run.documents),
            "segments": len(run.corpus.segments),
            "sentences": sentences,
            "source_language": run.source_language,  # the accuracy rules ran in it (None: no sources)
        },
        "findings": {"total": len(findings), "by_severity": by_severity, "by_code": dict(sorted(by_code.items()))},
        "flagged": flagged,
        "flag_rate": round(flag_rate, 4),
        "fluency": _fluency_summary(run.results) if run.lm else None,
        "metrics": None if metrics is None else {key: score.to_dict() for key, score in metrics.items()},
        "lowest_chrf": lowest,
        "cache": None if run.cache is None else run.cache.to_dict(),
        "seconds": round(run.seconds, 3),
        "segments_per_second": round(len(run.corpus.segments) / run.seconds, 1) if run.seconds > 0 else None,
        "segments": [segments[i] for i in sorted(segments)],
    }
    reasons = decide(summary, thresholds)
    summary["passed"] = not reasons
    summary["reasons"] = reasons
    return summary


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def decide(summary: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """Every threshold the summary breaks, as one sentence each (empty: the gate passes).
    A document whose check raised fails the gate whatever the thresholds: it was not checked."""
    reasons = []
    unchecked = summary.get("unchecked") or []
    if unchecked:
        first = unchecked[0]
        noun = "document" if len(unchecked) == 1 else "documents"
        reasons.append(
            f"{len(unchecked)} {noun} could not be checked (the first, at {first['file']}:{first['line']}: {first['error']})"
        )
    if thresholds.max_flag_rate is not None and summary["flag_rate"] > thresholds.max_flag_rate:
        reasons.append(
            f"flag rate {summary['flag_rate']:.2f} per 100 sentences ({summary['flagged']} warning/error findings "
            f"in {summary['corpus']['sentences']} sentences) is above --max-flag-rate {_number(thresholds.max_flag_rate)}"
        )
    if thresholds.fail_on is not None:
        counts = summary["findings"]["by_severity"]
        at_or_above = sum(n for name, n in counts.items() if Severity.parse(name) >= thresholds.fail_on)
        if at_or_above:
            noun = "finding" if at_or_above == 1 else "findings"
            reasons.append(f"{at_or_above} {noun} at or above {thresholds.fail_on} (--fail-on {thresholds.fail_on})")
    if thresholds.max_findings is not None and summary["findings"]["total"] > thresholds.max_findings:
        reasons.append(f"{summary['findings']['total']} findings is above --max-findings {thresholds.max_findings}")
    metrics = summary.get("metrics") or {}
    for key, label, limit, option in (
        ("chrf", "chrF", thresholds.min_chrf, "--min-chrf"),
        ("bleu", "BLEU", thresholds.min_bleu, "--min-bleu"),
    ):
        if limit is None:
            continue
        if key not in metrics:
            reasons.append(f"{label} was not measured (no references) but {option} {_number(limit)} was asked for")
        elif metrics[key]["score"] < limit:
            reasons.append(f"corpus {label} {metrics[key]['score']:.2f} is below {option} {_number(limit)}")
    if thresholds.min_fluency is not None:
        fluency = summary.get("fluency") or {}
        mean = fluency.get("documents_mean")
        if mean is None:
            reasons.append(f"fluency was not measured (language model off) but --min-fluency {_number(thresholds.min_fluency)} was asked for")
        elif mean < thresholds.min_fluency:
            reasons.append(f"mean document fluency {mean:.3f} is below --min-fluency {_number(thresholds.min_fluency)}")
    return reasons


# --------------------------------------------------------------------------- back to the files


class AnchoredDocument(Document):
    """A corpus file as a Document: sentences are the checked sentences, placed in the file's text."""


@dataclass
class _FileParts:
    findings: list[Finding] = field(default_factory=list)
    sentences: list[SentenceScore] = field(default_factory=list)
    paragraphs: list[tuple[int, int, list[tuple[int, int]]]] = field(default_factory=list)


def anchored_report(run: GateRun) -> Report:
    """The findings as a Report with one document per corpus file, offsets into the file's text."""
    files = {name: _FileParts() for name in run.corpus.files}
    texts = {name: run.corpus.file_text(name) for name in run.corpus.files}  # record files are read again
    per_segment: dict[int, tuple[Segment, list[Finding], list[SentenceScore]]] = {}
    for document, result in zip(run.documents, run.results):
        for segment in document.segments:
            per_segment[id(segment)] = (segment, [], [])
        for finding in result.findings:
            index, start, end = document.locate(finding.start, finding.end)
            per_segment[id(document.segments[index])][1].append(_moved(finding, start, end))
        for score in result.sentences:
            index, start, end = document.locate(score.start, score.end)
            per_segment[id(document.segments[index])][2].append(SentenceScore(start, end, score.fluency, label=score.label))

    for segment, findings, sentences in per_segment.values():
        file_text = texts[segment.file]
        offsets = [o for f in findings for o in (f.start, f.end)] + [o for s in sentences for o in (s.start, s.end)]
        offsets += [0, len(segment.text)]
        mapped = iter(raw_offsets(segment, file_text, offsets))
        parts = files[segment.file]
        for f in findings:
            start, end = next(mapped), next(mapped)
            parts.findings.append(replace(f, start=start, end=end, suggestion=encode_replacement(segment, f.suggestion)))
        spans = []
        for s in sentences:
            start, end = next(mapped), next(mapped)
            parts.sentences.append(SentenceScore(start, end, s.fluency, label=s.label))
            spans.append((start, end))
        parts.paragraphs.append((next(mapped), next(mapped), spans))

    documents = []
    for name, parts in files.items():
        text = texts[name]
        paragraphs = []
        sentence_index = 0
        for p_index, (p_start, p_end, spans) in enumerate(sorted(parts.paragraphs)):
            sentences = []
            for start, end in sorted(spans):
                sentences.append(Sentence(start, end, text[start:end], p_index, sentence_index))
                sentence_index += 1
            paragraphs.append(Paragraph(p_start, p_end, text[p_start:p_end], p_index, tuple(sentences)))
        scored = [s.fluency for s in parts.sentences if s.fluency is not None]
        documents.append(
            DocumentReport(
                AnchoredDocument(text=text, source=name, paragraphs=tuple(paragraphs)),
                in_text_order(parts.findings),
                sorted(parts.sentences, key=lambda s: (s.start, s.end)),
                document_fluency(scored),
            )
        )
    return Report(documents, unit="file")
