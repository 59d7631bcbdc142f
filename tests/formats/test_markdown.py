"""markdown: totals, per-rule table and a findings table with escaped cells, truncated with a note."""

from __future__ import annotations

from mtcheck.findings import Report
from mtcheck.formats import render
from mtcheck.formats.base import RenderOptions
from mtcheck.formats.markdown import MarkdownFormatter, cell, quoted


def table(out: str, heading: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index(heading) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows[2:]  # without the header and the delimiter row


def unescaped_pipes(row: str) -> int:
    return sum(1 for i, c in enumerate(row) if c == "|" and (i == 0 or row[i - 1] != "\\"))


def test_tables(multi: Report) -> None:
    out = render(multi, "markdown", rules={})  # describe codes from the findings, not the live registry
    assert out.startswith("## mtcheck report\n")
    assert "**4 findings: 1 error, 1 warning, 2 info in 3 documents**" in out
    assert "| ✖ error | 1 |" in out and "| ℹ info | 2 |" in out
    rules = table(out, "### Findings by rule")
    assert rules[0] == "| C001 | inconsistent-case | 1 |"
    assert len(rules) == 4
    findings = table(out, "### Findings")
    assert len(findings) == 4
    assert findings[0] == "| news/harbour.txt:1:33 | P001 | ▲ warning | '.' is repeated. → delete “.” | ` .` |"
    assert findings[-1].startswith("| \\<stdin\\>:1:12 | C001 | ℹ info |")


def test_cells_escape_pipes_and_markup(markup: Report) -> None:
    out = render(markup, "markdown")
    for row in table(out, "### Findings"):
        assert unescaped_pipes(row) == 6  # five cells
    assert "<script>" not in out.replace("`<script>alert(1)</script>`", "")
    assert "Tag \\<b\\>bold\\</b\\> &amp; co." in out


def test_quoted_code_spans() -> None:
    assert quoted("a | b") == "`a \\| b`"
    assert quoted("has `tick`") == "`` has `tick` ``"  # CommonMark strips one padding space each side
    assert quoted("") == "`‸`" and quoted("  ") == "`␣`"
    assert quoted("x" * 200).endswith("…`") and len(quoted("x" * 200)) == 82
    assert cell("line\none | two") == "line one \\| two"


def test_truncation_note(harbour: Report) -> None:
    out = MarkdownFormatter(max_rows=2).render(harbour, RenderOptions(rules={}))
    assert len(table(out, "### Findings")) == 2
    assert "_1 more finding not shown; see the full report (json, sarif or html)._" in out


def test_empty_report() -> None:
    out = render(Report(), "markdown")
    assert "No findings." in out and "### Findings" not in out
