"""The full fluency model with the real packaged LM and the shipped thresholds (pairs written for this test)."""

import pytest

from mtcheck.config import Config
from mtcheck.pipeline import Checker
from mtcheck.rules.fluency import FluencyModel, Thresholds

pytestmark = pytest.mark.model

PAIRS = [
    ("The museum reopened on Monday after two years of repairs.",
     "The museum reopened repairs on Monday after of two years."),
    ("She said the company would hire more engineers next year.",
     "She said the company would hiring more engineer next year the."),
    ("Farmers expect a good harvest because the spring was warm and wet.",
     "Farmers expect a harvest good because spring the was warm and and wet."),
    ("The minister promised to publish the report before the summer.",
     "The minister promised to publish report the before of summer the."),
]


@pytest.fixture(scope="module")
def checker(packaged_scorer):
    return Checker(Config(), fluency=FluencyModel(packaged_scorer, Thresholds.load()))


def test_shipped_thresholds_belong_to_the_packaged_model(packaged_scorer):
    assert Thresholds.load().model == packaged_scorer.identity


@pytest.mark.parametrize("fluent, garbled", PAIRS)
def test_fluent_sentence_scores_higher_than_its_garbled_twin(checker, fluent, garbled):
    good = checker.check(fluent).documents[0]
    bad = checker.check(garbled).documents[0]
    assert good.fluency > bad.fluency


def test_garbled_paragraph_gets_a_fluency_flag_and_clean_one_does_not(checker):
    garbled = " ".join(g for _, g in PAIRS)
    clean = " ".join(f for f, _ in PAIRS)
    assert any(f.code.startswith("F") for f in checker.check(garbled).findings)
    assert not any(f.code.startswith("F") and f.severity >= 2 for f in checker.check(clean).findings)


def test_lm_findings_have_valid_offsets_and_are_deterministic(checker):
    text = " ".join(g for _, g in PAIRS)
    first = checker.check(text).documents[0]
    second = checker.check(text).documents[0]
    assert [(f.code, f.start, f.end) for f in first.findings] == [(f.code, f.start, f.end) for f in second.findings]
    assert [s.fluency for s in first.sentences] == [s.fluency for s in second.sentences]
    for f in first.findings:
        assert 0 <= f.start < f.end <= len(text)


def test_learned_tagger_fluency_prefers_fluent_sentences(packaged_scorer):
    from mtcheck.tagger import Tagger

    tagger = Tagger.load(packaged_scorer.identity)
    assert tagger is not None, "the shipped tagger weights belong to the packaged model"
    checker = Checker(Config(), fluency=FluencyModel(packaged_scorer, Thresholds.load(), tagger=tagger))
    wins = sum(
        checker.check(good).documents[0].fluency > checker.check(bad).documents[0].fluency for good, bad in PAIRS
    )
    assert wins >= 3
    report = checker.check(" ".join(good for good, _ in PAIRS)).documents[0]
    assert all(0.0 <= s.fluency <= 1.0 and s.z is not None for s in report.sentences)


def test_detectors_share_the_tagger_fluency_and_differ_in_where_flags_come_from(packaged_scorer):
    from mtcheck.tagger import Tagger

    tagger = Tagger.load(packaged_scorer.identity)
    thresholds = Thresholds.load()
    assert thresholds.tagger is not None, "the shipped thresholds have a tagger section"
    text = " ".join(bad for _, bad in PAIRS)
    auto = Checker(Config(), fluency=FluencyModel(packaged_scorer, thresholds, tagger=tagger)).check(text)
    tagged = Checker(
        Config(detector="tagger"), fluency=FluencyModel(packaged_scorer, thresholds, tagger=tagger, tagger_flags=True)
    ).check(text)
    untrained = Checker(Config(detector="untrained"), fluency=FluencyModel(packaged_scorer, thresholds)).check(text)
    fluency = [[s.fluency for s in r.documents[0].sentences] for r in (auto, tagged, untrained)]
    assert fluency[0] == fluency[1] and fluency[0] != fluency[2]
    messages = [f.message for f in tagged.documents[0].findings if f.code == "F001"]
    assert messages and all("tagger" in m for m in messages)
    assert all("tagger" not in f.message for f in auto.documents[0].findings)


def test_the_tagger_detector_flags_what_an_edit_repairs_beyond_clean_text(packaged_scorer):
    """A bare verb after "for" where the verb is also a noun: the LM finds the inflected form far
    likelier, more than any edit of clean dev text gains, so it is a warning even though the
    tagger rates the words low; every window repaired that much is reported, and only those."""
    from mtcheck.tagger import Tagger

    tagger = Tagger.load(packaged_scorer.identity)
    thresholds = Thresholds.load()
    model = FluencyModel(packaged_scorer, thresholds, tagger=tagger, tagger_flags=True)
    text = (
        "The two parties share a deep distrust of the regulators. They blame the agency for silence "
        "their scientists and promoting a narrow agenda."
    )
    report = Checker(Config(detector="tagger"), fluency=model).check(text).documents[0]
    spans = [f for f in report.findings if f.code == "F001"]
    assert [text[f.start : f.end] for f in spans] == ["silence their scientists"]
    assert spans[0].severity.name == "WARNING" and "clean text" in spans[0].message
    assert spans[0].suggestion == "silencing their scientists"
    tagged = model.tag([report.document])[0]
    windows = model.tagged_scores(tagged.document, tagged.words, tagged.probabilities)
    repaired = [w for w in windows if w.repaired]
    assert repaired and all(w.gain >= thresholds.tagger.span_gain for w in repaired)
    assert max(tagger_p for probs in tagged.probabilities for tagger_p in probs) < 0.5


AGREEMENT_AND_ORDER = [
    ("The keys to the cabinet are on the table.", "The keys to the cabinet is on the table."),
    ("Every student in these classes has passed the exam.", "Every student in these classes have passed the exam."),
    ("She has never seen such a large crowd.", "She have never seen such a large crowd."),
    ("The children who live next door were playing outside.", "The children who live next door was playing outside."),
    ("He wanted to know whether the train had left.", "He wanted to know whether had the train left."),
    ("Nobody expected the results to be so good.", "Nobody expected the results be so good."),
    ("The report was published two days ago.", "The report was published two days before ago."),
    ("Many people in the town rely on the river for water.", "Many people in the town rely the river on for water."),
]


def test_the_shipped_sentence_head_ranks_minimal_pairs_without_ties(packaged_scorer):
    from mtcheck.sentence_score import SentenceHead
    from mtcheck.tagger import Tagger

    head = SentenceHead.load(packaged_scorer.identity)
    assert head is not None, "the shipped sentence head belongs to the packaged model"
    tagger = Tagger.load(packaged_scorer.identity)
    model = FluencyModel(packaged_scorer, Thresholds.load(), tagger=tagger, sentence_head=head)
    checker = Checker(Config(), fluency=model)
    pairs = [(checker.check(g).documents[0].fluency, checker.check(b).documents[0].fluency) for g, b in AGREEMENT_AND_ORDER]
    assert sum(good > bad for good, bad in pairs) >= 6
    values = [v for pair in pairs for v in pair]
    assert all(0.0 < v < 1.0 for v in values)
    assert len(set(values)) == len(values)


def test_the_default_checker_takes_sentence_fluency_from_the_head(packaged_cache, monkeypatch):
    monkeypatch.setenv("MTCHECK_CACHE", str(packaged_cache["root"]))
    model = Checker(Config()).fluency
    assert model.tagger is not None and model.sentence_head is not None
