"""github: workflow commands with GitHub's escaping rules."""

from __future__ import annotations

from mtcheck.findings import Report, Severity
from mtcheck.formats import render
from mtcheck.formats.github import escape_data, escape_property


def test_escaping_rules() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a,b:c%d\ne") == "a%2Cb%3Ac%25d%0Ae"


def test_one_command_per_finding_with_location(harbour: Report) -> None:
    lines = render(harbour, "github").splitlines()
    assert len(lines) == 3
    assert lines[1] == (
        "::error file=news/harbour.txt,line=2,col=17,endLine=2,endColumn=19,"
        "title=P002 space-before-punctuation::Space before ','.%0AText: “ ,”%0ASuggestion: replace with “,”"
    )
    assert lines[0].startswith("::warning file=news/harbour.txt,line=1,col=33,")
    assert lines[0].endswith("%0ASuggestion: delete “.”")
    assert lines[2].startswith("::notice ")  # info → notice


def test_properties_and_messages_are_escaped(make) -> None:
    text = "Odd 50% text , here."
    report = Report(
        [make.document_report(text, "dir,with:odd.txt", [make.finding(text, " ,", message="Line one\nline: two, 50%")])]
    )
    (line,) = render(report, "github").splitlines()
    properties, message = line[len("::warning ") :].split("::", 1)
    assert properties.startswith("file=dir%2Cwith%3Aodd.txt,line=1,")
    assert message.startswith("Line one%0Aline: two, 50%25")
    assert "\n" not in line


def test_multiline_span_omits_columns_and_stdin_omits_file(make) -> None:
    text = "First line ends\nhere on the next line."
    finding = make.finding(text, "ends\nhere", severity=Severity.ERROR)
    report = Report([make.document_report(text, "m.txt", [finding]), make.document_report(text, "-", [finding])])
    first, second = render(report, "github").splitlines()
    assert first.startswith("::error file=m.txt,line=1,endLine=2,title=P001 doubled-punctuation::")
    assert "col=" not in first and "endColumn=" not in first
    assert second.startswith("::error title=P001 doubled-punctuation::")
