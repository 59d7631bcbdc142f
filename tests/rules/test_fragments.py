"""Fragment rules G001–G003 on sentences written for these tests."""

from __future__ import annotations

import pytest
from rule_testing import assert_registered, run, spans

from mtcheck.rules.fragments import (
    DanglingAttributionFragment,
    OrphanAttribution,
    VerblessFragment,
    is_verb,
)

LEAD = "The port authority announced a new schedule for cargo ships on Tuesday morning."
CONTEXT = "Wheat prices climbed for a third month after the harvest failed."


def test_rules_are_registered_with_metadata() -> None:
    assert_registered({"G001": "orphan-attribution", "G002": "verbless-fragment", "G003": "dangling-attribution-fragment"})
# G001 orphan-attribution ------------------------------------------------------------------


@pytest.mark.parametrize(
    "orphan",
    [
        "She said.",
        "They added.",
        "The spokesman said.",
        "Mr. Okafor noted.",
        "He also said.",
        "She told reporters.",
        "He said on Sunday.",
        "The agency said in a statement.",
        "According to the ministry.",
        "According to her.",
        "Officials said.",
    ],
)
def test_g001_flags_sentence_that_is_only_an_attribution(orphan: str) -> None:
    text = f"The river rose two metres overnight and flooded the lower town. {orphan} Rescue teams arrived."
    assert spans(OrphanAttribution(), text) == [orphan]


@pytest.mark.parametrize(
    "sentence",
    [
        "She said the river would fall by Friday.",
        "He said so.",
        "That is what he said.",
        "Nobody said.",
        "The head of the regional flood agency said.",
        "According to the ministry, the river will fall.",
        "He agreed.",
    ],
)
def test_g001_leaves_full_sentences_alone(sentence: str) -> None:
    text = f"The river rose two metres overnight and flooded the lower town. {sentence}"
    assert spans(OrphanAttribution(), text) == []


def test_g001_quoted_question_then_attribution_is_fine() -> None:
    text = "“Who will pay for the repairs?” Okafor said. The council did not answer."
    assert spans(OrphanAttribution(), text) == []


def test_g001_attribution_after_full_stop_quote_is_flagged() -> None:
    text = "“We will rebuild the bridge.” Okafor said. The council agreed."
    assert spans(OrphanAttribution(), text) == ["Okafor said."]


def test_g001_respects_allowlist() -> None:
    text = "Prices rose. He said."
    assert spans(OrphanAttribution(), text, allow=("He said.",)) == []


# G002 verbless-fragment -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "Drought in the south.",
        "The second time this year.",
        "A new setback for farmers.",
        "Crisis at the border.",
    ],
)
def test_g002_flags_short_verbless_sentence_inside_paragraph(fragment: str) -> None:
    text = f"{LEAD}\n\n{CONTEXT} {fragment} Farmers asked for aid."
    assert spans(VerblessFragment(), text) == [fragment]


@pytest.mark.parametrize(
    "sentence",
    [
        "Prices rise.",  # has a verb
        "Not yet.",  # deliberate reply
        "Of course.",
        "Why now?",  # question
        "What a harvest!",  # exclamation
        "“Never again.”",  # quotation
        "Photo courtesy of the ministry.",  # credit
        "In 2019.",  # contains a number
        "Oksana Petrenko contributed reporting.",  # has a verb
        "Maria Alvarez Ruiz.",  # a signature
        "I lay eggs on it.",  # pronoun + verb not in the lexicon
        "This one's clever.",  # contraction
        "The wheat stored underground.",  # -ed form counts as a verb
        "Tap Device information.",  # instruction steps start with an imperative verb
        "Click Settings.",
        "Swipe down twice.",
        "Select Wi-Fi networks.",
        "Copies the file twice.",  # -ies form of an instruction verb
        "Materials and methods.",  # a structured abstract's section label
        "Patients and methods.",
        "Main outcome measures.",
    ],
)
def test_g002_leaves_sentences_with_verbs_and_deliberate_fragments_alone(sentence: str) -> None:
    text = f"{LEAD}\n\n{CONTEXT} {sentence} Farmers asked for aid."
    assert spans(VerblessFragment(), text) == []


def test_g002_headline_and_byline_at_document_start_are_not_flagged() -> None:
    text = (
        "Drought in the South.\n\nBy Maria Alvarez.\n\n"
        "Wheat prices climbed for a third month after the harvest failed across the region."
    )
    assert spans(VerblessFragment(), text) == []


def test_g002_a_paragraph_of_its_own_is_not_flagged() -> None:
    text = f"{LEAD}\n\nThe road ahead.\n\nWheat prices climbed for a third month after the harvest failed."
    assert spans(VerblessFragment(), text) == []


def test_g002_lower_case_start_is_a_splitter_artefact() -> None:
    text = f"{LEAD} The club marked its 150th. birthday of the choir. Members sang."
    assert spans(VerblessFragment(), text) == []


def test_g002_respects_allowlist() -> None:
    text = f"{LEAD} Drought in the south. Farmers asked for aid."
    assert spans(VerblessFragment(), text, allow=("Drought in the south.",)) == []


def test_is_verb_lexicon_and_morphology() -> None:
    for word in ("is", "won't", "said", "rises", "carried", "watching", "tries", "it's", "Tap", "clicks", "presses", "copies"):
        assert is_verb(word), word
    for word in ("war", "border", "Ukraine", "crisis", "Russia's"):
        assert not is_verb(word), word


# G003 dangling-attribution-fragment -------------------------------------------------------


@pytest.mark.parametrize(
    "text, tail",
    [
        ("“We will finish the dam before the rains,” the engineers.", "the engineers"),
        ("“The harvest is lost,” local farmers.", "local farmers"),
        ('"Nobody warned us," the residents of the valley.', "the residents of the valley"),
        ("“Is anyone listening?” the mayor.", "the mayor"),
        ("The dam will hold, engineers insist. It was built to last,” the state media.", "the state media"),
    ],
)
def test_g003_flags_verbless_tail_after_quote(text: str, tail: str) -> None:
    findings = run(DanglingAttributionFragment(), text)
    assert [text[f.start : f.end] for f in findings] == [tail]
    assert findings[0].suggestion == f"{tail} said"


@pytest.mark.parametrize(
    "text",
    [
        "“We will finish the dam before the rains,” the engineers said.",
        "“We will finish the dam before the rains,” said the chief engineer.",
        "“The harvest is lost,” according to the farmers’ union.",
        "“The harvest is lost,” she told reporters.",
        "He called the plan “bold, ambitious,” the first of its kind.",
        "“The harvest is lost.”",
    ],
)
def test_g003_leaves_complete_attributions_alone(text: str) -> None:
    assert spans(DanglingAttributionFragment(), text) == []


def test_g003_respects_allowlist() -> None:
    text = "“It is over,” the committee."
    assert spans(DanglingAttributionFragment(), text, allow=("the committee",)) == []


def test_g003_noun_phrase_then_verb_is_a_clause() -> None:
    assert spans(DanglingAttributionFragment(), "“The plan is sound,” the memo reads.") == []
