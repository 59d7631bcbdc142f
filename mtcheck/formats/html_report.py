"""``html``: one self-contained page with the article text and every flagged span marked in place.

The page needs no network: styles and script are inlined from ``report.html``, ``report.css`` and
``report.js`` beside this module. Every piece of user text goes through ``html.escape``. Spans that
overlap are split so the markup nests properly; the first piece of a span carries its ``id`` and
tooltip, later pieces repeat its classes so filters and hover colours still apply to them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from importlib import resources

from mtcheck import __version__
from mtcheck.findings import DocumentReport, Finding, Report, Severity
from mtcheck.formats.base import (
    SEVERITY_ICONS,
    Formatter,
    RenderOptions,
    corrected_text,
    display_source,
    family_of,
    pluralize,
    register,
    rules_used,
    short_quote,
    sorted_findings,
    suggestion_text,
    summary_line,
    visible_controls,
)

PARAGRAPH, SENTENCE, FINDING = 0, 1, 2
MAX_LIST_QUOTE = 60


def esc(text: str) -> str:
    return html.escape(visible_controls(text), quote=True)


def _template(name: str) -> str:
    return resources.files("mtcheck.formats").joinpath(name).read_text(encoding="utf-8")


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{{name}}`` slots in one pass, so text that happens to contain a slot stays text."""
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


@dataclass(eq=False)
class Interval:
    """A stretch of text that becomes one element (split into pieces where others cross it)."""

    layer: int
    start: int
    end: int
    order: int
    open_tag: str
    close_tag: str = ""
    continued_tag: str = ""
    tail: str = ""  # emitted just before the first piece closes (the tooltip)
    pieces: int = 0

    def key(self) -> tuple[int, int, int, int]:
        return (self.layer, self.start, -self.end, self.order)


@dataclass
class Segment:
    start: int
    end: int
    active: list[Interval]
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def nest(text: str, intervals: list[Interval], points: list[tuple[int, str]]) -> str:
    """HTML for ``text`` with each interval wrapped in its tags and each point inserted at its offset.

    The text is cut at every interval boundary; for each piece the enclosing intervals, outermost
    first, are compared with the open stack: what differs is closed and reopened. Crossing
    intervals thus end up split into well-nested pieces.
    """
    cuts = sorted({0, len(text), *(i.start for i in intervals), *(i.end for i in intervals), *(p for p, _ in points)})
    starting: dict[int, list[Interval]] = {}
    ending: dict[int, list[Interval]] = {}
    for interval in intervals:
        starting.setdefault(interval.start, []).append(interval)
        ending.setdefault(interval.end, []).append(interval)
    segments: list[Segment] = []
    active: set[Interval] = set()
    for a, b in zip(cuts, cuts[1:]):
        active.difference_update(ending.get(a, ()))
        active.update(starting.get(a, ()))
        segments.append(Segment(a, b, sorted(active, key=Interval.key)))
    by_end = {s.end: s for s in segments}
    by_start = {s.start: s for s in segments}
    loose: list[str] = []
    for offset, markup in points:
        # An insertion point belongs to the paragraph it ends, else to the one it starts.
        previous, following = by_end.get(offset), by_start.get(offset)
        if previous and any(i.layer == PARAGRAPH for i in previous.active):
            previous.after.append(markup)
        elif following:
            following.before.append(markup)
        elif previous:
            previous.after.append(markup)
        else:
            loose.append(markup)

    out: list[str] = []
    stack: list[Interval] = []
    for segment in segments:
        keep = 0
        while keep < min(len(stack), len(segment.active)) and stack[keep] is segment.active[keep]:
            keep += 1
        while len(stack) > keep:
            _close(stack.pop(), out)
        for interval in segment.active[keep:]:
            out.append(interval.open_tag if interval.pieces == 0 else interval.continued_tag or interval.open_tag)
            interval.pieces += 1
            stack.append(interval)
        out.extend(segment.before)
        out.append(esc(text[segment.start : segment.end]))
        out.extend(segment.after)
    while stack:
        _close(stack.pop(), out)
    out.extend(loose)
    return "".join(out)


def _close(interval: Interval, out: list[str]) -> None:
    if interval.pieces == 1 and interval.tail:
        out.append(interval.tail)
    out.append(interval.close_tag)


LABEL_SHADE = {"fluent": 0.0, "awkward": 0.6, "garbled": 1.0}


def _shades(doc: DocumentReport) -> dict[tuple[int, int], tuple[float, float]]:
    """(fluency, how strongly to shade it in 0..1) per scored sentence: by its label when it has one
    (fluent sentences stay unshaded), else by the raw score (rescaled when outside 0..1)."""
    scored = [(s.start, s.end, s.fluency) for s in doc.sentences if s.fluency is not None]
    if not scored:
        return {}
    if all(s.label in LABEL_SHADE for s in doc.sentences if s.fluency is not None):
        return {(s.start, s.end): (s.fluency, LABEL_SHADE[s.label]) for s in doc.sentences if s.fluency is not None}
    values = [f for _, _, f in scored]
    low, high = min(values), max(values)
    if 0.0 <= low and high <= 1.0:
        return {(s, e): (f, 1.0 - f) for s, e, f in scored}
    spread = (high - low) or 1.0
    return {(s, e): (f, (high - f) / spread) for s, e, f in scored}


def _grouped(items: list[Numbered]) -> list[list[Numbered]]:
    """Findings of one rule on the same words with the same message and fix, as one entry with
    several places (in the order they first appear): "XI" twenty times is one entry, not twenty."""
    groups: dict[tuple, list[Numbered]] = {}
    for item in items:
        f = item.finding
        words = " ".join(item.doc.document.excerpt(f.start, f.end).split())
        groups.setdefault((f.code, f.severity, words, f.message, f.suggestion), []).append(item)
    return list(groups.values())


@dataclass
class Numbered:
    number: int
    doc: DocumentReport
    finding: Finding

    @property
    def anchor(self) -> str:
        return f"finding-{self.number}"

    @property
    def family(self) -> str:
        return family_of(self.finding.code)

    @property
    def severity(self) -> str:
        return str(self.finding.severity)

    def data_attributes(self) -> str:
        return (
            f'data-finding="{self.number}" data-code="{esc(self.finding.code)}" data-severity="{self.severity}" '
            f'data-family="{esc(self.family)}"'
        )

    def label(self) -> str:
        return f"{SEVERITY_ICONS[self.finding.severity]} {self.severity.capitalize()}"

    def tooltip(self) -> str:
        f = self.finding
        parts = [
            f'<span class="tip" role="tooltip" id="tip-{self.number}">',
            f'<strong>{self.label()}</strong> · <code>{esc(f.code)}</code> {esc(f.slug)}',
            f'<span class="tip-msg">{esc(f.message)}</span>',
        ]
        suggestion = suggestion_text(f, self.doc.document)
        if suggestion is not None:
            parts.append(f'<span class="tip-fix">→ Suggestion: {esc(suggestion)}</span>')
        parts.append("</span>")
        return "".join(parts)

    def plain_description(self) -> str:
        suggestion = suggestion_text(self.finding, self.doc.document)
        text = f"{self.severity} {self.finding.code}: {self.finding.message}"
        return text + (f" → {suggestion}" if suggestion is not None else "")


@register
class HtmlFormatter(Formatter):
    name = "html"
    extension = ".html"
    media_type = "text/html; charset=utf-8"
    description = "A self-contained HTML page: the article with flagged spans, filters and a findings list."

    supports_gate = False  # a gate report is for CI logs and code scanning; `check` writes HTML

    def render(self, report: Report, options: RenderOptions) -> str:
        numbered: list[list[Numbered]] = []
        counter = 0
        for doc in report.documents:
            items = []
            for finding in sorted_findings(doc):
                counter += 1
                items.append(Numbered(counter, doc, finding))
            numbered.append(items)
        if len(report.documents) == 1:
            title = f"mtcheck report — {display_source(report.documents[0].source)}"
        else:
            title = f"mtcheck report — {pluralize(len(report.documents), 'document')}"
        return fill(
            _template("report.html"),
            {
                "title": esc(title),
                "css": _template("report.css"),
                "js": _template("report.js"),
                "header": self._header(report, options, numbered),
                "body": "\n".join(self._section(i, doc, items) for i, (doc, items) in enumerate(zip(report.documents, numbered), 1)),
                "version": esc(__version__),
            },
        )

    # ---- page header: totals, filters, rules, contents ----

    def _header(self, report: Report, options: RenderOptions, numbered: list[list[Numbered]]) -> str:
        summary = report.summary()
        out = [f'<p class="summary">{esc(summary_line(report))}.</p>', '<ul class="totals">']
        for severity in sorted(Severity, reverse=True):
            count = summary["by_severity"][str(severity)]
            out.append(
                f'<li class="badge sev-{severity}">{SEVERITY_ICONS[severity]} {count} {severity}</li>'
            )
        out.append("</ul>")
        out.append(self._filters(report, numbered))
        rules = rules_used(report, options.rules)
        if rules:
            out.append('<details class="rules"><summary>Rules with findings</summary><table>')
            out.append("<thead><tr><th scope=col>Code</th><th scope=col>Rule</th><th scope=col>Count</th><th scope=col>What it catches</th></tr></thead><tbody>")
            for info in rules:
                out.append(
                    f"<tr><td><code>{esc(info.code)}</code></td><td>{esc(info.slug)}</td>"
                    f'<td class="num">{summary["by_code"][info.code]}</td><td>{esc(info.summary)}</td></tr>'
                )
            out.append("</tbody></table></details>")
        if len(report.documents) > 1:
            out.append('<nav aria-label="Documents"><h2 class="toc-title">Documents</h2><ol class="toc">')
            for i, doc in enumerate(report.documents, 1):
                out.append(
                    f'<li><a href="#doc-{i}">{esc(display_source(doc.source))}</a> '
                    f'<span class="muted">({pluralize(len(doc.findings), "finding")})</span></li>'
                )
            out.append("</ol></nav>")
        return "\n".join(out)

    def _filters(self, report: Report, numbered: list[list[Numbered]]) -> str:
        if not report.findings:
            return ""
        items = [item for group in numbered for item in group]
        out = ['<form id="filters" class="filters" hidden aria-label="Filter findings">']
        out.append('<fieldset><legend>Severity</legend>')
        for severity in sorted(Severity, reverse=True):
            count = sum(1 for item in items if item.finding.severity == severity)
            out.append(
                f'<label class="sev-{severity}"><input type="checkbox" data-filter="severity" value="{severity}" checked> '
                f"{SEVERITY_ICONS[severity]} {severity} ({count})</label>"
            )
        out.append("</fieldset><fieldset><legend>Rule family</legend>")
        families = sorted({item.family for item in items})
        for family in families:
            count = sum(1 for item in items if item.family == family)
            out.append(
                f'<label><input type="checkbox" data-filter="family" value="{esc(family)}" checked> {esc(family)} ({count})</label>'
            )
        out.append("</fieldset>")
        if any(s.fluency is not None for d in report.documents for s in d.sentences):
            out.append(
                '<fieldset><legend>Display</legend><label><input type="checkbox" id="show-fluency" checked> '
                "sentence fluency shading</label></fieldset>"
            )
        out.append('<p class="filter-status" id="filter-status" aria-live="polite"></p></form>')
        return "".join(out)

    # ---- one document ----

    def _section(self, index: int, doc: DocumentReport, items: list[Numbered]) -> str:
        counts = {str(s): 0 for s in Severity}
        for item in items:
            counts[item.severity] += 1
        meta = [pluralize(len(items), "finding")]
        meta += [f"{counts[str(s)]} {s}" for s in sorted(Severity, reverse=True) if counts[str(s)]]
        if doc.fluency is not None:
            meta.append(f"fluency {doc.fluency:.3f}" + (f" ({doc.fluency_label})" if doc.fluency_label else ""))
        corrected, fixes = corrected_text(doc)
        # Hidden until report.js can copy it: the report reads the same without the script.
        copy = (
            f'<p class="corrected"><button type="button" class="copy-corrected" data-source="corrected-{index}" hidden>'
            f'Copy corrected text ({pluralize(fixes, "suggestion")} applied)</button> '
            f'<span class="copy-status" aria-live="polite"></span>'
            f'<textarea id="corrected-{index}" class="corrected-text" readonly hidden>{esc(corrected)}</textarea></p>'
            if fixes else ""
        )
        return "\n".join(
            [
                f'<section class="document" id="doc-{index}" aria-labelledby="doc-{index}-title">',
                f'<h2 id="doc-{index}-title">{esc(display_source(doc.source))}</h2>',
                f'<p class="doc-meta">{esc(" · ".join(meta))}</p>',
                copy,
                '<div class="doc-layout">',
                f'<article class="text" lang="en" aria-label="Text of {esc(display_source(doc.source))}">',
                self._article(doc, items),
                "</article>",
                self._side_list(index, items),
                "</div>",
                "</section>",
            ]
        )

    def _article(self, doc: DocumentReport, items: list[Numbered]) -> str:
        document = doc.document
        intervals: list[Interval] = []
        for order, paragraph in enumerate(document.paragraphs):
            intervals.append(Interval(PARAGRAPH, paragraph.start, paragraph.end, order, "<p>", "</p>"))
        for order, ((start, end), (fluency, lowness)) in enumerate(sorted(_shades(doc).items())):
            if start >= end:
                continue
            tag = (
                f'<span class="sentence" data-fluency="{fluency:.4f}" title="Sentence fluency {fluency:.3f}" '
                f'style="--low: {max(0.0, min(1.0, lowness)):.3f}">'
            )
            intervals.append(Interval(SENTENCE, start, end, order, tag, "</span>"))
        points: list[tuple[int, str]] = []
        for item in items:
            f = item.finding
            classes = f"finding sev-{item.severity}"
            described = f'aria-describedby="tip-{item.number}"'
            if f.start == f.end:
                points.append(
                    (
                        f.start,
                        f'<mark class="{classes} insertion" id="{item.anchor}" tabindex="0" {described} '
                        f'{item.data_attributes()}><span class="caret" aria-hidden="true">‸</span>'
                        f'<span class="sr-only">insertion point</span>{item.tooltip()}</mark>',
                    )
                )
                continue
            intervals.append(
                Interval(
                    FINDING,
                    f.start,
                    f.end,
                    item.number,
                    f'<mark class="{classes}" id="{item.anchor}" tabindex="0" {described} {item.data_attributes()}>',
                    "</mark>",
                    continued_tag=(
                        f'<mark class="{classes} continued" title="{esc(item.plain_description())}" '
                        f"{item.data_attributes()}>"
                    ),
                    tail=item.tooltip(),
                )
            )
        if not document.text.strip():
            return '<p class="muted">(empty document)</p>'
        return nest(document.text, intervals, points)

    def _side_list(self, index: int, items: list[Numbered]) -> str:
        out = [f'<aside class="finding-list" aria-labelledby="doc-{index}-list">']
        out.append(f'<h3 id="doc-{index}-list">Findings ({len(items)})</h3>')
        if not items:
            out.append('<p class="muted">No findings.</p></aside>')
            return "\n".join(out)
        out.append("<ol>")
        for group in _grouped(items):
            item, f = group[0], group[0].finding
            document = item.doc.document
            quote = short_quote(document.excerpt(f.start, f.end), MAX_LIST_QUOTE)
            suggestion = suggestion_text(f, document)
            where = [":".join(map(str, document.line_col(g.finding.start))) for g in group]
            head = (f'<span class="badge sev-{item.severity}">{item.label()}</span> '
                    f'<code>{esc(f.code)}</code> <span class="slug">{esc(f.slug)}</span> ')
            if len(group) == 1:
                head = f'<a href="#{item.anchor}">{head}<span class="loc">{where[0]}</span></a>'
            else:
                links = ", ".join(f'<a href="#{g.anchor}" class="loc">{w}</a>' for g, w in zip(group, where))
                head += f'<span class="places">{len(group)} places: {links}</span>'
            out.append(
                f'<li class="sev-{item.severity}" {item.data_attributes()} data-places="{len(group)}">{head}'
                f'<p class="msg">{esc(f.message)}</p>'
                + (f'<p class="quote"><q>{esc(quote)}</q></p>' if quote else "")
                + (f'<p class="fix">→ {esc(suggestion)}</p>' if suggestion is not None else "")
                + "</li>"
            )
        out.append("</ol></aside>")
        return "\n".join(out)

