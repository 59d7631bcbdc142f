"""html: one self-contained, well-formed, escaped page with every span marked in place."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from mtcheck.findings import Finding, Report, Severity
from mtcheck.formats import render
from mtcheck.formats.base import visible_controls
from mtcheck.formats.html_report import Interval, nest

VOID = {"meta", "br", "input", "img", "link", "hr", "wbr"}
HIDDEN_CLASSES = {"tip", "caret", "sr-only"}


class Page(HTMLParser):
    """Checks nesting and collects the article text and each finding's marked text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.article_text: list[str] = []  # one string per article
        self.marked: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "article":
            self.article_text.append("")
        if tag not in VOID:
            self.stack.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"unexpected </{tag}> with open {[t for t, _ in self.stack]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        open_tags = [t for t, _ in self.stack]
        if "article" not in open_tags:
            return
        if any(set(a.get("class", "").split()) & HIDDEN_CLASSES for _, a in self.stack):
            return
        self.article_text[-1] += data
        for tag, attributes in self.stack:
            if tag == "mark" and "data-finding" in attributes:
                key = attributes["data-finding"]
                self.marked[key] = self.marked.get(key, "") + data


def parse(out: str) -> Page:
    page = Page()
    page.feed(out)
    page.close()
    assert not page.errors, page.errors
    assert not page.stack, f"unclosed: {page.stack}"
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    return page


def test_page_is_self_contained_and_accessible(harbour: Report) -> None:
    out = render(harbour, "html")
    assert out.startswith("<!DOCTYPE html>") and '<html lang="en">' in out
    assert not re.search(r"""(src|href)=["'](https?:)?//""", out)  # no external assets
    assert "<link" not in out and "@import" not in out
    assert "{{" not in out
    page = parse(out)
    names = [t for t, _ in page.tags]
    assert names.count("h1") == 1 and "h2" in names
    assert out.count("<style>") == 1 and out.count("<script>") == 1


def test_marks_cover_exactly_their_spans(harbour: Report, make) -> None:
    page = parse(render(harbour, "html"))
    text = make.HARBOUR
    assert len(page.marked) == 3
    for number, f in enumerate(harbour.documents[0].findings, 1):
        assert page.marked[str(number)] == text[f.start : f.end]
    # the article shows every paragraph's text, unaltered
    for paragraph in harbour.documents[0].document.paragraphs:
        assert paragraph.text in page.article_text[0]


def test_mark_attributes_tooltip_and_side_list(harbour: Report) -> None:
    page = parse(render(harbour, "html"))
    marks = {a["id"]: a for t, a in page.tags if t == "mark" and "id" in a}
    first = marks["finding-1"]
    assert first["class"] == "finding sev-warning"
    assert first["data-code"] == "P001" and first["data-family"] == "punctuation"
    assert first["tabindex"] == "0" and first["aria-describedby"] == "tip-1"
    assert "tip-1" in page.ids
    links = [a["href"] for t, a in page.tags if t == "a" and a.get("href", "").startswith("#finding-")]
    assert links == ["#finding-1", "#finding-2", "#finding-3"]
    items = [a for t, a in page.tags if t == "li" and "data-severity" in a]
    assert [i["data-severity"] for i in items] == ["warning", "error", "info"]


def test_severity_is_in_words_not_colour_only(harbour: Report) -> None:
    out = render(harbour, "html")
    assert "▲ Warning" in out and "✖ Error" in out and "ℹ Info" in out
    assert "→ Suggestion: delete “.”" in out


def test_filters_cover_present_severities_and_families(harbour: Report) -> None:
    page = parse(render(harbour, "html"))
    boxes = [(a["data-filter"], a["value"]) for t, a in page.tags if t == "input" and "data-filter" in a]
    assert boxes == [
        ("severity", "error"),
        ("severity", "warning"),
        ("severity", "info"),
        ("family", "other"),
        ("family", "punctuation"),
    ]
    form = next(a for t, a in page.tags if t == "form")
    assert "hidden" in form  # shown by the script; without it the page is still complete


def test_sentence_fluency_is_a_title_and_shade(harbour: Report) -> None:
    page = parse(render(harbour, "html"))
    sentences = [a for t, a in page.tags if t == "span" and a.get("class") == "sentence"]
    assert len(sentences) == len(harbour.documents[0].sentences)
    assert sentences[0]["title"] == "Sentence fluency 0.900"
    assert sentences[0]["style"] == "--low: 0.100"  # fluency 0.9 on a 0..1 scale is 0.1 low
    assert 'id="show-fluency"' in render(harbour, "html")


def test_everything_is_escaped(markup: Report) -> None:
    out = render(markup, "html")
    assert "<script>alert" not in out and "<b>bold" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "we&lt;ird&gt;&amp;,name:.txt" in out
    page = parse(out)
    assert page.marked["1"] == "<script>alert(1)</script>"
    assert markup.documents[0].document.text in page.article_text[0]


def test_overlapping_and_nested_spans_are_split_into_well_formed_pieces(make) -> None:
    text = "Alpha beta gamma delta epsilon."
    a = make.finding(text, "beta gamma", "R001", "x", Severity.ERROR)
    b = make.finding(text, "gamma delta", "R002", "y", Severity.WARNING)  # crosses a
    c = make.finding(text, "gamma", "R003", "z", Severity.INFO)  # inside both
    d = make.finding(text, "Alpha beta gamma delta epsilon.", "G001", "w", Severity.INFO)  # around all
    report = Report([make.document_report(text, "o.txt", [a, b, c, d])])
    page = parse(render(report, "html"))
    numbers = {f.code: str(i) for i, f in enumerate(sorted([a, b, c, d], key=lambda f: (f.start, f.end, f.code)), 1)}
    for f in (a, b, c, d):
        assert page.marked[numbers[f.code]] == text[f.start : f.end]
    ids = [x["id"] for t, x in page.tags if t == "mark" and "id" in x]
    assert len(ids) == 4  # one id per finding, even when split
    continued = [x for t, x in page.tags if t == "mark" and "continued" in x.get("class", "")]
    assert continued and all("title" in x and "id" not in x for x in continued)


def test_zero_length_finding_is_an_insertion_mark(make) -> None:
    text = "First sentence here.\n\nSecond paragraph without end"
    end = len(text)
    report = Report([make.document_report(text, "z.txt", [Finding("Q001", "q", Severity.WARNING, end, end, "Missing.", ".")])])
    out = render(report, "html")
    page = parse(out)
    assert page.marked.get("1", "") == ""
    assert re.search(r'without end<mark class="finding sev-warning insertion" id="finding-1"', out)
    assert out.index('id="finding-1"') < out.index("</p>", out.index("without end", out.index("<article")))  # inside the paragraph


def test_multiple_documents_get_sections_and_unique_ids(multi: Report) -> None:
    out = render(multi, "html")
    page = parse(out)
    sections = [a["id"] for t, a in page.tags if t == "section"]
    assert sections == ["doc-1", "doc-2", "doc-3"]
    assert len(page.article_text) == 3
    assert '<a href="#doc-3">&lt;stdin&gt;</a>' in out
    assert "finding-4" in page.ids
    assert "No findings." in out


def test_crlf_and_unicode_text(make) -> None:
    text = "Ünïcode 🚢 line , one.\r\nSecond\tline with 汉字 , too.\r\n"
    findings = [make.finding(text, " ,"), make.finding(text, " ,", occurrence=1)]
    report = Report([make.document_report(text, "ü.txt", findings)])
    out = render(report, "html")
    page = parse(out)
    assert page.marked == {"1": " ,", "2": " ,"}
    assert "🚢" in out and "汉字" in out and "ü.txt" in out
    assert "\r\n" in page.article_text[0]  # kept; CSS pre-wrap shows the line break


def test_control_characters_become_visible(make) -> None:
    text = "Bell \x07 here , ok."
    report = Report([make.document_report(text, "c.txt", [make.finding(text, "\x07 here")])])
    out = render(report, "html")
    assert "\x07" not in out
    assert parse(out).marked["1"] == visible_controls("\x07 here")


def test_empty_report_and_empty_document() -> None:
    out = render(Report(), "html")
    parse(out)
    assert "0 findings" in out
    from mtcheck.document import Document
    from mtcheck.findings import DocumentReport

    out = render(Report([DocumentReport(Document.parse("", "e.txt"))]), "html")
    assert "(empty document)" in parse(out).article_text[0]


def test_template_slots_in_text_are_not_filled(make) -> None:
    text = "A text that mentions {{js}} and {{css}} , literally."
    report = Report([make.document_report(text, "{{title}}.txt", [make.finding(text, " ,")])])
    out = render(report, "html")
    assert out.count("{{js}}") == 1 and out.count("{{css}}") == 1 and "{{title}}.txt" in out
    assert out.count("<script>") == 1


def test_nest_splits_crossing_intervals() -> None:
    intervals = [Interval(2, 0, 4, 1, "<a>", "</a>"), Interval(2, 2, 6, 2, "<b>", "</b>", "<b2>")]
    assert nest("abcdef", intervals, []) == "<a>ab<b>cd</b></a><b2>ef</b>"
    assert nest("ab&", [], [(3, "<i/>"), (0, "<s/>")]) == html.escape("ab&").join(["<s/>", "<i/>"])


def test_repeated_findings_of_one_rule_on_one_word_are_one_list_entry() -> None:
    from mtcheck import Checker
    from mtcheck.config import Config

    text = "China said President Xi met Putin in Moscow on Friday. Later, officials said XI was pleased. Reporters said XI flew home."
    out = render(Checker(Config(lm=False)).check(text, "xi.txt"), "html")
    side_list = out[out.index('<aside class="finding-list"') :]
    entries = [chunk for chunk in side_list[: side_list.index("</aside>")].split("<li ")[1:] if "C001" in chunk]
    assert len(entries) == 1 and "2 places:" in entries[0]
    assert 'href="#finding-1"' in entries[0] and 'href="#finding-2"' in entries[0]  # each place links to its mark
    assert out.count('<mark class="finding') == 2


def test_copy_corrected_text_holds_the_text_with_every_suggestion_applied() -> None:
    import re

    from mtcheck import Checker
    from mtcheck.config import Config

    text = "Farmers said the the harvest was late. . Prices rose.\n\nNo fix here."
    out = render(Checker(Config(lm=False)).check(text, "fix.txt"), "html")
    button = re.search(r'<button type="button" class="copy-corrected"[^>]*hidden>([^<]*)</button>', out)
    assert button and "2 suggestions applied" in button.group(1)  # shown by report.js, absent without it
    stored = re.search(r'<textarea id="corrected-1" class="corrected-text" readonly hidden>(.*?)</textarea>', out, re.S)
    assert html.unescape(stored.group(1)) == "Farmers said the harvest was late. Prices rose.\n\nNo fix here."
    clean = render(Checker(Config(lm=False)).check("Nothing to fix here.", "clean.txt"), "html")
    assert "copy-corrected" not in clean.split("<body", 1)[1].split("<script", 1)[0]
