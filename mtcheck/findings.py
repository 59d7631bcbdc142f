"""Findings and reports: what a check produces, and the stable JSON schema they serialise to."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mtcheck.document import Document

SCHEMA_VERSION = 1


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, value: "str | Severity") -> "Severity":
        if isinstance(value, Severity):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r} (expected info, warning or error)") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    slug: str
    severity: Severity
    start: int
    end: int
    message: str
    suggestion: str | None = None
    score: float | None = None

    def with_severity(self, severity: Severity) -> "Finding":
        return replace(self, severity=severity)

    def overlaps(self, other: "Finding") -> bool:
        if self.start == self.end or other.start == other.end:
            return self.start <= other.end and other.start <= self.end
        return self.start < other.end and other.start < self.end


def in_text_order(findings: Iterable[Finding]) -> list[Finding]:
    """Findings by where they stand in the text (then by code): the order every report uses."""
    return sorted(findings, key=lambda f: (f.start, f.end, f.code))


@dataclass(frozen=True, slots=True)
class Located:
    """A finding with everything a per-finding output (JSON Lines, SARIF, GitHub annotations) needs
    from its document, so the output can be written without the document: the gate keeps these
    instead of its corpus files' text."""

    source: str
    finding: Finding
    line: int  # 1-based line and column (in characters) of the start and of the end
    column: int
    end_line: int
    end_column: int
    snippet: str  # the document's text between the offsets, as stored (escaped, in a JSONL file)
    excerpt: str  # the same text as a reader sees it
    context: str  # the sentence(s) holding the finding, whitespace runs as single spaces

    def to_dict(self) -> dict[str, Any]:
        """The finding in the JSON schema."""
        finding = self.finding
        return {
            "code": finding.code,
            "slug": finding.slug,
            "severity": str(finding.severity),
            "start": finding.start,
            "end": finding.end,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "text": self.excerpt,
            "message": finding.message,
            "suggestion": finding.suggestion,
            "score": None if finding.score is None else round(finding.score, 4),
        }


def context_span(document: Document, finding: Finding) -> tuple[int, int]:
    """The sentence(s) that hold the finding, or its line when no sentence does."""

    def sentence_span(offset: int) -> tuple[int, int] | None:
        sentence = document.sentence_at(offset)
        return None if sentence is None else (sentence.start, sentence.end)

    return context_bounds(document.text, finding.start, finding.end, sentence_span)


def context_bounds(
    text: str, start: int, end: int, sentence_at: Callable[[int], tuple[int, int] | None]
) -> tuple[int, int]:
    """:func:`context_span` for the span ``start:end`` of ``text``, given where the sentence
    holding an offset starts and ends (``sentence_at``, None between sentences)."""
    first = sentence_at(start)
    last = sentence_at(max(start, end - 1))
    if first:
        context_start = min(start, first[0])
    else:
        context_start = text.rfind("\n", 0, start) + 1
    if last:
        context_end = max(end, last[1])
    else:
        newline = text.find("\n", end)
        context_end = max(len(text) if newline < 0 else newline, end)
    return context_start, context_end


@dataclass(slots=True)
class SentenceScore:
    start: int
    end: int
    fluency: float | None = None  # the learned detector's sentence fluency, 0 (garbled) to 1 (fluent)
    z: None = None  # schema version 1 keeps the key; the learned detector has no z (always null)
    label: str | None = None  # "garbled", "awkward" or "fluent"


@dataclass
class DocumentReport:
    document: Document
    findings: list[Finding] = field(default_factory=list)
    sentences: list[SentenceScore] = field(default_factory=list)
    fluency: float | None = None
    fluency_label: str | None = None  # "garbled", "awkward" or "fluent" (thresholds fitted on clean dev text)

    @property
    def source(self) -> str:
        return self.document.source

    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def finding_dict(self, finding: Finding) -> dict[str, Any]:
        return self.locate(finding).to_dict()

    def locate(self, finding: Finding) -> Located:
        """The finding with what an output needs from this document (see :class:`Located`)."""
        document = self.document
        line, column = document.line_col(finding.start)
        end_line, end_column = document.line_col(finding.end)
        start, end = context_span(document, finding)
        return Located(
            self.source, finding, line, column, end_line, end_column,
            snippet=document.text[finding.start : finding.end],
            excerpt=document.excerpt(finding.start, finding.end),
            context=" ".join(document.text[start:end].split()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "findings": [self.finding_dict(f) for f in self.findings],
            "sentences": [
                {
                    "start": s.start,
                    "end": s.end,
                    "fluency": None if s.fluency is None else round(s.fluency, 4),
                    "z": None,
                    "label": s.label,
                }
                for s in self.sentences
            ],
            "fluency": None if self.fluency is None else round(self.fluency, 4),
            "fluency_label": self.fluency_label,
        }


@dataclass
class Report:
    documents: list[DocumentReport] = field(default_factory=list)
    unit: str = "document"  # what one entry of ``documents`` is to the user: a gate report's are files

    @property
    def findings(self) -> list[Finding]:
        return [f for d in self.documents for f in d.findings]

    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def summary(self) -> dict[str, Any]:
        by_severity = {str(s): 0 for s in Severity}
        by_code: dict[str, int] = {}
        for f in self.findings:
            by_severity[str(f.severity)] += 1
            by_code[f.code] = by_code.get(f.code, 0) + 1
        sentences = sum(len(d.document.sentences) for d in self.documents)
        return {
            "documents": len(self.documents),
            "sentences": sentences,
            "findings": len(self.findings),
            "by_severity": by_severity,
            "by_code": dict(sorted(by_code.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "documents": [d.to_dict() for d in self.documents],
            "summary": self.summary(),
        }
