"""Reports built by hand for the format tests: parsed documents plus made-up findings (no LM)."""

from __future__ import annotations

import pytest

from mtcheck.document import Document
from mtcheck.findings import DocumentReport, Finding, Report, SentenceScore, Severity

# Made-up texts, written for these tests.
HARBOUR = (
    "The ferry left the harbour late. . Passengers waited on the pier.\n"
    "The captain said , it was the fog.\n"
    "\n"
    "A second paragraph ends without a full stop"
)
MARKUP = 'He typed <script>alert(1)</script> & "quotes" | pipes | `ticks` ]]> into the box.'


def span(text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return start, start + len(needle)


def finding(
    text: str,
    needle: str,
    code: str = "P001",
    slug: str = "doubled-punctuation",
    severity: Severity = Severity.WARNING,
    message: str = "Made-up message.",
    suggestion: str | None = None,
    occurrence: int = 0,
    score: float | None = None,
) -> Finding:
    start, end = span(text, needle, occurrence)
    made = Finding(code, slug, severity, start, end, message, suggestion, score)
    assert text[made.start : made.end] == needle
    return made


def document_report(text: str, source: str, findings: list[Finding], fluency: bool = False) -> DocumentReport:
    doc = Document.parse(text, source)
    sentences = [
        SentenceScore(s.start, s.end, 0.9 - 0.2 * (i % 4) if fluency else None) for i, s in enumerate(doc.sentences)
    ]
    return DocumentReport(doc, sorted(findings, key=lambda f: (f.start, f.end)), sentences, 0.72 if fluency else None)


def harbour_findings(text: str = HARBOUR) -> list[Finding]:
    return [
        finding(text, " .", "P001", "doubled-punctuation", Severity.WARNING, "'.' is repeated.", ""),
        finding(text, " ,", "P002", "space-before-punctuation", Severity.ERROR, "Space before ','.", ","),
        finding(text, "fog", "Z999", "made-up-rule", Severity.INFO, "An info note.", None, score=0.25),
    ]


class Make:
    """The helpers above, handed to tests as the ``make`` fixture (test modules do not import conftest)."""

    HARBOUR = HARBOUR
    MARKUP = MARKUP
    span = staticmethod(span)
    finding = staticmethod(finding)
    document_report = staticmethod(document_report)
    harbour_findings = staticmethod(harbour_findings)


@pytest.fixture
def make() -> type[Make]:
    return Make


@pytest.fixture
def harbour() -> Report:
    return Report([document_report(HARBOUR, "news/harbour.txt", harbour_findings(), fluency=True)])


@pytest.fixture
def markup() -> Report:
    text = MARKUP
    findings = [
        finding(text, "<script>alert(1)</script>", "S001", "markup", Severity.ERROR, "Tag <b>bold</b> & co.", "<i>"),
        finding(text, "| pipes |", "P004", "stray-punctuation", Severity.WARNING, "Pipe | in message", ""),
        finding(text, "`ticks` ]]>", "Z999", "made-up-rule", Severity.INFO, "Ticks.", None),
    ]
    return Report([document_report(text, "we<ird>&,name:.txt", findings)])


@pytest.fixture
def multi(harbour: Report) -> Report:
    other = "Clean text here. Nothing to see."
    stdin = "Short one. One more sentence here."
    return Report(
        [
            *harbour.documents,
            document_report(other, "news/clean.txt", []),
            document_report(stdin, "-", [finding(stdin, "One", "C001", "inconsistent-case", Severity.INFO)]),
        ]
    )
