"""Punctuation rules P001–P004 on sentences written for these tests."""

from __future__ import annotations

import pytest
from rule_testing import assert_registered, run, spans

from mtcheck.rules.punctuation import (
    DoubledPunctuation,
    MissingSpaceAfterSentence,
    SpaceBeforePunctuation,
    StrayPunctuation,
)


def test_rules_are_registered_with_metadata() -> None:
    assert_registered({"P001": "doubled-punctuation", "P002": "space-before-punctuation",
                       "P003": "missing-space-after-sentence", "P004": "stray-punctuation"})


# P001 doubled-punctuation --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "flagged", "fixed"),
    [
        ("The market closed early. .", " .", "The market closed early."),
        ("Farmers from Kano,, Kaduna and Jos came.", ",", "Farmers from Kano, Kaduna and Jos came."),
        ("The vote was close;; the count went on.", ";", "The vote was close; the count went on."),
        ("He said “enough.” . Then he left.", "” .", "He said “enough.” Then he left."),
    ],
)
def test_p001_flags_a_repeated_mark_and_its_fix_keeps_one(text: str, flagged: str, fixed: str) -> None:
    (finding,) = run(DoubledPunctuation(), text)
    assert text[finding.start : finding.end] == flagged
    assert text[: finding.start] + finding.suggestion + text[finding.end :] == fixed


@pytest.mark.parametrize(
    "clean",
    ["The numbers were... unclear.", "He paused... and went on.", "Really?! Yes.", "A, B and C."],
)
def test_p001_leaves_ellipses_and_single_marks_alone(clean: str) -> None:
    assert run(DoubledPunctuation(), clean) == []


# P002 space-before-punctuation ---------------------------------------------------------------

def test_p002_flags_each_space_before_a_mark() -> None:
    text = "The president said , in a statement , that talks would resume ."
    assert spans(SpaceBeforePunctuation(), text) == [" ,", " ,", " ."]
    assert [f.suggestion for f in run(SpaceBeforePunctuation(), text)] == [",", ",", "."]


@pytest.mark.parametrize(
    "clean",
    [
        "Growth was .5 percent.",                 # a number, not a mark
        "The train leaves at 10 :30 daily.",      # a time with a stray space is not this rule's
        "Wait ... the results are in.",           # an ellipsis
        ", and a line that opens with a mark.",   # nothing before it on the line
    ],
)
def test_p002_leaves_numbers_times_and_ellipses_alone(clean: str) -> None:
    assert run(SpaceBeforePunctuation(), clean) == []


# P003 missing-space-after-sentence -----------------------------------------------------------

def test_p003_flags_glued_sentences_and_suggests_the_space() -> None:
    text = "The talks ended.The leaders left!Nobody spoke."
    found = run(MissingSpaceAfterSentence(), text)
    assert [text[f.start : f.end] for f in found] == [".T", "!N"]
    assert [f.suggestion for f in found] == [". T", "! N"]


@pytest.mark.parametrize(
    "clean",
    [
        "Prices rose 3.5 percent.",
        "Read more at example.com today.",
        "Officials in the U.S.Army said so.",
        "Write to press@agency.Org for details.",
        "Details at news.site.Com are new.",
        "The talks ended. The leaders left.",
    ],
)
def test_p003_leaves_decimals_domains_abbreviations_and_addresses_alone(clean: str) -> None:
    assert run(MissingSpaceAfterSentence(), clean) == []


# P004 stray-punctuation ----------------------------------------------------------------------

def test_p004_flags_a_mark_that_opens_a_sentence() -> None:
    text = "The minister spoke.\n\n; And then they left.\n\n, the spokesman said."
    found = run(StrayPunctuation(), text)
    assert [text[f.start : f.end] for f in found] == [";", ","] and {f.suggestion for f in found} == {""}


@pytest.mark.parametrize("clean", ["...and then silence.", "The minister spoke. And then they left."])
def test_p004_leaves_ellipses_and_ordinary_sentences_alone(clean: str) -> None:
    assert run(StrayPunctuation(), clean) == []
