"""Casing rules C001–C002 on documents written for these tests."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rule_testing import assert_registered, run, spans

from mtcheck.document import Document
from mtcheck.rules.casing import (
    CAPITAL_PAIR,
    DATELINE,
    DocumentCasing,
    InconsistentNameCase,
    UnexpectedAllCaps,
    is_capitals_headline,
    is_roman_numeral,
)

# The first sentence of a document is treated as headline and lead, so each test starts with one.
LEAD = "Talks on the new trade pact resumed in the capital on Monday.\n\n"


def test_rules_are_registered_with_metadata() -> None:
    assert_registered({"C001": "inconsistent-name-case", "C002": "unexpected-all-caps"})
# C001 inconsistent-name-case --------------------------------------------------------------


def test_c001_flags_all_caps_variant_of_a_name_even_when_it_is_the_majority() -> None:
    text = LEAD + (
        "The delegation met President Lula in the morning. "
        "LULA said the pact was fair. Later LULA left for the airport. LULA did not comment."
    )
    findings = run(InconsistentNameCase(), text)
    assert [text[f.start : f.end] for f in findings] == ["LULA", "LULA", "LULA"]
    assert all(f.suggestion == "Lula" for f in findings)


def test_c001_flags_lost_inner_capital() -> None:
    text = LEAD + (
        "Senator McAllister opposed the deal. Aides to McAllister said so twice. "
        "Mcallister later softened his tone."
    )
    findings = run(InconsistentNameCase(), text)
    assert [text[f.start : f.end] for f in findings] == ["Mcallister"]
    assert findings[0].suggestion == "McAllister"


def test_c001_single_mixed_against_single_title_is_not_evidence() -> None:
    # "Operation Beacon" and a family named "BeAcon" may both be right: one each proves nothing.
    text = LEAD + "The task force was called Operation Beacon after the late Anna BeAcon. Nothing else."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_sentence_initial_capitals_are_not_conflicts() -> None:
    text = LEAD + "The ministers met. They said the talks went well. the end came later."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_known_acronym_is_not_flagged() -> None:
    text = LEAD + "Officials from Nato met. NATO said the exercise would go ahead."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_abbreviation_defined_in_brackets_is_not_the_word() -> None:
    text = LEAD + "Staff used the Mini-International Interview (MINI) in every clinic. The Mini survey came later."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_name_in_capitals_outside_brackets_is_still_flagged() -> None:
    text = LEAD + "Staff met the Mini family in the clinic. Later MINI said it went well."
    assert spans(InconsistentNameCase(), text) == ["MINI"]


def test_c001_roman_numeral_after_a_name_is_fine() -> None:
    text = LEAD + "Premier Xi met the press. The museum shows a portrait of Louis XI in the hall."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_roman_numeral_after_a_title_is_still_the_name() -> None:
    text = LEAD + "Reporters asked Xi about trade. Later President XI answered."
    assert spans(InconsistentNameCase(), text) == ["XI"]


def test_c001_headline_in_capitals_is_left_alone() -> None:
    text = "LULA WINS THE VOTE IN BRASILIA\n\nVoters backed Lula on Sunday. The count ended late at night."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_dateline_in_capitals_is_left_alone() -> None:
    text = LEAD + "LIMA (Reuters) - Officials in Lima said the port would reopen on Friday."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_lead_in_capitals_of_the_opening_paragraphs_are_typography() -> None:
    # Newspapers set the first word of the lead in capitals; later paragraphs are text.
    text = "Barcelona to sell half the squad\n\nBARCELONA will be known as a selling club. Barcelona said so."
    assert spans(InconsistentNameCase(), text) == []
    later = "Barcelona to sell.\n\nThe club met.\n\nBARCELONA will be known as a selling club. Barcelona said so."
    assert spans(InconsistentNameCase(), later) == ["BARCELONA"]
    # Capitals followed by a capitalised word are not a lead-in ("XI Jinping").
    name = "Talks resumed.\n\nXI Jinping arrived. Then Xi spoke."
    assert spans(InconsistentNameCase(), name) == ["XI"]


def test_c001_no_title_case_evidence_no_flag() -> None:
    text = LEAD + "ORTEGA said the pact was fair. ORTEGA left."
    assert spans(InconsistentNameCase(), text) == []


def test_c001_respects_allowlist() -> None:
    text = LEAD + "Voters backed Lula on Sunday. LULA thanked them."
    assert spans(InconsistentNameCase(), text, allow=("LULA",)) == []


# C002 unexpected-all-caps -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("Officials said the PRESIDENT would travel to the coast.", ["PRESIDENT"]),
        ("The minister SAID the pact was final.", ["SAID"]),
        ("She signed THE agreement in the evening.", ["THE"]),
        ("The council will REVIEW the budget, and the review is due soon.", ["REVIEW"]),
    ],
)
def test_c002_flags_ordinary_word_in_capitals(sentence: str, expected: list[str]) -> None:
    assert spans(UnexpectedAllCaps(), LEAD + sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "The NATO summit opened in the afternoon.",
        "The US and the UN agreed on the text.",
        "The CEO of the firm resigned.",
        "COVID cases fell for a third week.",
        "A portrait of Queen Elizabeth II hangs in the hall.",
        "Stocks fell after the CARES Act expired.",
        "The audience laughed. (LAUGHTER) The speaker went on.",
        "The LIGO detector recorded a signal.",
        "The talks were ANGRY AND LONG, one delegate wrote.",
        "The FBI and the DHS declined to comment.",
        "The XKCD strip was shared widely.",
    ],
)
def test_c002_leaves_acronyms_numerals_and_names_alone(sentence: str) -> None:
    assert spans(UnexpectedAllCaps(), LEAD + sentence) == []


def test_c002_defers_to_c001_when_the_document_spells_the_name() -> None:
    text = LEAD + "Voters backed Lula on Sunday. Later LULA thanked them."
    assert spans(UnexpectedAllCaps(), text) == []
    assert spans(InconsistentNameCase(), text) == ["LULA"]


@pytest.mark.parametrize(
    "sentence",
    [
        "The sample held 254 students. RESULTS: There is a decrease in the number of cases.",
        "The road was closed.\nUPDATE: the road has reopened.",
    ],
)
def test_c002_label_before_a_colon_at_a_sentence_start_is_typography(sentence: str) -> None:
    assert spans(UnexpectedAllCaps(), LEAD + sentence) == []


def test_c002_capitals_before_a_colon_mid_sentence_are_still_flagged() -> None:
    assert spans(UnexpectedAllCaps(), LEAD + "The minister gave one REASON: the budget.") == ["REASON"]


def test_c002_first_sentence_is_headline_typography() -> None:
    assert spans(UnexpectedAllCaps(), "Villagers saw a BEAR near the school on Friday.") == []


def test_c002_suggests_lower_case_mid_sentence_and_capitalised_at_start() -> None:
    text = LEAD + "Officials said the PRESIDENT would travel. PRESIDENT or not, he stayed home."
    findings = run(UnexpectedAllCaps(), text)
    assert [f.suggestion for f in findings] == ["president", "President"]


def test_c002_respects_allowlist() -> None:
    text = LEAD + "Officials said the PRESIDENT would travel."
    assert spans(UnexpectedAllCaps(), text, allow=("PRESIDENT",)) == []


def test_is_roman_numeral() -> None:
    assert is_roman_numeral("XIV") and is_roman_numeral("II") and is_roman_numeral("XI")
    assert not is_roman_numeral("IIII") and not is_roman_numeral("LULA") and not is_roman_numeral("")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["WAR", "ÉTÉ", "Xi", "the", "A", "NATO", " ", "\n", "\r\n", "\r", ". "]), max_size=40).map("".join))
def test_headline_lines_found_by_the_quick_scan_are_every_line_that_qualifies(text: str) -> None:
    found = [line.span() for line, runs in DocumentCasing(Document.parse(text))._lines_with_capitals() if is_capitals_headline(line.group(), runs)]
    every_line = [m.span() for m in re.finditer(r"[^\r\n]+", text) if is_capitals_headline(m.group())]
    assert found == every_line


@given(
    st.lists(
        st.sampled_from(["war", "WAR", "Éte", "été", "Xi", "McDonald", "iPhone", "aBcD", "x", "日本", "ß", "İ", "ǅ", "²", "ª", "_", "1", "-", " ", "'"]),
        max_size=40,
    ).map("".join)
)
def test_capitalised_runs_are_the_letter_runs_that_are_not_lower_case(text: str) -> None:
    # The two range-led scans (runs opening with a capital; a capital after a-z, from which its
    # run is found) against the plain definition: every run of letters that is not lower case,
    # two letters or more.
    found = [m.span() for runs in DocumentCasing(Document.parse(text))._capitalised.values() for m in runs]
    plain = [m.span() for m in re.finditer(r"[^\W\d_]+", text) if len(m.group()) > 1 and not m.group().islower()]
    assert sorted(found) == plain


@given(st.lists(st.sampled_from(["WAR", "NATO", "Xi", "the", "A", "ÉTÉ", "7", " ", ", "]), max_size=60).map("".join))
def test_a_capitals_headline_is_read_only_as_far_as_needed(text: str) -> None:
    # Stopping once the words outnumber twice the capital runs must not change the answer.
    words = [w for w in re.findall(r"[^\W\d_]+", text) if len(w) >= 2]
    caps = sum(w.isupper() for w in words)
    assert is_capitals_headline(text) == (caps >= 3 and caps >= 0.5 * len(words))


@given(st.lists(st.sampled_from(["Ab", "AB", "ab", "Ab.", "AB:", "“", "(", " ", "\n\n", "Louis XIV", "President XI"]), max_size=30).map("".join))
def test_a_word_is_described_the_same_whenever_it_is_asked_for(text: str) -> None:
    # Tokens are worked out lazily, key by key; the capitals list and tokens_of must agree.
    casing = DocumentCasing(Document.parse(text))
    for token in casing.capitals:
        assert token in casing.tokens_of(token.key)
        assert text[token.start : token.end] == token.text


@given(st.lists(st.sampled_from(["NEW", "DELHI", "É", "Éx", "Ab", "ab", "x", "ß", "İ", "ǅ", "²", "_", "1", "(AP)", " ", "-", "--", "—", ", Calif.", "\n"]), max_size=40).map("".join))
@example("1NEW - x ÉDELHI -- y _AB — z NEW DELHI (AP) - it")
@settings(max_examples=300, deadline=None)
def test_range_led_patterns_match_as_the_plain_ones(text: str) -> None:
    # Leading with a character range and checking the class behind it changes no match.
    assert [m.span() for m in CAPITAL_PAIR.finditer(text)] == [m.span() for m in re.finditer(r"[^\W\d_a-z]{2,}", text)]
    plain_dateline = r"\b" + DATELINE.pattern.replace(r"[A-Z](?<!\w.)", "[A-Z]", 1)
    assert [m.span() for m in DATELINE.finditer(text)] == [m.span() for m in re.finditer(plain_dateline, text)]
