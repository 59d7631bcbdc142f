"""A gate run back in the corpus files: a :class:`~mtcheck.findings.Report` with one document per
file, offsets into the file's text, so every output format points at real files, lines and columns.

:class:`AnchoredReport` is filled slice by slice (``add``) as the gate checks the corpus and keeps
only numbers and findings, never the segments: the report of a large corpus costs the files' text
(which locating a finding needs) plus a few integers per segment and sentence.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mtcheck.document import LINE_BREAK, Document, Paragraph, Sentence
from mtcheck.findings import (
    DocumentReport,
    Finding,
    Located,
    Report,
    SentenceScore,
    context_bounds,
    in_text_order,
)
from mtcheck.fluency.decode import document_fluency
from mtcheck.gate.corpus import FILE, LINE, Corpus, Segment
from mtcheck.gate.corpus_offsets import (
    encode_replacement,
    mapped_offsets,
    record_positions,
    segment_positions,
)

if TYPE_CHECKING:
    from mtcheck.gate.run import GateRun


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
    escaped: list[tuple[int, int, str, list[int]]] = field(default_factory=list)


class AnchoredReport:
    """Collects the runs of one corpus, slice by slice, into the report on its files.

    With ``per_finding`` it keeps only each finding, located in its file (line, column, text
    around it) from its segment's own record, and never reads a file again: what the per-finding
    formats (JSON Lines, SARIF, GitHub) need, in memory that grows with the findings, not the
    corpus. :meth:`located` gives them; :meth:`report` needs the default mode.
    """

    def __init__(self, corpus: Corpus, per_finding: bool = False) -> None:
        self.corpus = corpus
        self.per_finding = per_finding
        self.files: dict[str, _FileParts] = {}
        self.texts: dict[str, str] = {}
        self.located_by_file: dict[str, list[Located]] = {}

    def _text(self, name: str) -> str:
        if name not in self.texts:
            self.texts[name] = self.corpus.file_text(name)  # record files are read again
        return self.texts[name]

    def add(self, run: GateRun) -> AnchoredReport:
        for document, result in zip(run.documents, run.results):
            located: list[tuple[list[Finding], list[SentenceScore]]] = [([], []) for _ in document.segments]
            for finding in result.findings:
                index, start, end = document.locate(finding.start, finding.end)
                located[index][0].append(replace(finding, start=start, end=end))
            for score in result.sentences:
                index, start, end = document.locate(score.start, score.end)
                located[index][1].append(SentenceScore(start, end, score.fluency, label=score.label))
            for segment, (findings, sentences) in zip(document.segments, located):
                if not self.per_finding:
                    self._add_segment(segment, findings, sentences)
                elif findings:
                    self.located_by_file.setdefault(segment.file, []).extend(self._locate(segment, findings, sentences))
        return self

    def _locate(self, segment: Segment, findings: list[Finding], sentences: list[SentenceScore]) -> list[Located]:
        """The findings of one segment located in its file from the segment's record alone.
        Each value equals what :meth:`report`'s document gives (``DocumentReport.locate``): lines
        are counted from the record's first line, and a record starts a line."""
        record_start, record_end = segment.record
        if segment.encoding in (FILE, LINE):
            record = segment.text  # the text stands verbatim at the record's start
        else:
            record = segment.raw if segment.raw is not None else self._text(segment.file)[record_start:record_end]
        positions = record_positions(segment, record)

        def raw(offset: int) -> int:
            if isinstance(positions, int):
                return positions + offset
            return positions[min(offset, len(positions) - 1)] if positions else 0

        breaks = [m.end() for m in LINE_BREAK.finditer(record)]

        def line_col(offset: int) -> tuple[int, int]:
            k = bisect.bisect_right(breaks, offset)
            return segment.line + k, offset - (breaks[k - 1] if k else 0) + 1

        spans = sorted((raw(s.start), raw(s.end)) for s in sentences)
        starts = [start for start, _ in spans]

        def sentence_at(offset: int) -> tuple[int, int] | None:  # as Document.sentence_at
            i = bisect.bisect_right(starts, offset) - 1
            return spans[i] if i >= 0 and offset <= spans[i][1] else None

        out = []
        for f in findings:
            start, end = raw(f.start), raw(f.end)
            context_start, context_end = context_bounds(record, start, end, sentence_at)
            if isinstance(positions, list) and positions:  # stored escaped: the reader sees it decoded
                excerpt = segment.text[bisect.bisect_left(positions, start) : bisect.bisect_left(positions, end)]
            else:
                excerpt = record[start:end]
            finding = replace(f, start=record_start + start, end=record_start + end,
                              suggestion=encode_replacement(segment, f.suggestion))
            out.append(Located(segment.file, finding, *line_col(start), *line_col(end), snippet=record[start:end],
                               excerpt=excerpt, context=" ".join(record[context_start:context_end].split())))
        return out

    def located(self) -> list[Located]:
        """Every finding located in its file: files in reading order, each in text order."""
        return [
            where
            for name in self.corpus.files
            for where in sorted(self.located_by_file.get(name, ()), key=lambda w: (w.finding.start, w.finding.end, w.finding.code))
        ]

    def _add_segment(self, segment: Segment, findings: list[Finding], sentences: list[SentenceScore]) -> None:
        parts = self.files.setdefault(segment.file, _FileParts())
        positions = segment_positions(segment, self._text(segment.file))
        if findings and isinstance(positions, list) and positions:  # stored escaped: excerpts decode it
            parts.escaped.append((positions[0], positions[-1], segment.text, positions))
        offsets = [o for f in findings for o in (f.start, f.end)] + [o for s in sentences for o in (s.start, s.end)]
        offsets += [0, len(segment.text)]
        mapped = iter(mapped_offsets(segment, positions, offsets))
        for f in findings:
            start, end = next(mapped), next(mapped)
            parts.findings.append(replace(f, start=start, end=end, suggestion=encode_replacement(segment, f.suggestion)))
        spans = []
        for s in sentences:
            start, end = next(mapped), next(mapped)
            parts.sentences.append(SentenceScore(start, end, s.fluency, label=s.label))
            spans.append((start, end))
        parts.paragraphs.append((next(mapped), next(mapped), spans))

    def report(self) -> Report:
        """One document per corpus file, in reading order."""
        if self.per_finding:
            raise ValueError("a per-finding AnchoredReport keeps no documents: use located()")
        documents = []
        for name in self.corpus.files:
            parts = self.files.get(name, _FileParts())
            text = self._text(name)
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
                    AnchoredDocument(text=text, source=name, paragraphs=tuple(paragraphs), escaped=tuple(sorted(parts.escaped))),
                    in_text_order(parts.findings),
                    sorted(parts.sentences, key=lambda s: (s.start, s.end)),
                    document_fluency(scored),
                )
            )
        return Report(documents, unit="file")


def anchored_report(run: GateRun) -> Report:
    """The findings of one run as a Report with one document per corpus file."""
    return AnchoredReport(run.corpus).add(run).report()
