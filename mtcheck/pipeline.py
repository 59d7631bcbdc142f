"""The whole check, top to bottom: parse → heuristic rules → fluency → configure → merge → report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from mtcheck.config import Config
from mtcheck.document import Document
from mtcheck.findings import DocumentReport, Finding, Report, SentenceScore
from mtcheck.rules.base import Rule, RuleContext, all_rules


class Checker:
    """Checks documents; reuse one instance so the language model is loaded once."""

    def __init__(self, config: Config | None = None, fluency: "object | None" = None) -> None:
        self.config = config or Config()
        self.rules: list[Rule] = [
            cls() for code, cls in all_rules().items() if self.config.enabled(code) and not cls.uses_lm
        ]
        self.context = RuleContext(allowlist=self.config.allowlist)
        self._fluency = fluency

    @property
    def fluency(self):
        """The learned fluency detector, loaded on first use (None when the LM is off)."""
        if self._fluency is None and self.config.lm and self.config.enabled("F"):
            from mtcheck.fluency.detector import Detector

            self._fluency = Detector.from_config(self.config)
        return self._fluency

    def check(self, text: str, source: str = "-") -> Report:
        return self.check_many([(text, source)])

    def check_many(
        self,
        items: Iterable[tuple[str, str]],
        progress: Callable[[int], None] | None = None,
        chunk_size: int = 32,
    ) -> Report:
        """Check (text, source) pairs; the LM batches across each chunk of documents.

        ``progress`` is called with the number of documents finished after each chunk.
        """
        items = list(items)
        reports: list[DocumentReport] = []
        for begin in range(0, len(items), chunk_size):
            chunk = [Document.parse(text, source) for text, source in items[begin : begin + chunk_size]]
            chunk_reports = [self._heuristics(doc) for doc in chunk]
            if self.config.lm and self.fluency is not None:
                self._add_fluency(chunk_reports)
            for report in chunk_reports:
                report.findings = merge_overlapping(self._configure(report.document, report.findings))
            reports.extend(chunk_reports)
            if progress is not None:
                progress(len(chunk))
        return Report(reports)

    def _heuristics(self, doc: Document) -> DocumentReport:
        findings: list[Finding] = []
        for rule in self.rules:
            findings.extend(rule.check(doc, self.context))
        sentences = [SentenceScore(s.start, s.end) for s in doc.sentences]
        return DocumentReport(doc, findings, sentences)

    def _add_fluency(self, reports: Sequence[DocumentReport]) -> None:
        results = self.fluency.analyse(
            [r.document for r in reports], self.context, spans=self.config.enabled("F001")
        )
        for report, result in zip(reports, results):
            report.findings.extend(result.findings)
            report.sentences = result.sentences
            report.fluency = result.fluency
            report.fluency_label = result.label

    def _configure(self, doc: Document, findings: Iterable[Finding]) -> list[Finding]:
        kept = []
        for f in findings:
            if not self.config.enabled(f.code) or self.context.allowed(doc.text[f.start : f.end]):
                continue
            kept.append(f.with_severity(self.config.severity_for(f.code, f.severity)))
        return kept


SPAN_LM_CODES = ("F001",)  # sentence-level LM findings stay separate: merging would blur a precise span


def merge_overlapping(findings: list[Finding]) -> list[Finding]:
    """One finding per overlap between an LM span and a heuristic one: stronger severity, both reasons."""
    merged = [f for f in findings if f.code not in SPAN_LM_CODES]
    for lm in (f for f in findings if f.code in SPAN_LM_CODES):
        partner = next(
            (i for i, h in enumerate(merged) if not h.code.startswith("F") and h.overlaps(lm)), None
        )
        if partner is None:
            merged.append(lm)
            continue
        h = merged[partner]
        merged[partner] = Finding(
            code=h.code,
            slug=h.slug,
            severity=max(h.severity, lm.severity),
            start=min(h.start, lm.start),
            end=max(h.end, lm.end),
            message=f"{h.message} Language model: {lm.message}",
            suggestion=h.suggestion if h.suggestion is not None else lm.suggestion,
            score=lm.score,
        )
    unique = {(f.code, f.start, f.end): f for f in merged}
    return sorted(unique.values(), key=lambda f: (f.start, f.end, f.code))
