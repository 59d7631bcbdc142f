"""``github``: workflow commands that GitHub Actions turns into annotations on the changed files.

    ::warning file=a.txt,line=3,col=12,endLine=3,endColumn=14,title=P001 doubled-punctuation::'.' is repeated…

Escaping follows the Actions toolkit: data escapes ``%``, CR and LF; properties also ``:`` and ``,``.
Column properties are left out when a span crosses lines (annotations take columns on one line only).
"""

from __future__ import annotations

from typing import Any

from mtcheck.findings import Report, Severity
from mtcheck.formats.base import (
    STDIN,
    Formatter,
    RenderOptions,
    iter_findings,
    register,
    suggestion_text,
)

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


@register
class GithubFormatter(Formatter):
    name = "github"
    extension = ".log"
    media_type = "text/plain; charset=utf-8"
    description = "GitHub Actions annotations (::error / ::warning / ::notice workflow commands)."

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        if summary["passed"]:
            line = f"::notice title={escape_property('mtcheck gate passed')}::" + escape_data(
                f"flag rate {summary['flag_rate']:.2f} per 100 sentences, {summary['findings']['total']} findings"
            )
        else:
            line = f"::error title={escape_property('mtcheck gate failed')}::" + escape_data("\n".join(summary["reasons"]))
        return rendered + line + "\n"

    def render(self, report: Report, options: RenderOptions) -> str:
        lines = []
        for doc, finding in iter_findings(report):
            line, column = doc.document.line_col(finding.start)
            end_line, end_column = doc.document.line_col(finding.end)
            properties: list[tuple[str, str]] = []
            if doc.source != STDIN:  # an annotation on a file that is not in the repository is dropped
                properties += [("file", doc.source), ("line", str(line))]
                if end_line == line:
                    properties += [("col", str(column))]
                properties += [("endLine", str(end_line))]
                if end_line == line:
                    properties += [("endColumn", str(max(end_column, column)))]
            properties.append(("title", f"{finding.code} {finding.slug}"))
            message = finding.message
            flagged = doc.document.excerpt(finding.start, finding.end)
            if flagged.strip():
                message += f"\nText: “{flagged}”"
            suggestion = suggestion_text(finding, doc.document)
            if suggestion is not None:
                message += f"\nSuggestion: {suggestion}"
            props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
            lines.append(f"::{COMMANDS[finding.severity]} {props}::{escape_data(message)}\n")
        return "".join(lines)
