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

import bisect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from mtcheck.config import Config
from mtcheck.document import Document, Paragraph, Sentence
from mtcheck.errors import MtcheckError, debugging, one_line
from mtcheck.findings import (
    DocumentReport,
    Finding,
    Report,
    SentenceScore,
    in_text_order,
)
from mtcheck.fluency.decode import document_fluency
from mtcheck.gate.cache import CacheStats, CheckResult, ResultCache
from mtcheck.gate.corpus import Corpus, CorpusDocument, Segment
from mtcheck.gate.corpus_offsets import encode_replacement, mapped_offsets, segment_positions

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
    from mtcheck.gate.corpus import build_documents
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


# --------------------------------------------------------------------------- back to the files


@dataclass
class AnchoredDocument(Document):
    """A corpus file as a Document: sentences are the checked sentences, placed in the file's text.

    ``escaped`` holds, for each segment stored escaped (JSON, quoted CSV), its raw start and end in
    the file, its text, and the raw index of each of its characters: excerpts within it read as the
    text that was checked, not as ``\\u201c`` escapes, while line:col still point into the file.
    """

    escaped: tuple[tuple[int, int, str, list[int]], ...] = ()

    def excerpt(self, start: int, end: int) -> str:
        index = bisect.bisect_right(self.escaped, (start, float("inf"))) - 1
        if index >= 0:
            raw_start, raw_end, text, positions = self.escaped[index]
            if raw_start <= start <= end <= raw_end:
                return text[bisect.bisect_left(positions, start) : bisect.bisect_left(positions, end)]
        return self.text[start:end]


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

    escaped: dict[str, list[tuple[int, int, str, list[int]]]] = {name: [] for name in run.corpus.files}
    for segment, findings, sentences in per_segment.values():
        positions = segment_positions(segment, texts[segment.file])
        if findings and isinstance(positions, list) and positions:  # stored escaped: excerpts decode it
            escaped[segment.file].append((positions[0], positions[-1], segment.text, positions))
        offsets = [o for f in findings for o in (f.start, f.end)] + [o for s in sentences for o in (s.start, s.end)]
        offsets += [0, len(segment.text)]
        mapped = iter(mapped_offsets(segment, positions, offsets))
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
                AnchoredDocument(text=text, source=name, paragraphs=tuple(paragraphs), escaped=tuple(sorted(escaped[name]))),
                in_text_order(parts.findings),
                sorted(parts.sentences, key=lambda s: (s.start, s.end)),
                document_fluency(scored),
            )
        )
    return Report(documents, unit="file")
