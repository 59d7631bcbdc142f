"""The CI gate on a translated corpus: check every document, summarise, compare with thresholds.

Three steps, each usable on its own:

1. :func:`slices` cuts the stream of segments into slices of whole documents, so that a corpus of
   any size is checked in bounded memory.
2. :func:`check_documents` checks corpus documents through the pipeline, reusing cached results
   and checking each distinct text once (optionally heuristics in several processes).
3. :func:`run_gate_slices` runs both over the stream, adding the accuracy rules where segments
   have sources, and yields one :class:`GateRun` per slice; a :class:`~mtcheck.gate.tally.GateTally`
   folds them into the summary (``mtcheck.gate.summary``: numbers and the decision against the
   thresholds) and an :class:`~mtcheck.gate.anchored.AnchoredReport` into the report on the files.

:func:`run_gate` is the same on a corpus already in memory, as one run.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from mtcheck.config import Config
from mtcheck.errors import InputError, MtcheckError, debugging, one_line
from mtcheck.findings import Finding
from mtcheck.gate.cache import CacheStats, CheckResult, ResultCache
from mtcheck.gate.corpus import Corpus, CorpusDocument, Segment, build_documents
from mtcheck.inputs import DEFAULT_MAX_INPUT_BYTES

# A slice closes at the first change of document once it holds this much text or this many
# segments: some 40 MB of live objects with the rules alone, whatever the corpus's size. An engine
# may ask for larger slices (``slice_chars``: Ray's start-up costs seconds per slice).
SLICE_CHARS = 4_000_000
SLICE_SEGMENTS = 50_000
Progress = Callable[[int], None]  # called with the number of segments just finished


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
        progress(sum(len(d.segments) for d, r in zip(documents, results) if r is not None))

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
                progress(sum(len(documents[index].segments) for text in chunk for index in waiting[text]))
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
    """A checked corpus, or one slice of it: its documents and one result per document."""

    corpus: Corpus  # its ``segments`` are the run's own (a slice's, when the corpus is streamed)
    documents: list[CorpusDocument]
    results: list[CheckResult]
    lm: bool
    cache: CacheStats | None = None
    seconds: float = 0.0
    source_language: str | None = None  # of the sources, when the accuracy rules ran
    split_documents: list[str] = field(default_factory=list)  # reopened after their slice closed

    @cached_property
    def located(self) -> list[tuple[Segment, Finding]]:
        """Every finding with offsets into its segment's text (see CorpusDocument.locate)."""
        out = []
        for document, result in zip(self.documents, self.results):
            for finding in result.findings:
                index, start, end = document.locate(finding.start, finding.end)
                out.append((document.segments[index], replace(finding, start=start, end=end)))
        return out


def _document_key(segment: Segment) -> tuple[str, str] | None:
    return None if segment.doc is None else (segment.file, segment.doc)


def _encoded_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def slices(
    segments: Iterable[Segment],
    chars: float = SLICE_CHARS,
    count: float = SLICE_SEGMENTS,
    limit: int = DEFAULT_MAX_INPUT_BYTES,
) -> Iterator[list[Segment]]:
    """The stream cut into lists of whole documents: a slice closes at the first change of
    document after it holds ``chars`` characters or ``count`` segments. A document (the segments
    sharing a document id) may hold at most ``limit`` bytes, joined as it is checked."""
    part: list[Segment] = []
    size = 0
    key: tuple[str, str] | None = None
    document_bytes = 0
    for segment in segments:
        new_key = _document_key(segment)
        if new_key is None or new_key != key:
            if part and (size >= chars or len(part) >= count):
                yield part
                part, size = [], 0
            key, document_bytes = new_key, 0
        if new_key is not None:
            document_bytes += _encoded_size(segment.text) + (2 if document_bytes else 0)
            if document_bytes > limit:
                raise InputError(
                    f"{segment.file}:{segment.line}: document '{segment.doc}' is larger than the input limit of "
                    f"{limit:,} bytes; raise it with --max-input-size or give smaller documents"
                )
        part.append(segment)
        size += len(segment.text)
    if part:
        yield part


def run_gate_slices(
    corpus: Corpus,
    segments: Iterable[Segment],
    config: Config,
    *,
    cache: ResultCache | None = None,
    jobs: int = 1,
    checker: Any = None,
    engine: Any = None,
    progress: Progress | None = None,
    source_language: str | None = None,
    slice_chars: float | None = None,
    slice_segments: float | None = None,
) -> Iterator[GateRun]:
    """Check a stream of segments slice by slice, one :class:`GateRun` per slice. Where segments
    have sources, the accuracy rules (A) run on them too, in the sources' language
    (``source_language``, or detected on the first sources), with their corpus-wide memory (the
    same source translated differently) carried from slice to slice."""
    from mtcheck.source.check import SourceChecks

    engine = engine if engine is not None else LocalEngine(config, jobs=jobs, checker=checker)
    accuracy = SourceChecks(config, source_language)
    lm = bool(config.lm and config.enabled("F"))
    closed: set[int] = set()  # hashes of the document keys of earlier slices
    session = getattr(engine, "session", None)
    with session() if session is not None else contextlib.nullcontext():
        chars = slice_chars or getattr(engine, "slice_chars", None) or SLICE_CHARS
        for part in slices(segments, chars, slice_segments or SLICE_SEGMENTS, config.max_input_size):
            began = time.perf_counter()
            documents = build_documents(part)
            keys = [_document_key(d.segments[0]) for d in documents]
            split = [d.key for d, key in zip(documents, keys) if key is not None and hash(key) in closed]
            closed.update(hash(key) for key in keys if key is not None)
            results = check_documents(documents, config, cache=cache, engine=engine, progress=progress)
            results = accuracy.add(documents, results)
            yield GateRun(
                replace(corpus, segments=part),
                documents,
                results,
                lm=lm,
                cache=cache.stats if cache is not None else None,
                seconds=time.perf_counter() - began,
                source_language=accuracy.language,
                split_documents=split,
            )


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
    """Check a corpus held in memory (``corpus.segments``) as one run."""
    began = time.perf_counter()
    [run] = run_gate_slices(
        corpus, corpus.segments, config, cache=cache, jobs=jobs, checker=checker, engine=engine,
        progress=progress, source_language=source_language, slice_chars=math.inf, slice_segments=math.inf,
    )
    run.seconds = time.perf_counter() - began
    return run
