"""The tagger-driven fluency path (F001/F002 from word probabilities), on a tiny random-weight LM
with a stub tagger whose probabilities the tests choose."""

import math
from dataclasses import replace

import pytest

from fluency_testing import CLEAN, tiny_scorer

from mtcheck.calibration import calibrate, calibrate_tagger
from mtcheck.document import Document
from mtcheck.findings import Severity
from mtcheck.rules.base import RuleContext
from mtcheck.rules.fluency import FluencyModel, TaggerThresholds, Thresholds, logit
from mtcheck.tagger import sentence_probability


class StubTagger:
    """Rates the words in ``garbled`` at ``p`` and every other word at 0.01."""

    hidden_layer = None

    def __init__(self, garbled: set[str], p: float = 0.9) -> None:
        self.garbled, self.p = garbled, p

    def word_probabilities(self, doc: Document, paragraph_scores) -> list[list[float]]:
        assert len(paragraph_scores) == len(doc.paragraphs)
        return [[self.p if w.text in self.garbled else 0.01 for w in s.words] for s in doc.sentences]

    def sentence_probabilities(self, probabilities) -> list[float]:
        return [sentence_probability(p, "max") for p in probabilities]

    def sentence_fluency(self, probability: float) -> float:
        return 1.0 - probability


@pytest.fixture(scope="module")
def scorer():
    return tiny_scorer()


def thresholds(scorer, window_bits: float = math.inf, **tagger) -> Thresholds:
    limits = dict(
        candidate_p=0.5, gain_weight=0.0, span_warning=logit(0.95), span_info=logit(0.5),
        sentence_warning=0.95, sentence_info=0.5,
    )
    limits.update(tagger)
    return Thresholds(
        model=scorer.identity, word_mean=0.0, word_std=5.0, window_bits=window_bits, verify_margin_bits=-math.inf,
        deletion_penalty_bits=4.0, sentence_flag_z=math.inf, tagger=TaggerThresholds(**limits),
    )


def analyse(model: FluencyModel, text: str):
    doc = Document.parse(text)
    return doc, model.analyse([doc], RuleContext())[0]


def test_flags_the_window_around_a_word_the_tagger_rates_high(scorer):
    model = FluencyModel(scorer, thresholds(scorer), tagger_flags=True, tagger=StubTagger({"thin"}))
    assert model.uses_tagger
    doc, result = analyse(model, "They stayed friends through thick, thin and thin. The rest is fine.")
    spans = [f for f in result.findings if f.code == "F001"]
    assert [doc.text[f.start : f.end] for f in spans] == ["thick, thin and thin"]
    assert spans[0].severity is Severity.INFO  # p = 0.9 is under the warning score logit(0.95)
    assert spans[0].suggestion is None or spans[0].suggestion != doc.text[spans[0].start : spans[0].end]
    [sentence] = [f for f in result.findings if f.code == "F002"]
    assert (sentence.start, sentence.end) == (doc.sentences[0].start, doc.sentences[0].end)
    assert [round(s.fluency, 2) for s in result.sentences] == [0.1, 0.99]
    assert result.sentences[0].z is not None


def test_severity_follows_the_warning_threshold(scorer):
    model = FluencyModel(scorer, thresholds(scorer, span_warning=logit(0.5)), tagger_flags=True, tagger=StubTagger({"committee"}))
    _, result = analyse(model, CLEAN[0])
    assert {f.severity for f in result.findings if f.code == "F001"} == {Severity.WARNING}


def test_words_under_the_candidate_probability_are_never_flagged(scorer):
    model = FluencyModel(scorer, thresholds(scorer, candidate_p=0.95), tagger_flags=True, tagger=StubTagger({"committee"}))
    _, result = analyse(model, CLEAN[0])
    assert [f for f in result.findings if f.code == "F001"] == []


def test_untrained_candidate_windows_are_scored_with_the_tagger_too(scorer):
    """With every window an untrained candidate, a window holding a high-p word is flagged even
    though no word reaches candidate_p; windows whose best p cannot reach the info score are not."""
    model = FluencyModel(
        scorer, thresholds(scorer, window_bits=-math.inf, candidate_p=0.95), tagger_flags=True, tagger=StubTagger({"committee"})
    )
    doc, result = analyse(model, CLEAN[0])
    spans = [doc.text[f.start : f.end] for f in result.findings if f.code == "F001"]
    assert spans and all("committee" in span for span in spans)


def test_edit_gain_raises_the_span_score(scorer):
    """With a gain weight, the same window scores logit(p) + weight * gain: a huge weight makes
    any positive-gain edit decisive and a negative one sink under the info threshold."""
    plain = FluencyModel(scorer, thresholds(scorer), tagger_flags=True, tagger=StubTagger({"on"}))
    doc = Document.parse("The committee met on on Tuesday.")
    sentences = plain.word_scores([doc], RuleContext())
    probabilities = plain.tagger.word_probabilities(doc, [None])
    scored = plain.tagged_scores(doc, sentences[0], probabilities)
    assert scored and all(math.isclose(w.score, logit(0.9)) for w in scored)
    weighted = FluencyModel(scorer, thresholds(scorer, gain_weight=1.0), tagger=plain.tagger, tagger_flags=True)
    for w in weighted.tagged_scores(doc, sentences[0], probabilities):
        assert math.isclose(w.score, logit(0.9) + w.gain, rel_tol=1e-9)


def test_spans_never_cross_sentences_and_offsets_are_in_the_text(scorer):
    model = FluencyModel(scorer, thresholds(scorer), tagger_flags=True, tagger=StubTagger({"budget", "Members", "month"}))
    doc, result = analyse(model, CLEAN[0])
    for f in result.findings:
        assert 0 <= f.start < f.end <= len(doc.text)
        assert any(s.start <= f.start and f.end <= s.end for s in doc.sentences)


def test_without_a_tagger_section_the_untrained_detector_runs(scorer):
    plain = thresholds(scorer)
    plain.tagger = None
    model = FluencyModel(scorer, plain, tagger_flags=True, tagger=StubTagger({"committee"}))
    assert not model.uses_tagger
    _, result = analyse(model, CLEAN[0])
    assert all("tagger" not in f.message for f in result.findings)


def test_thresholds_with_a_tagger_section_round_trip(scorer, tmp_path):
    original = thresholds(scorer)
    path = tmp_path / "t.json"
    original.save(path)
    again = Thresholds.load(path)
    assert again == original and isinstance(again.tagger, TaggerThresholds)


def test_tagger_calibration_meets_its_flag_budget(scorer):
    docs = [Document.parse(t) for t in CLEAN * 2]
    tagger = StubTagger({"budget", "region", "spring", "bridge", "noon", "crops"}, p=0.6)
    base = calibrate(scorer, docs, span_flags_per_100=1.0, sentence_flags_per_100=1.0)
    model = FluencyModel(scorer, base, tagger=tagger)
    limits = calibrate_tagger(model, docs, span_flags_per_100=2.0, sentence_flags_per_100=2.0, notices_per_100=5.0)
    assert model.thresholds is base and base.tagger is None  # calibration restores what it borrowed
    assert limits.span_info <= limits.span_warning and limits.sentence_info <= limits.sentence_warning
    base.tagger = limits
    results = FluencyModel(scorer, base, tagger=tagger, tagger_flags=True).analyse(docs, RuleContext())
    sentences = sum(len(d.sentences) for d in docs)
    spans = [f for r in results for f in r.findings if f.code == "F001"]
    assert len(spans) <= math.ceil(0.05 * sentences)
    warnings = [f for r in results for f in r.findings if f.severity >= Severity.WARNING]
    assert len(warnings) <= math.ceil(0.02 * sentences) * 2


def test_an_untrained_candidate_repaired_beyond_span_gain_is_a_warning_whatever_the_tagger_says(scorer):
    text = "The committee met on on Tuesday to agree the the budget."
    quiet = StubTagger(set())  # every word at 0.01: far below the info score
    unset = FluencyModel(scorer, thresholds(scorer, window_bits=-math.inf), tagger=quiet, tagger_flags=True)
    doc, result = analyse(unset, text)
    assert not [f for f in result.findings if f.code == "F001"]
    repaired = FluencyModel(
        scorer, thresholds(scorer, window_bits=-math.inf, span_gain=-100.0), tagger=quiet, tagger_flags=True
    )
    doc, result = analyse(repaired, text)
    spans = [f for f in result.findings if f.code == "F001"]
    assert spans and all(f.severity == Severity.WARNING and "clean text" in f.message for f in spans)
    windows = repaired.tagged_scores(doc, repaired.word_scores([doc], RuleContext())[0], quiet.word_probabilities(doc, [None]))
    assert all(w.repaired for w in windows)  # all untrained candidates: window_bits is -inf
    # only untrained candidates count: the tagger's own windows need their score
    tagged_only = FluencyModel(
        scorer, thresholds(scorer, span_gain=-100.0), tagger=StubTagger({"on"}, p=0.3), tagger_flags=True
    )
    words = tagged_only.word_scores([doc], RuleContext())[0]
    assert not any(w.repaired for w in tagged_only.tagged_scores(doc, words, tagged_only.tagger.word_probabilities(doc, [None])))


def test_tagger_calibration_sets_span_gain_above_every_clean_repair(scorer):
    docs = [Document.parse(t) for t in CLEAN * 2]
    base = calibrate(scorer, docs, span_flags_per_100=1.0, sentence_flags_per_100=1.0)
    base.window_bits = -math.inf  # every window an untrained candidate: many clean repairs to exceed
    model = FluencyModel(scorer, base, tagger=StubTagger(set()))
    limits = calibrate_tagger(model, docs)
    assert limits.span_gain >= base.verify_margin_bits
    base.tagger = limits
    checked = FluencyModel(scorer, base, tagger=model.tagger, tagger_flags=True)
    for doc, words in zip(docs, checked.word_scores(docs, RuleContext())):
        probabilities = checked.tagger.word_probabilities(doc, [None] * len(doc.paragraphs))
        assert not any(w.repaired for w in checked.tagged_scores(doc, words, probabilities))


def test_calibrate_fits_the_tagger_section_when_given_a_tagger(scorer):
    docs = [Document.parse(t) for t in CLEAN * 2]
    fitted = calibrate(scorer, docs, tagger=StubTagger({"budget"}, p=0.6))
    assert isinstance(fitted.tagger, TaggerThresholds)
    assert calibrate(scorer, docs).tagger is None


def test_without_tagger_flags_the_tagger_gives_only_sentence_fluency(scorer):
    model = FluencyModel(scorer, thresholds(scorer), tagger=StubTagger({"thin"}))
    assert not model.uses_tagger
    doc, result = analyse(model, "They stayed friends through thick, thin and thin. The rest is fine.")
    assert [round(s.fluency, 2) for s in result.sentences] == [0.1, 0.99]
    assert all("tagger" not in f.message for f in result.findings)


def test_strictest_keeps_each_threshold_at_its_highest():
    from mtcheck.calibration import strictest

    a = TaggerThresholds(0.12, 0.02, span_warning=0.5, span_info=-0.3, sentence_warning=0.8, sentence_info=0.9)
    b = TaggerThresholds(0.12, 0.02, span_warning=0.1, span_info=0.2, sentence_warning=0.95, sentence_info=0.7)
    both = strictest([a, b])
    assert (both.span_warning, both.span_info, both.sentence_warning, both.sentence_info) == (0.5, 0.2, 0.95, 0.9)
    assert strictest([replace(a, span_gain=30.0), replace(b, span_gain=25.0)]).span_gain == 30.0
    assert strictest([a]) == a
    with pytest.raises(ValueError):
        strictest([a, TaggerThresholds(0.2, 0.02, 0.1, 0.1, 0.1, 0.1)])
    with pytest.raises(ValueError):
        strictest([])
