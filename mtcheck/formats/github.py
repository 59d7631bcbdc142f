"""``github``: workflow commands that GitHub Actions turns into annotations on the changed files.

    ::warning file=a.txt,line=3,col=12,endLine=3,endColumn=14,title=P001 doubled-punctuation::'.' is repeated…

Escaping follows the Actions toolkit: data escapes ``%``, CR and LF; properties also ``:`` and ``,``.
Column properties are left out when a span crosses lines (annotations take columns on one line only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtcheck.findings import Located, Report, Severity
from mtcheck.formats.base import (
    STDIN,
    Formatter,
    RenderOptions,
    located_findings,
    register,
    suggestion_wording,
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

    per_finding = True

    def render(self, report: Report, options: RenderOptions) -> str:
        return self.render_located(list(located_findings(report)), options)

    def render_located(self, located: Sequence[Located], options: RenderOptions) -> str:
        lines = []
        for where in located:
            finding = where.finding
            line, column, end_line, end_column = where.line, where.column, where.end_line, where.end_column
            properties: list[tuple[str, str]] = []
            if where.source != STDIN:  # an annotation on a file that is not in the repository is dropped
                properties += [("file", where.source), ("line", str(line))]
                if end_line == line:
                    properties += [("col", str(column))]
                properties += [("endLine", str(end_line))]
                if end_line == line:
                    properties += [("endColumn", str(max(end_column, column)))]
            properties.append(("title", f"{finding.code} {finding.slug}"))
            message = finding.message
            if where.excerpt.strip():
                message += f"\nText: “{where.excerpt}”"
            suggestion = suggestion_wording(finding, where.excerpt)
            if suggestion is not None:
                message += f"\nSuggestion: {suggestion}"
            props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
            lines.append(f"::{COMMANDS[finding.severity]} {props}::{escape_data(message)}\n")
        return "".join(lines)
