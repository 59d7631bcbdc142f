"""Quote rules (Q family): pairing, apostrophes, truncation, spacing, empty and misdirected marks."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcheck.document import Document
from mtcheck.findings import Severity
from mtcheck.rules import quote_pairing
from mtcheck.rules.base import RuleContext, all_rules


def run(text: str, prefix: str = "Q") -> list[tuple[str, str, Severity]]:
    """(code, span text, severity) of every quote finding, spans checked against the text."""
    doc = Document.parse(text)
    found = []
    for code, cls in all_rules().items():
        if not code.startswith(prefix):
            continue
        for f in cls().check(doc, RuleContext()):
            assert 0 <= f.start < f.end <= len(text)
            found.append((f.code, text[f.start : f.end], f.severity))
    return sorted(found, key=lambda item: (text.find(item[1]), item[0]))


def codes(text: str) -> list[str]:
    return [code for code, _, _ in run(text)]


# --- rule metadata -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["Q001", "Q002", "Q003", "Q004", "Q005", "Q006"])
def test_every_quote_rule_is_registered_with_docs(code: str) -> None:
    cls = all_rules()[code]
    assert cls.slug and cls.summary and isinstance(cls.severity, Severity)
    assert "Bad:" in cls.description() and "Good:" in cls.description()


# --- clean text: no findings ---------------------------------------------------------------


def test_correctly_paired_curly_quotes_are_clean() -> None:
    text = (
        "The mayor called the plan “bold and overdue,” then added: “We start in May.” "
        "Critics said it was “rushed.”"
    )
    assert run(text) == []


def test_apostrophes_are_not_quotes() -> None:
    text = (
        "The senator's aide said don't panic, it's only rock 'n' roll from the '90s, "
        "and the teachers' union agreed. Merkel’s team liked the ’80s and ’em; "
        "the minister‘s car was late."
    )
    assert run(text) == []


def test_single_quotes_pair_inside_double_quotes() -> None:
    assert run("“She told me ‘never again’ and walked out,” the driver said.") == []
    assert run("Headline: Minister 'will quit' over budget, aides say.") == []


def test_plural_possessive_inside_single_quoted_speech_is_clean() -> None:
    assert run("‘The farmers’ market reopens on Friday,’ the council said.") == []


def test_quotation_continued_over_paragraphs_is_not_unmatched() -> None:
    text = "“We will rebuild the bridge by spring.\n\n“Then we will start on the school,” she said."
    assert run(text) == []


def test_quotation_split_over_sentence_lines_is_not_unmatched() -> None:
    text = "“The harvest was poor this year.\nPrices will rise.\nWe must plan ahead.”\nThe farmer left."
    assert run(text) == []


def test_quotation_continued_over_sentence_lines_is_not_unmatched() -> None:
    # one sentence per line: the quotation runs on, then its next paragraph reopens it
    text = 'He said: "I would like to apologise for this.\nI did not mean it.\n"To my family I say sorry."\nHe left.'
    assert run(text) == []


def test_quotation_left_open_before_blank_line_paragraphs_is_still_unmatched() -> None:
    text = '"I would like to apologise for this.\n\nI did not mean it.\n\n"To my family I say sorry."'
    assert [code for code, _, _ in run(text)] == ["Q002"]


def test_nested_straight_double_quotes_pair() -> None:
    assert run('"Nobody here would "betray" a friend," the coach said.') == []


def test_inch_marks_after_digits_are_not_quotes() -> None:
    assert run('The shop sold a 65" television.') == []
    assert run('"Buy the 14" model," he said.') == []


# --- Q001 unmatched closing quote ---------------------------------------------------------


def test_closing_mark_without_opener_is_q001() -> None:
    text = "The ministry said the talks were productive.” Officials then left."
    assert run(text) == [("Q001", "”", Severity.ERROR)]


def test_straight_quote_pairing_blames_the_out_of_place_mark() -> None:
    # The first '"' hugs the word before it, so it is the stray one, not the last.
    text = 'The union said the offer was fair" and "a step forward."'
    found = run(text)
    assert [code for code, _, _ in found] == ["Q001"]
    assert text.index('"') == text.find(found[0][1])


def test_double_quote_used_as_possessive_apostrophe_is_flagged_with_fix() -> None:
    doc = Document.parse('The rivals" fans cheered all night.')
    findings = list(all_rules()["Q001"]().check(doc, RuleContext()))
    assert [(f.code, doc.text[f.start : f.end], f.suggestion) for f in findings] == [("Q001", '"', "'")]


# --- Q002 unmatched opening quote ---------------------------------------------------------


def test_opener_never_closed_is_q002() -> None:
    text = "“We will return next year. The festival then ended.\n\nVisitors went home."
    assert run(text) == [("Q002", "“", Severity.ERROR)]


def test_last_straight_opener_is_the_unmatched_one() -> None:
    text = '"It works," the engineer said, calling the test "a clear success.'
    found = run(text)
    assert [code for code, _, _ in found] == ["Q002"]
    assert found[0][1] == '"'


def test_unmatched_curly_single_opener_is_q002() -> None:
    assert run("He called the vote ‘a disaster for the town. Nobody agreed.") == [("Q002", "‘", Severity.ERROR)]


def test_unmatched_straight_single_is_left_alone() -> None:
    assert run("Fans shouted 'go on and the band played.") == []


# --- Q003 space before closing quote ------------------------------------------------------


def test_space_before_closing_curly_quote_is_q003() -> None:
    text = "She called the meeting “long but useful. ” Then she left."
    assert run(text) == [("Q003", " ”", Severity.WARNING)]


def test_spaced_straight_quotes_are_q003_once() -> None:
    text = 'They use the term " dark matter " loosely.'
    assert run(text) == [("Q003", ' "', Severity.WARNING)]


# --- Q004 truncated quotation ---------------------------------------------------------------


def test_closing_mark_after_colon_and_lowercase_is_truncated() -> None:
    text = "Rejecting the report, the agency added: to any outside review. ”"
    assert run(text) == [("Q004", "to any outside review. ”", Severity.ERROR)]


def test_truncation_with_straight_quote_and_reporting_verb() -> None:
    text = 'The coach said, and the young players in particular."'
    assert run(text) == [("Q004", 'and the young players in particular."', Severity.ERROR)]


def test_missing_opener_before_full_sentence_is_q001_not_q004() -> None:
    assert codes("The agency added: We reject any outside review.”") == ["Q001"]


def test_paired_quote_starting_mid_clause_after_colon_is_a_warning() -> None:
    assert run("The minister said: “to the farmers of the north.”") == [
        ("Q004", "“to the farmers of the north.”", Severity.WARNING)
    ]


def test_partial_quotes_in_running_text_are_not_truncated() -> None:
    text = "She said the food was “to die for” and argued, “Nobody cooks like this.”"
    assert run(text) == []


def test_truncated_line_is_not_absorbed_by_an_earlier_open_quote() -> None:
    text = "He said “we will see.\nThe ministry added: to foreign pressure.”\nOfficials left."
    assert codes(text) == ["Q002", "Q004"]


# --- Q005 empty quotation -----------------------------------------------------------------


@pytest.mark.parametrize("empty", ["“”", '" "', "‘’", "“ ”"])
def test_empty_quotations_are_q005(empty: str) -> None:
    text = f"The sign read {empty} and nothing more."
    assert run(text) == [("Q005", empty, Severity.WARNING)]


def test_adjacent_quotations_are_not_empty() -> None:
    assert run('Two words were banned: "cheap" "fast" and others.') == []


# --- Q006 misdirected quote -----------------------------------------------------------------


def test_opening_mark_used_to_close_is_q006() -> None:
    assert run("The band's album “Echoes“ sold well.") == [("Q006", "“", Severity.WARNING)]


def test_closing_mark_used_to_open_is_q006_with_its_space() -> None:
    doc = Document.parse("” We will stay,” the tenants said.")
    findings = list(all_rules()["Q006"]().check(doc, RuleContext()))
    assert [(doc.text[f.start : f.end], f.suggestion) for f in findings] == [("” ", "“")]



@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["said", "Added", "unsaid", " ", "\n", ",", ":", "x", "ok"]), max_size=30).map("".join))
def test_introducer_ends_are_where_the_plain_pattern_ends(text: str) -> None:
    plain = re.compile(r":\s+|\b(?:" + quote_pairing.REPORTING_VERBS + r")\s*,\s+", re.IGNORECASE)
    assert set(quote_pairing.introducer_ends(text, 0, len(text))) == {m.end() for m in plain.finditer(text)}


def _plain_solve(doubles, start_open, end_free):  # type: ignore[no-untyped-def]
    """The pairing's dynamic programme with absolute costs and a table per mark: what the shared
    relative steps of quote_pairing._solve must reproduce exactly."""
    q = quote_pairing
    layers = [{1 if start_open else 0: (0.0, None)}]
    for d in doubles:
        nxt = {}
        for depth, (cost, _) in layers[-1].items():
            moves = []
            if depth < q.MAX_DEPTH:
                moves.append((depth + 1, cost + d.open_cost + (q.NEST_COST if depth else 0.0), q.OPEN))
            if depth:
                moves.append((depth - 1, cost + d.close_cost, q.CLOSE))
                if d.continues:
                    moves.append((depth, cost + q.CONTINUE_COST + d.open_cost, q.CONTINUE))
                moves.append((depth, cost + q.UNMATCHED + d.open_cost, q.ABANDON))
            if d.inch:
                moves.append((depth, cost + q.INCH_COST, q.INCH))
            moves.append((depth, cost + q.UNMATCHED, q.SKIP))
            for state, total, action in moves:
                if total < (nxt[state][0] if state in nxt else q.INF):
                    nxt[state] = (total, (depth, action))
        layers.append(nxt)
    ends = {d: c + q.UNMATCHED * max(0, d - end_free) for d, (c, _) in layers[-1].items()}
    state = min(ends, key=lambda s: (ends[s], -s))
    total, actions = ends[state], []
    for layer in reversed(layers[1:]):
        state, action = layer[state][1]
        actions.append(action)
    return total, actions[::-1]


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(['"', "“", "”", "«", "»", " ", "a", ".", ",", "5", "(", ":"]), max_size=60).map("".join),
    st.booleans(),
    st.booleans(),
)
def test_shared_pairing_steps_choose_what_the_plain_programme_chooses(text: str, start_open: bool, end_free: bool) -> None:
    doubles = quote_pairing._doubles(text, 0, len(text))
    assert quote_pairing._solve(doubles, start_open, end_free) == _plain_solve(doubles, start_open, end_free)
