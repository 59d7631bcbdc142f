"""Long texts are checked in windows: the same findings, sentences and reports as a whole check
when nothing crosses a window, and memory bounded by the window (scripts/bench.py measures it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcheck import Checker
from mtcheck.config import Config
from mtcheck.findings import Report
from mtcheck.formats import render
from mtcheck.rules.base import all_rules
from mtcheck.windows import Outline, window_spans

NAMES = ("Anna Berg", "Omar Haddad", "Li Wei", "Marta Silva", "Jon Olsen", "Sara Cohen", "Ivan Petrov", "Aiko Sato",
         "Luis Ortega", "Nora Quinn", "Emil Novak", "Zara Khan")
VERBS = ("repaired", "painted", "inspected", "visited", "cleaned", "measured", "photographed", "sold", "rented",
         "insured", "designed", "guarded", "emptied")
THINGS = ("bridge", "library", "harbour", "stadium", "orchard", "bakery", "museum", "school", "clinic", "tower",
          "garage", "chapel", "market", "theatre")
FLAWS = ("", " the the", " ,", "")  # a repeated word (R003) or a space before a comma (P002) now and then


def article(paragraphs: int) -> str:
    """Paragraphs with no sentence like another (a window cannot see an earlier window's)."""
    out = []
    for i in range(paragraphs):
        name, verb, thing = NAMES[i % 12], VERBS[i % 13], THINGS[i % 14]
        out.append(f"{name} {verb}{FLAWS[i % 4]} {thing} number {i} in spring. It took {i + 2} weeks.")
    return "\n\n".join(out)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n\n!?”A"), max_size=400), st.integers(min_value=8, max_value=120))
def test_windows_cover_the_text_in_order_and_within_the_size(text: str, size: int) -> None:
    spans = window_spans(text, size)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(end - start <= size for start, end in spans)


def test_windows_cut_at_paragraph_breaks_first_then_lines_then_sentences() -> None:
    assert window_spans("aaaa bbbb\n\ncccc. Dddd\neeee", 16) == [(0, 11), (11, 26)]
    assert window_spans("aaaa bbbb\ncccc. Dddd eeee", 14) == [(0, 10), (10, 21), (21, 25)]
    assert window_spans("Aaaa bbbb. Cccc dddd eeee", 14) == [(0, 11), (11, 25)]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "html", "markdown", "github", "junit", "jsonl"])
def test_a_windowed_check_reports_what_a_whole_check_does(fmt: str) -> None:
    text = article(60)
    whole = Checker(Config(lm=False))
    windowed = Checker(Config(lm=False))
    windowed.window_chars = 1_000  # about fifteen paragraphs a window
    expected, got = whole.check(text), windowed.check(text)
    assert len(expected.findings) > 20
    assert isinstance(got.documents[0].document, Outline)
    assert [(f.code, f.start, f.end, f.message) for f in got.findings] == [
        (f.code, f.start, f.end, f.message) for f in expected.findings
    ]
    rules = all_rules()
    assert render(Report(got.documents), fmt, rules=rules) == render(Report(expected.documents), fmt, rules=rules)


def test_the_outline_gives_sentences_paragraphs_and_positions_like_a_document() -> None:
    text = article(30)
    whole = Checker(Config(lm=False)).check(text).documents[0].document
    windowed = Checker(Config(lm=False))
    windowed.window_chars = 500
    outline = windowed.check(text).documents[0].document
    assert len(outline.sentences) == len(whole.sentences)
    assert list(outline.sentences) == list(whole.sentences)
    assert outline.paragraphs == whole.paragraphs
    assert outline.sentence_at(700) == whole.sentence_at(700)
    assert outline.line_col(len(text) - 1) == whole.line_col(len(text) - 1)


def test_the_per_rule_cap_holds_across_windows() -> None:
    from mtcheck.pipeline import MAX_FINDINGS_PER_RULE

    text = "Ab.” " * (MAX_FINDINGS_PER_RULE + 500)
    checker = Checker(Config(lm=False, select=("Q001",)))
    checker.window_chars = 2_000
    findings = checker.check(text).findings
    assert len(findings) == MAX_FINDINGS_PER_RULE
    assert findings[-1].message.endswith(f"(This rule stopped after {MAX_FINDINGS_PER_RULE:,} findings in this document.)")


def test_progress_counts_every_character_of_short_and_long_texts() -> None:
    checker = Checker(Config(lm=False))
    checker.window_chars = 500
    long_text = "\n\n".join(f"Paragraph {i} tells the council's story again." for i in range(60))
    texts = [("One short text.", "a"), (long_text, "b"), ("Another short one.", "c")]
    calls: list[int] = []
    checker.check_many(texts, progress=calls.append)
    assert sum(calls) == sum(len(t) for t, _ in texts)
    assert len(calls) > 3  # the long text reported window by window, not once at its end
