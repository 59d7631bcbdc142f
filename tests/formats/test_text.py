"""text: one block per finding, span shown in its sentence, caret line in plain mode, summary line."""

from __future__ import annotations

import re

from rich.cells import cell_len

from mtcheck.findings import Report, Severity
from mtcheck.formats import render

ANSI = re.compile(r"\x1b\[")


def block(out: str, header_start: str) -> list[str]:
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    return lines[i : i + 4]


def test_plain_output_has_no_ansi_and_shows_every_part(harbour: Report) -> None:
    out = render(harbour, "text")
    assert not ANSI.search(out)
    header, context, carets, suggestion = block(out, "news/harbour.txt:1:33")
    assert header == "news/harbour.txt:1:33  P001  warning  '.' is repeated."
    assert context.strip() == "The ferry left the harbour late. ."
    assert carets.strip() == "^^"
    assert carets.index("^") == context.index(" .")
    assert suggestion.strip() == "→ delete “.”"  # an empty suggestion deletes the flagged text
    assert "news/harbour.txt:2:17  P002  error  Space before ','." in out
    assert "→ replace with “,”" in out
    assert "news/harbour.txt: fluency 0.720" in out
    assert out.rstrip().splitlines()[-1] == "3 findings: 1 error, 1 warning, 1 info in 1 document"


def test_finding_without_suggestion_has_no_arrow_line(harbour: Report) -> None:
    out = render(harbour, "text")
    lines = block(out, "news/harbour.txt:2:31")
    assert lines[0].endswith("Z999  info  An info note.")
    assert "→" not in lines[3]


def test_color_output_highlights_span_and_drops_carets(harbour: Report) -> None:
    out = render(harbour, "text", color=True)
    assert ANSI.search(out)
    assert "^^" not in out
    # bold + underline + colour on the span itself
    assert re.search(r"\x1b\[1;4;3\dm \.\x1b\[0m", out)


def test_summary_counts_documents_and_severities(multi: Report) -> None:
    last = render(multi, "text").rstrip().splitlines()[-1]
    assert last == "4 findings: 1 error, 1 warning, 2 info in 3 documents"
    assert "<stdin>:1:12  C001  info" in render(multi, "text")


def test_empty_report_prints_only_the_summary() -> None:
    assert render(Report(), "text") == "0 findings: 0 error, 0 warning, 0 info in 0 documents\n"


def test_crlf_columns_count_from_the_line_start(make) -> None:
    text = "First line here.\r\nSecond line has a typo , here.\r\n"
    report = Report([make.document_report(text, "crlf.txt", [make.finding(text, " ,")])])
    out = render(report, "text")
    assert "crlf.txt:2:23  P001" in out
    assert "\r" not in out


def test_long_sentence_is_windowed_around_the_span(make) -> None:
    text = "Word " * 60 + "the the target sits here " + "tail " * 60 + "end."
    report = Report([make.document_report(text, "long.txt", [make.finding(text, "the the")])])
    out = render(report, "text", width=60)
    _, context, carets, *_ = block(out, "long.txt:1:")
    assert cell_len(context) <= 60 and context.strip().startswith("…") and context.endswith("…")
    assert context[carets.index("^") :].startswith("the the")
    assert carets.count("^") == len("the the")


def test_wide_characters_keep_the_caret_under_the_span(make) -> None:
    text = "他说 the minister said , that was all."
    report = Report([make.document_report(text, "wide.txt", [make.finding(text, " ,")])])
    _, context, carets, _ = block(render(report, "text"), "wide.txt:1:")
    before = context[: context.index(" ,")]
    assert carets.index("^") == cell_len(before)


def test_zero_width_span_gets_one_caret(make) -> None:
    text = "The sentence ends here"
    start = len(text)
    report = Report([make.document_report(text, "z.txt", [])])
    from mtcheck.findings import Finding

    report.documents[0].findings.append(Finding("Q001", "x", Severity.INFO, start, start, "Missing period.", "."))
    _, context, carets, suggestion = block(render(report, "text"), "z.txt:1:23")
    assert carets == " " * len(context) + "^"
    assert suggestion.strip() == "→ insert “.”"  # an empty span is an insertion point


def test_control_characters_and_markup_are_shown_literally(markup: Report) -> None:
    out = render(markup, "text")
    assert "<script>alert(1)</script>" in out
    assert "Tag <b>bold</b> & co." in out
    assert "[" not in out.replace("]]>", "")  # rich markup was not interpreted or added


def test_whitespace_suggestion_is_quoted(make) -> None:
    text = "Two  spaces here."
    report = Report([make.document_report(text, "w.txt", [make.finding(text, "  ", suggestion=" ")])])
    assert "→ replace with “ ”" in render(report, "text")
