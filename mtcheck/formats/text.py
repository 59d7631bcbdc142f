"""``text``: the terminal report, one block per finding with the flagged span shown in its sentence.

    samples/a.txt:3:12  P001  warning  '.' is repeated; delete the extra mark.
        The talks collapsed. . Then the leaders left.
                            ^^
        → .

Colour is never the only cue: plain output draws a caret line under the span, coloured output
underlines it in bold.
"""

from __future__ import annotations

from io import StringIO

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from mtcheck.findings import DocumentReport, Finding, Report, Severity
from mtcheck.formats.base import (
    Formatter,
    RenderOptions,
    context_span,
    display_source,
    one_line,
    register,
    sorted_findings,
    suggestion_text,
    summary_line,
)

DEFAULT_WIDTH = 100
INDENT = "    "
ELLIPSIS = "…"
SEVERITY_STYLES = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def fit_cells(text: str, width: int, keep: str) -> str:
    """Cut ``text`` to ``width`` terminal cells, dropping from the left (keep='right') or the right."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - cell_len(ELLIPSIS)
    if keep == "right":
        kept = ""
        for char in reversed(text):
            if cell_len(kept) + cell_len(char) > room:
                break
            kept = char + kept
        return ELLIPSIS + kept
    kept = ""
    for char in text:
        if cell_len(kept) + cell_len(char) > room:
            break
        kept += char
    return kept + ELLIPSIS


def window(before: str, span: str, after: str, width: int) -> tuple[str, str, str]:
    """Trim the context around a span so the line fits ``width`` cells, keeping the span in view."""
    span = fit_cells(span, max(width * 2 // 3, 1), keep="left")
    room = width - cell_len(span)
    if cell_len(before) + cell_len(after) <= room:
        return before, span, after
    # Share the room, giving what one side does not need to the other.
    left_room = max(room // 2, room - cell_len(after))
    before = fit_cells(before, left_room, keep="right")
    after = fit_cells(after, room - cell_len(before), keep="left")
    return before, span, after


@register
class TextFormatter(Formatter):
    name = "text"
    extension = ".txt"
    media_type = "text/plain; charset=utf-8"
    description = "Human-readable terminal output (colour with --color)."

    def render(self, report: Report, options: RenderOptions) -> str:
        buffer = StringIO()
        console = Console(
            file=buffer,
            width=options.width or DEFAULT_WIDTH,
            force_terminal=options.color,
            no_color=not options.color,
            color_system="standard" if options.color else None,
            highlight=False,
            emoji=False,
            markup=False,
            soft_wrap=False,
        )
        for doc in report.documents:
            self._document(console, doc, options.color)
        console.print(Text(summary_line(report), style="bold"))
        return buffer.getvalue()

    def _document(self, console: Console, doc: DocumentReport, color: bool) -> None:
        findings = sorted_findings(doc)
        if not findings and doc.fluency is None:
            return
        for finding in findings:
            self._finding(console, doc, finding, color)
        if doc.fluency is not None:
            label = f" ({doc.fluency_label})" if doc.fluency_label else ""
            console.print(Text(f"{display_source(doc.source)}: fluency {doc.fluency:.3f}{label}", style="dim"))
        console.print()

    def _finding(self, console: Console, doc: DocumentReport, finding: Finding, color: bool) -> None:
        style = SEVERITY_STYLES[finding.severity]
        line, column = doc.document.line_col(finding.start)
        header = Text()
        header.append(f"{display_source(doc.source)}:{line}:{column}", style="bold")
        header.append("  ")
        header.append(finding.code, style=f"bold {style}")
        header.append("  ")
        header.append(str(finding.severity), style=style)
        header.append("  ")
        header.append(one_line(finding.message))
        # One line per finding, like a compiler's, so grep and editors can jump to it.
        console.print(header, soft_wrap=True)

        start, end = context_span(doc, finding)
        before, span, after = window(
            one_line(doc.document.excerpt(start, finding.start)),
            one_line(doc.document.excerpt(finding.start, finding.end)),
            one_line(doc.document.excerpt(finding.end, end)),
            console.width - len(INDENT),
        )
        context = Text(INDENT)
        context.append(before)
        context.append(span, style=f"bold underline {style}")
        context.append(after)
        console.print(context, overflow="ellipsis", no_wrap=True)
        if not color:
            carets = "^" * max(cell_len(span), 1)
            console.print(Text(INDENT + " " * cell_len(before) + carets), no_wrap=True)
        suggestion = suggestion_text(finding, doc.document)
        if suggestion is not None:
            console.print(Text(f"{INDENT}→ {one_line(suggestion)}", style="green"))
