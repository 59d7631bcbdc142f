"""The formatter base: a registry of output formats and the helpers they share.

Each format lives in its own module and registers a ``Formatter`` subclass by name,
the way sacrebleu keeps one module per metric behind a small base class.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from mtcheck.document import Document
from mtcheck.findings import (
    DocumentReport,
    Finding,
    Located,
    Report,
    Severity,
    in_text_order,
)
from mtcheck.findings import context_span as findings_context_span
from mtcheck.rules.base import FAMILIES, Rule

STDIN = "-"

# Icons give every severity a non-colour cue; the words are always printed beside them.
SEVERITY_ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "ℹ"}


@dataclass(frozen=True)
class RenderOptions:
    rules: dict[str, type[Rule]]
    color: bool = False
    width: int | None = None


class Formatter:
    """One output format. Subclasses set ``name`` and ``extension`` and implement ``render``."""

    name: ClassVar[str]
    extension: ClassVar[str]
    media_type: ClassVar[str]  # what `mtcheck serve` answers it as
    description: ClassVar[str] = ""

    def render(self, report: Report, options: RenderOptions) -> str:
        raise NotImplementedError

    supports_gate: ClassVar[bool] = True
    # A format made of its findings alone (render_located): the gate then keeps located findings,
    # not its corpus files' text, so its memory grows with the findings, not the corpus.
    per_finding: ClassVar[bool] = False

    def render_located(self, located: Sequence[Located], options: RenderOptions) -> str:
        """The findings (each file's in text order, files in reading order) in this format."""
        raise NotImplementedError

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        """``rendered`` (this format's report of a gate run) with the gate summary added
        (mtcheck.gate.summary); by default its text after the findings."""
        from mtcheck.gate.summary import summary_text

        return rendered + "\n" + summary_text(summary, color=options.color)


_REGISTRY: dict[str, type[Formatter]] = {}


def register(cls: type[Formatter]) -> type[Formatter]:
    if cls.name in _REGISTRY:
        raise ValueError(f"duplicate format {cls.name}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> dict[str, type[Formatter]]:
    return dict(_REGISTRY)


@dataclass(frozen=True)
class RuleInfo:
    """What the outputs say about a rule, from the registry when it knows the code."""

    code: str
    slug: str
    summary: str
    description: str
    severity: Severity

    @property
    def family(self) -> str:
        return family_of(self.code)


def family_of(code: str) -> str:
    return FAMILIES.get(code[:1].upper(), "other")


def rule_info(finding: Finding, rules: dict[str, type[Rule]]) -> RuleInfo:
    cls = rules.get(finding.code)
    if cls is None:
        # A finding from a rule that is not registered here (a plugin, the LM): describe it from itself.
        title = finding.slug.replace("-", " ").capitalize()
        return RuleInfo(finding.code, finding.slug, f"{title}.", f"{title}.", finding.severity)
    return RuleInfo(cls.code, cls.slug, cls.summary, cls.description(), cls.severity)


def rules_used(report: Report, rules: dict[str, type[Rule]]) -> list[RuleInfo]:
    """One RuleInfo per code that has findings, sorted by code."""
    return rules_of(report.findings, rules)


def rules_of(findings: Iterable[Finding], rules: dict[str, type[Rule]]) -> list[RuleInfo]:
    """One RuleInfo per code among ``findings``, sorted by code."""
    seen: dict[str, RuleInfo] = {}
    for finding in findings:
        if finding.code not in seen:
            seen[finding.code] = rule_info(finding, rules)
    return [seen[code] for code in sorted(seen)]


def sorted_findings(doc: DocumentReport) -> list[Finding]:
    return in_text_order(doc.findings)


def iter_findings(report: Report) -> Iterator[tuple[DocumentReport, Finding]]:
    for doc in report.documents:
        for finding in sorted_findings(doc):
            yield doc, finding


def display_source(source: str) -> str:
    return "<stdin>" if source == STDIN else source


def artifact_uri(source: str) -> str:
    """A relative POSIX URI for a source path ("stdin" for standard input), as code scanning wants."""
    if source == STDIN:
        return "stdin"
    path = Path(source)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return path.resolve().as_uri()
    return quote(path.as_posix(), safe="/")


def pluralize(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_line(report: Report) -> str:
    """``N findings: x error, y warning, z info in M documents``."""
    counts = report.summary()["by_severity"]
    return (
        f"{pluralize(len(report.findings), 'finding')}: {counts['error']} error, {counts['warning']} warning, "
        f"{counts['info']} info in {pluralize(len(report.documents), report.unit)}"
    )


SUGGESTION_QUOTE_CHARS = 40  # longer flagged text is cut with "…" in "delete “…”"


def suggestion_text(finding: Finding, document: Document) -> str | None:
    """How a finding's suggestion reads to a person, unambiguously: ``delete “their”``,
    ``insert “,”``, ``replace with “inseparable”`` (``document``: the one the finding is in)."""
    return suggestion_wording(finding, document.excerpt(finding.start, finding.end))


def suggestion_wording(finding: Finding, flagged: str) -> str | None:
    """:func:`suggestion_text` given the flagged text as a reader sees it."""
    suggestion = finding.suggestion
    if suggestion is None:
        return None
    if suggestion == "":
        if not flagged.strip():
            return "delete the space" if flagged else None
        return f"delete “{short_quote(flagged, SUGGESTION_QUOTE_CHARS)}”"
    if not flagged:
        return f"insert “{suggestion}”"
    return f"replace with “{suggestion}”"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def short_quote(text: str, limit: int) -> str:
    """``text`` on one line with its whitespace runs as single spaces, cut with "…" past ``limit``."""
    shown = " ".join(text.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def corrected_text(doc: DocumentReport) -> tuple[str, int]:
    """The document's text with every suggestion applied (where two overlap, the first in the
    text wins), and how many were applied: what "copy corrected text" copies."""
    text = doc.document.text
    pieces, cursor, applied = [], 0, 0
    for finding in in_text_order(doc.findings):
        if finding.suggestion is None or finding.start < cursor:
            continue
        pieces += [text[cursor : finding.start], finding.suggestion]
        cursor = finding.end
        applied += 1
    pieces.append(text[cursor:])
    return "".join(pieces), applied


def visible_controls(text: str) -> str:
    """Replace characters XML and HTML cannot carry (C0/C1 controls, lone surrogates) one for one."""

    def picture(match: re.Match[str]) -> str:
        char = match.group()
        if char <= "\x1f":
            return chr(0x2400 + ord(char))  # the Unicode control picture: ␀ ␁ …
        if char == "\x7f":
            return "\u2421"
        return "\ufffd"

    return _NOT_XML.sub(picture, text)


def one_line(text: str) -> str:
    """Collapse line breaks and tabs so a span fits on one output line, keeping every character's slot."""
    out = []
    for char in text:
        if char in "\r\n\t\v\f\x85\u2028\u2029":
            out.append(" ")
        elif unicodedata.category(char) == "Cc" or "\ud800" <= char <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def context_span(doc: DocumentReport, finding: Finding) -> tuple[int, int]:
    """The sentence(s) that hold the finding, or its line when no sentence does."""
    return findings_context_span(doc.document, finding)


def fingerprint(located: Located, occurrence: int = 0) -> str:
    """A hash that survives edits elsewhere in the file: rule code, flagged text and its sentence."""
    payload = "\x1f".join([located.finding.code, located.snippet, located.context, str(occurrence)])
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def located_findings(report: Report) -> Iterator[Located]:
    """Every finding of the report, located in its document: document by document, in text order."""
    for doc in report.documents:
        for finding in sorted_findings(doc):
            yield doc.locate(finding)
