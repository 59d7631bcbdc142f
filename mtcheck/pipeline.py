"""The whole check, top to bottom: parse → heuristic rules → fluency → configure → merge → report."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from mtcheck.config import Config
from mtcheck.document import Document, gc_paused
from mtcheck.findings import (
    DocumentReport,
    Finding,
    Report,
    SentenceScore,
    in_text_order,
)
from mtcheck.rules.base import Rule, RuleContext, all_rules
from mtcheck.windows import WINDOW_CHARS, Outline, Scores, window_spans


class Checker:
    """Checks documents; reuse one instance so the language model is loaded once."""

    def __init__(self, config: Config | None = None, fluency: "object | None" = None) -> None:
        self.config = config or Config()
        self.rules: list[Rule] = [
            cls() for code, cls in all_rules().items() if self.config.enabled(code) and not cls.uses_lm and not cls.needs_source
        ]
        self.context = RuleContext(allowlist=self.config.allowlist)
        self._fluency = fluency
        self.window_chars = WINDOW_CHARS  # longer texts are checked in windows (mtcheck.windows)

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

        ``progress`` is called with the number of characters checked: after each chunk of
        documents, and after each window of a long text (so one long file shows progress too).
        """
        items = list(items)
        reports: list[DocumentReport | None] = [None] * len(items)
        short = [i for i, (text, _) in enumerate(items) if len(text) <= self.window_chars]
        for begin in range(0, len(short), chunk_size):
            indexes = short[begin : begin + chunk_size]
            chunk = [Document.parse(*items[i]) for i in indexes]
            with gc_paused():  # see mtcheck.document.gc_paused
                chunk_reports = [self._heuristics(doc) for doc in chunk]
            told = [0]  # characters the detector has reported so far in this chunk

            def tell(characters: int) -> None:
                told[0] += characters
                progress(characters)  # type: ignore[misc]

            if self.config.lm and self.fluency is not None:
                self._add_fluency(chunk_reports, tell if progress is not None else None)
            with gc_paused():
                for index, report in zip(indexes, chunk_reports):
                    report.findings = merge_overlapping(self._configure(report.document, report.findings))
                    reports[index] = report
            if progress is not None:
                progress(sum(len(doc.text) for doc in chunk) - told[0])
        for index, (text, source) in enumerate(items):
            if reports[index] is None:  # a long text, in windows
                reports[index] = self._check_long(text, source, progress)
        return Report([r for r in reports if r is not None])

    def _check_long(self, text: str, source: str, progress: Callable[[int], None] | None = None) -> DocumentReport:
        """Check a text longer than one window, window by window (see mtcheck.windows)."""
        outline, found = Outline(text, source), []
        scores = Scores(outline.sentence_spans)
        budget = dict.fromkeys((rule.code for rule in self.rules), MAX_FINDINGS_PER_RULE)
        for start, end in window_spans(text, self.window_chars):
            window = Document.parse(text[start:end], source)
            with gc_paused():
                report = self._heuristics(window, budget)
            if self.config.lm and self.fluency is not None:
                self._add_fluency([report])
            outline.add_window(window, start)
            scores.extend(report.sentences)
            found.extend(replace(f, start=f.start + start, end=f.end + start) for f in report.findings)
            del window, report
            gc.collect()  # rules cache analyses on the document (cycles): free the window now
            if progress is not None:
                progress(end - start)
        with gc_paused():
            findings = merge_overlapping(self._configure(outline, found))
        report = DocumentReport(outline, findings, scores)  # type: ignore[arg-type]
        if self.config.lm and self.fluency is not None:
            from mtcheck.fluency.decode import whole_document_fluency

            report.fluency = whole_document_fluency([s.fluency for s in scores if s.fluency is not None])
            report.fluency_label = None if report.fluency is None else self.fluency.thresholds.label(report.fluency)
        return report

    def _heuristics(self, doc: Document, budget: dict[str, int] | None = None) -> DocumentReport:
        """Every heuristic rule on one document; ``budget`` (findings each rule may still report,
        shared by a long text's windows) is spent as they are found."""
        findings: list[Finding] = []
        for rule in self.rules:
            limit = MAX_FINDINGS_PER_RULE if budget is None else budget[rule.code]
            if limit <= 0:
                continue
            found = _capped(rule.check(doc, self.context), limit)
            if budget is not None:
                budget[rule.code] -= len(found)
            findings.extend(found)
        sentences = [SentenceScore(s.start, s.end) for s in doc.sentences]
        return DocumentReport(doc, findings, sentences)

    def _add_fluency(self, reports: Sequence[DocumentReport], progress: Callable[[int], None] | None = None) -> None:
        results = self.fluency.analyse(
            [r.document for r in reports], self.context, spans=self.config.enabled("F001"), progress=progress
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


# A rule that fires this often in one document has found input that is not prose (a table, a
# dump, an attack); more of the same helps no reader and costs memory in proportion to the input.
MAX_FINDINGS_PER_RULE = 1000


def _capped(found: Iterable[Finding], limit: int) -> list[Finding]:
    """The first ``limit`` findings of one rule; the last of them says that the rule stopped."""
    kept: list[Finding] = []
    for finding in found:
        if len(kept) == limit:
            last = kept[-1]
            stopped = f"(This rule stopped after {MAX_FINDINGS_PER_RULE:,} findings in this document.)"
            kept[-1] = replace(last, message=f"{last.message} {stopped}")
            break
        kept.append(finding)
    return kept


SPAN_LM_CODES = ("F001",)  # sentence-level LM findings stay separate: merging would blur a precise span


def merge_overlapping(findings: list[Finding]) -> list[Finding]:
    """One finding per overlap between an LM span and a heuristic one: stronger severity, both reasons.

    A merged finding keeps a suggestion only when that suggestion was made for exactly the merged
    span: a heuristic's fix widened over an LM span would replace more text than it meant to.
    """
    import bisect

    merged = [f for f in findings if f.code not in SPAN_LM_CODES]
    # Heuristic findings by start, with the running maximum of their ends: the first one that
    # overlaps a span is found by binary search (n log n, not every pair).
    order = sorted((i for i, h in enumerate(merged) if not h.code.startswith("F")), key=lambda i: merged[i].start)
    reach: list[int] = []
    for i in order:
        reach.append(max(merged[i].end, reach[-1] if reach else merged[i].end))
    for lm in (f for f in findings if f.code in SPAN_LM_CODES):
        first = bisect.bisect_right(reach, lm.start)
        if first == len(order) or merged[order[first]].start >= lm.end:
            merged.append(lm)
            continue
        partner = order[first]
        h = merged[partner]
        start, end = min(h.start, lm.start), max(h.end, lm.end)
        if (start, end) == (h.start, h.end):
            suggestion = h.suggestion
        elif (start, end) == (lm.start, lm.end):
            suggestion = lm.suggestion
        else:
            suggestion = None
        merged[partner] = Finding(
            code=h.code,
            slug=h.slug,
            severity=max(h.severity, lm.severity),
            start=start,
            end=end,
            message=f"{h.message} Language model: {lm.message}",
            suggestion=suggestion,
            score=lm.score,
        )
    unique = {(f.code, f.start, f.end): f for f in merged}
    return in_text_order(unique.values())
