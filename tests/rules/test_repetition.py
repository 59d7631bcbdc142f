"""Repetition rules R001–R004 on sentences written for these tests."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rule_testing import assert_registered, run, spans

from mtcheck.document import Document
from mtcheck.rules.base import RuleContext
from mtcheck.rules.repetition import (
    COORDINATORS,
    DuplicateSentence,
    NearDuplicateSentence,
    RepeatedCoordinatedPhrase,
    RepeatedWord,
    _coordinator_words,
    is_comparative,
    sentence_tokens,
)


def test_rules_are_registered_with_metadata() -> None:
    assert_registered({"R001": "duplicate-sentence", "R002": "near-duplicate-sentence", "R003": "repeated-word", "R004": "repeated-coordinated-phrase"})
# R001 duplicate-sentence ------------------------------------------------------------------

DUPLICATE = (
    "The harbour reopened after the storm passed.\n"
    "Fishing boats returned by noon.\n"
    "The harbour reopened after the storm passed."
)


def test_r001_flags_second_occurrence_and_says_how_far_back_the_first_is() -> None:
    findings = run(DuplicateSentence(), DUPLICATE)
    assert len(findings) == 1
    f = findings[0]
    assert DUPLICATE[f.start : f.end] == "The harbour reopened after the storm passed."
    assert f.start == DUPLICATE.rindex("The harbour")
    back = sum(1 for s in Document.parse(DUPLICATE).sentences if s.start < f.start)
    assert f"the one {back} sentences before it" in f.message or (back == 1 and "just before it" in f.message)


def test_r001_points_back_in_sentences_so_a_gate_document_gets_it_right() -> None:
    # joined corpus segments (lines 1 and 3 of a file, a document of its own): no line numbers
    findings = run(DuplicateSentence(), "The storm closed the port for days.\nIt reopened on Monday.\nThe storm closed the port for days.")
    assert [f.message for f in findings] == ["This sentence repeats the one 2 sentences before it word for word; delete one of them."]


def test_r001_ignores_case_punctuation_and_spacing() -> None:
    text = "Rain is expected across the north tonight. Winds will ease. RAIN is expected  across the north, tonight!"
    assert spans(DuplicateSentence(), text) == ["RAIN is expected  across the north, tonight!"]


def test_r001_short_sentences_may_repeat() -> None:
    assert spans(DuplicateSentence(), "Thank you all. The vote passed. Thank you all.") == []


def test_r001_distinct_sentences_are_not_flagged() -> None:
    text = "The bridge closed on Monday for repairs. The bridge reopened on Friday after repairs."
    assert spans(DuplicateSentence(), text) == []


def test_r001_third_copy_also_points_at_first() -> None:
    sentence = "Officials counted the ballots twice over."
    text = f"{sentence}\n\nNo fraud was found anywhere.\n\n{sentence}\n\n{sentence}"
    findings = run(DuplicateSentence(), text)
    assert len(findings) == 2
    assert [f.message.split(" word")[0] for f in findings] == [
        "This sentence repeats the one 2 sentences before it", "This sentence repeats the one 3 sentences before it"
    ]


# One segment per line, most of them sentences (so each line is a paragraph of its own), with a
# heading line repeated or nearly repeated: a product page's, not a translation's, repetition.
PRODUCT_LINES = [
    "The mouse has silent buttons.", "It runs for a year on one battery.", "The shape suits either hand.",
    "It connects without a driver.", "The keyboard matches it.", "Both come in grey.", "Returns are free for a month.",
    "Stock is limited.",
]


@pytest.mark.parametrize(
    "rule, heading, again",
    [
        (DuplicateSentence(), "Free delivery on all orders over 20 euros", "Free delivery on all orders over 20 euros"),
        (NearDuplicateSentence(), "Soft cotton shirt in three colours for everyday wear",
         "Soft cotton shirt in four colours for everyday wear"),
    ],
)
def test_repeat_of_a_heading_line_is_not_a_duplicate(rule, heading: str, again: str) -> None:
    listing = "\n".join([heading, *PRODUCT_LINES[:4], again, *PRODUCT_LINES[4:]])
    assert len(Document.parse(listing).paragraphs) == 10
    assert spans(rule, listing) == []


def test_r001_unpunctuated_repeat_inside_a_paragraph_is_still_flagged() -> None:
    text = "Free delivery on all orders over 20 euros. Prices fell. Free delivery on all orders over 20 euros"
    assert spans(DuplicateSentence(), text) == ["Free delivery on all orders over 20 euros"]


def test_r001_respects_allowlist() -> None:
    text = "Stay tuned for more updates here. Markets fell. Stay tuned for more updates here."
    assert spans(DuplicateSentence(), text, allow=("Stay tuned for more updates here.",)) == []


# R002 near-duplicate-sentence -------------------------------------------------------------

NEAR_A = "The regional council said the new road would open to traffic next spring."
NEAR_B = "The regional council said that the new road will open to traffic next spring."


def test_r002_flags_near_copy() -> None:
    text = f"{NEAR_A} Residents welcomed the plan. {NEAR_B}"
    findings = run(NearDuplicateSentence(), text)
    assert [text[f.start : f.end] for f in findings] == [NEAR_B]
    assert findings[0].score is not None and findings[0].score >= 0.85


def test_r002_leaves_exact_copies_to_r001() -> None:
    assert spans(NearDuplicateSentence(), f"{NEAR_A} {NEAR_A}") == []


def test_r002_different_sentences_with_shared_words_pass() -> None:
    text = (
        "The regional council said the new road would open to traffic next spring. "
        "The regional council rejected the plan for a new rail line along the coast."
    )
    assert spans(NearDuplicateSentence(), text) == []


def test_r002_short_sentences_are_ignored() -> None:
    assert spans(NearDuplicateSentence(), "There is no sign of it. There is no sign of that.") == []


def test_r002_flags_across_paragraphs() -> None:
    text = (
        "Heavy rain flooded several streets in the old town overnight, officials said.\n\n"
        "Schools stayed open.\n\n"
        "Heavy rains flooded several streets in the old town overnight, the officials said."
    )
    assert len(run(NearDuplicateSentence(), text)) == 1


def test_r002_respects_allowlist() -> None:
    text = f"{NEAR_A} {NEAR_B}"
    assert spans(NearDuplicateSentence(), text, allow=(NEAR_B,)) == []


# R003 repeated-word -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The talks between the the two sides stalled.", [" the"]),
        ("A report of of the committee was leaked.", [" of"]),
        ("The The committee met on Tuesday.", [" The"]),
        ("Prices rose in in March and fell in April.", [" in"]),
    ],
)
def test_r003_flags_doubled_word(text: str, expected: list[str]) -> None:
    findings = run(RepeatedWord(), text)
    assert [text[f.start : f.end] for f in findings] == expected
    assert all(f.suggestion == "" for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "She had had enough of the delays.",
        "He argued that that decision was wrong.",
        "The score was 10 10 at the break.",
        "They waved bye bye to the crowd.",
        "The team flew to Walla Walla on Friday.",
        "The vote, the count, the result: all were challenged.",
        "What the problem is is a lack of money.",
        "Officers led by General K K Rao arrived.",
    ],
)
def test_r003_allows_legitimate_doubles(text: str) -> None:
    assert spans(RepeatedWord(), text) == []


def test_r003_span_is_second_word_with_space() -> None:
    text = "We saw the\nthe river rise."
    (f,) = run(RepeatedWord(), text)
    assert text[f.start : f.end] == "\nthe"
    assert f.start == text.index("the") + 3


def test_r003_respects_allowlist() -> None:
    assert spans(RepeatedWord(), "They sang the the song.", allow=("the",)) == []


# R004 repeated-coordinated-phrase ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The two countries stayed loyal through thick and thick.", ["thick"]),
        ("The border was long, hot and hot in summer.", ["hot"]),
        ("Delegates from Chile, Peru and Chile signed the pact.", ["Chile"]),
        ("You can pay by cash or cash at the desk.", ["cash"]),
        ("The plan was bold and new, or bold and new at least on paper.", ["bold and new"]),
        ("Voters wanted clean water and clean water alone.", ["clean water"]),
        ("The ministry invited Spain, France, and Spain.", ["Spain"]),
    ],
)
def test_r004_flags_repeated_conjunct(text: str, expected: list[str]) -> None:
    assert spans(RepeatedCoordinatedPhrase(), text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The alarm rang again and again during the night.",
        "More and more families are leaving the valley.",
        "The crowd grew bigger and bigger as the day went on.",
        "Prices climbed higher and higher through the winter.",
        "She has lived there for years and years.",
        "The two candidates are neck and neck in the polls.",
        "They talked and talked until dawn.",
        "He put two and two together.",
        "Exports to Chile, Peru and Chile's neighbours rose.",
        "The rate rose from 3 and 3 percent.",
    ],
)
def test_r004_allows_reduplicative_idioms(text: str) -> None:
    assert spans(RepeatedCoordinatedPhrase(), text) == []


def test_r004_message_names_the_conjunction() -> None:
    (f,) = run(RepeatedCoordinatedPhrase(), "The soup was thin and thin.")
    assert "'and'" in f.message and "thin" in f.message


def test_r004_respects_allowlist() -> None:
    assert spans(RepeatedCoordinatedPhrase(), "It was thin and thin.", allow=("thin",)) == []


def test_is_comparative() -> None:
    assert is_comparative("bigger") and is_comparative("easier") and is_comparative("closer")
    assert not is_comparative("water") and not is_comparative("thin")


@pytest.mark.parametrize(
    "text",
    [
        "He met the mayor, the judge and the mayor of the next town.",
        "Reporters from Chile, Peru and Chile Daily attended.",
        "The ratio was linked to Tpe, Tpe/QT and Tpe/QTc in both groups.",
        "Surgery was performed on the patient and the patient was discharged.",
        "The insurer studied risk and risk-based pricing.",
    ],
)
def test_r004_list_item_that_goes_on_is_not_a_repeat(text: str) -> None:
    assert spans(RepeatedCoordinatedPhrase(), text) == []


def test_r002_candidate_filter_loses_no_pair_against_brute_force() -> None:
    import difflib
    import random

    rng = random.Random(7)
    vocabulary = "river town council bridge road storm harbour market school farmer the a of to in".split()
    base = [[rng.choice(vocabulary) for _ in range(rng.randint(8, 14))] for _ in range(12)]
    sentences = []
    for words in base:
        sentences.append(words)
        mutated = list(words)
        mutated[rng.randrange(len(mutated))] = rng.choice(vocabulary)
        sentences.append(mutated)
    text = " ".join(" ".join(words).capitalize() + "." for words in sentences)
    doc = Document.parse(text)
    rule = NearDuplicateSentence()
    expected = set()
    tokens = [[w.text.lower() for w in s.words] for s in doc.sentences]
    for j, later in enumerate(tokens):
        if any(
            other != later and difflib.SequenceMatcher(None, other, later, autojunk=False).ratio() >= rule.THRESHOLD
            for other in tokens[:j]
        ):
            expected.add(doc.sentences[j].start)
    assert expected, "the generator should produce near-duplicates"
    assert {f.start for f in rule.check(doc, RuleContext())} == expected


def test_r004_clauses_separated_by_commas_are_not_a_list() -> None:
    text = "As you can see, the image is a little blurred, and you can see that the waves spread."
    assert spans(RepeatedCoordinatedPhrase(), text) == []


def test_r004_list_after_an_introductory_clause() -> None:
    text = "After months of hard talks in the capital, Chile, Peru and Chile signed."
    assert spans(RepeatedCoordinatedPhrase(), text) == ["Chile"]


def test_r004_parallel_adverbials_are_not_a_repeated_item() -> None:
    text = "The chain folds into any shape, so in this case, a ring, or in this case, two cubes."
    assert spans(RepeatedCoordinatedPhrase(), text) == []


@given(st.lists(st.sampled_from(["and", "AND", "Or", "or", "oR", "band", "rock-and-roll", "_and", "and_", "and’s", "ör", " ", ". ", "\n\n", "x", "1"]), max_size=30).map("".join))
def test_coordinators_found_by_pattern_are_the_words_that_are_coordinators(text: str) -> None:
    # One pattern over the text against the plain definition: every word whose lower case is a coordinator.
    doc = Document.parse(text)
    plain = [(s.index, i) for s in doc.sentences for i, w in enumerate(s.words) if w.text.lower() in COORDINATORS]
    assert [(s.index, i) for s, i in _coordinator_words(doc)] == plain


@given(st.lists(st.sampled_from(["ΟΔΟΣ", "Σ", "ʰΣ", "ΣΑ", "İ", "ß", "Ǆ", "it’s", "O'Neil", "x", "1", " ", "-", ". "]), max_size=30).map("".join))
@example("ΟΔΟΣ ΣΑ ʰΣ ΑΣ-ΑΣ.")
def test_sentence_tokens_lower_case_each_word_on_its_own(text: str) -> None:
    # Lower-casing the joined words must equal lower-casing each word (final sigma included).
    for sentence in Document.parse(text).sentences:
        assert sentence_tokens(sentence) == [w.text.lower().replace("’", "'") for w in sentence.words]
