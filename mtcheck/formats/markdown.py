"""``markdown``: a summary for a CI step summary (GitHub's ``$GITHUB_STEP_SUMMARY``) or a PR comment.

Totals by severity, a table per rule and a findings table cut at ``max_rows`` with a note saying
how many were left out. Table cells escape ``|`` and everything Markdown or HTML would act on.
"""

from __future__ import annotations

import re
from typing import Any

from mtcheck.findings import Report, Severity
from mtcheck.formats.base import (
    SEVERITY_ICONS,
    Formatter,
    RenderOptions,
    display_source,
    iter_findings,
    pluralize,
    register,
    rules_used,
    suggestion_text,
    summary_line,
    visible_controls,
)

MAX_ROWS = 200
MAX_QUOTE = 80
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")


def cell(text: str) -> str:
    """Text safe inside a table cell: one line, Markdown and HTML specials backslash-escaped."""
    flat = " ".join(visible_controls(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat.replace("&", "&amp;"))


def quoted(text: str, limit: int = MAX_QUOTE) -> str:
    """A flagged span as an inline code span that survives backticks and pipes in the text."""
    flat = re.sub(r"\s+", " ", visible_controls(text))
    if not flat.strip():
        flat = "‸" if not flat else "␣"  # an insertion point or a whitespace-only span still shows up
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    # A code span drops one space at each end when both ends have one, and needs one beside a backtick.
    edge = flat[:1] + flat[-1:]
    padding = " " if "`" in edge or (flat.startswith(" ") and flat.endswith(" ")) else ""
    # Inside a GFM table even a code span ends at an unescaped pipe.
    return f"{fence}{padding}{flat.replace('|', chr(92) + '|')}{padding}{fence}"


@register
class MarkdownFormatter(Formatter):
    name = "markdown"
    extension = ".md"
    media_type = "text/markdown; charset=utf-8"
    description = "A Markdown summary for CI step summaries and pull-request comments."

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        from mtcheck.gate.summary import gate_markdown

        return gate_markdown(summary) + rendered

    def render(self, report: Report, options: RenderOptions) -> str:
        summary = report.summary()
        out = ["## mtcheck report", "", f"**{summary_line(report)}** ({pluralize(summary['sentences'], 'sentence')} checked).", ""]
        out += ["| Severity | Count |", "| --- | ---: |"]
        for severity in sorted(Severity, reverse=True):
            out.append(f"| {SEVERITY_ICONS[severity]} {severity} | {summary['by_severity'][str(severity)]} |")
        out.append("")
        if not report.findings:
            out.append("No findings.")
            return "\n".join(out) + "\n"

        counts = summary["by_code"]
        out += ["### Findings by rule", "", "| Code | Rule | Count |", "| --- | --- | ---: |"]
        for info in rules_used(report, options.rules):
            out.append(f"| {cell(info.code)} | {cell(info.slug)} | {counts[info.code]} |")
        out.append("")

        out += ["### Findings", "", "| Location | Code | Severity | Message | Text |", "| --- | --- | --- | --- | --- |"]
        rows = list(iter_findings(report))
        for doc, finding in rows[: self.max_rows]:
            line, column = doc.document.line_col(finding.start)
            location = cell(f"{display_source(doc.source)}:{line}:{column}")
            message = finding.message
            suggestion = suggestion_text(finding, doc.document)
            if suggestion is not None:
                message += f" → {suggestion}"
            text = quoted(doc.document.excerpt(finding.start, finding.end))
            severity = f"{SEVERITY_ICONS[finding.severity]} {finding.severity}"
            out.append(f"| {location} | {cell(finding.code)} | {severity} | {cell(message)} | {text} |")
        if len(rows) > self.max_rows:
            left_out = len(rows) - self.max_rows
            out += ["", f"_{pluralize(left_out, 'more finding')} not shown; see the full report (json, sarif or html)._"]
        return "\n".join(out) + "\n"
