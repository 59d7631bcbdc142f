"""Fluency model plumbing on a tiny random-weight LM (fast, no files)."""

import math

import pytest

from fluency_testing import CLEAN, tiny_scorer

from mtcheck.calibration import calibrate, quantile
from mtcheck.config import Config
from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.pipeline import Checker, merge_overlapping
from mtcheck.rules.base import RuleContext
from mtcheck.rules.fluency import FluencyModel, Thresholds, span_edits


@pytest.fixture(scope="module")
def scorer():
    return tiny_scorer()


def thresholds_for(scorer, **overrides) -> Thresholds:
    values = dict(
        model=scorer.identity, word_mean=0.0, word_std=5.0, window_bits=-math.inf, verify_margin_bits=-math.inf,
        deletion_penalty_bits=4.0, sentence_flag_z=math.inf, sentence_quantiles=[-1.0, 0.0, 1.0],
    )
    values.update(overrides)
    return Thresholds(**values)


def test_every_sentence_gets_a_fluency_in_0_1_and_offsets_match(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer))
    docs = [Document.parse(t) for t in CLEAN[:3]]
    results = model.analyse(docs, RuleContext())
    for doc, result in zip(docs, results):
        assert [(s.start, s.end) for s in result.sentences] == [(s.start, s.end) for s in doc.sentences]
        assert all(0.0 <= s.fluency <= 1.0 for s in result.sentences)
        assert 0.0 <= result.fluency <= 1.0
        for f in result.findings:
            assert f.code in ("F001", "F002")
            assert 0 <= f.start < f.end <= len(doc.text)


def test_permissive_thresholds_flag_and_suggest_an_edit(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer))
    doc = Document.parse("The the committee met on on Tuesday.")
    findings = model.analyse([doc], RuleContext())[0].findings
    spans = [f for f in findings if f.code == "F001"]
    assert spans, "with -inf thresholds every candidate window is reported"
    assert all(f.suggestion is not None for f in spans)


def test_strict_thresholds_flag_nothing(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer, window_bits=math.inf))
    doc = Document.parse(CLEAN[0])
    assert model.analyse([doc], RuleContext())[0].findings == []


def test_exempt_words_never_count_as_surprising(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer))
    doc = Document.parse("often Zyxwv met Qqqq-Rrrr in 1999 today.")
    words = model.word_scores([doc], RuleContext(allowlist=frozenset({"today"})))[0][0]
    by_text = {w.word.text: w for w in words}
    for name in ("Zyxwv", "Qqqq-Rrrr", "1999", "today"):
        assert not by_text[name].eligible
        assert by_text[name].normalised_bits <= 0.0
    assert by_text["often"].eligible is False  # the first word of a paragraph has no context
    assert by_text["met"].eligible and by_text["in"].eligible


def test_scores_are_deterministic(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer))
    doc = Document.parse(CLEAN[1])
    first = model.analyse([doc], RuleContext())[0]
    second = model.analyse([doc], RuleContext())[0]
    assert [s.fluency for s in first.sentences] == [s.fluency for s in second.sentences]


def test_span_edits_drop_each_word_and_swap_neighbours():
    text = "we went went home"
    doc = Document.parse(text)
    words = list(doc.words[1:4])
    edits = {(e.text, e.removed_words) for e in span_edits(text, words, words[0].start)}
    assert ("went home", 1) in edits
    assert ("went went", 1) in edits
    assert ("went home went", 0) in edits
    assert ("home went went", 0) not in edits


def test_deleting_a_rare_word_is_charged_its_unigram_surprisal():
    from mtcheck.rules.fluency import unigram_bits

    text = "the quokka plan"
    doc = Document.parse(text)
    deletion = next(e for e in span_edits(text, list(doc.words), 0) if e.text == "the plan")
    assert deletion.unigram_delta_bits == unigram_bits("quokka") > unigram_bits("plan")


def test_a_word_wordfreq_has_never_seen_is_not_deleted():
    """Its unigram surprisal is only a floor, so deleting it would look like a repair."""
    text = "the zymurgy plan"
    edited = {e.text for e in span_edits(text, list(Document.parse(text).words), 0)}
    assert "the plan" not in edited
    assert {"zymurgy plan", "the zymurgy"} <= edited  # the known words can still go
    assert "zymurgy the plan" in edited  # and it can still be moved


def test_fluency_is_the_share_of_clean_sentences_that_scored_worse():
    t = Thresholds("m", 0, 1, 0, 0, 0, 0, sentence_quantiles=[-2.0, -1.0, 0.0, 1.0])
    assert t.fluency(-3.0) == 1.0
    assert t.fluency(0.5) == 0.25
    assert t.fluency(5.0) == 0.0


def test_thresholds_roundtrip(tmp_path):
    t = Thresholds("m", 0.5, 2.0, 7.0, 3.0, 4.0, 2.5, [0.1, 0.2], 99)
    t.save(tmp_path / "t.json")
    assert Thresholds.load(tmp_path / "t.json") == t


def test_quantile_nearest_rank():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert quantile(values, 0.5) == 5
    assert quantile(values, 0.99) == 10
    assert quantile(values, 0.0) == 1


def test_calibration_on_clean_text_meets_its_own_flag_budget(scorer):
    docs = [Document.parse(t) for t in CLEAN * 2]
    thresholds = calibrate(scorer, docs, span_flags_per_100=1.0, sentence_flags_per_100=1.0)
    assert thresholds.clean_sentences == sum(len(d.sentences) for d in docs)
    assert thresholds.sentence_quantiles == sorted(thresholds.sentence_quantiles)
    model = FluencyModel(scorer, thresholds)
    results = model.analyse(docs, RuleContext())
    flags = sum(1 for r in results for f in r.findings if f.code == "F002")
    assert flags <= math.ceil(0.01 * thresholds.clean_sentences) + 1


def test_checker_merges_lm_span_into_overlapping_heuristic_finding():
    heuristic = Finding("R003", "repeated-word", Severity.WARNING, 4, 8, "Repeated word.", "")
    lm = Finding("F001", "disfluent-span", Severity.ERROR, 0, 8, "LM says so.", "x", 12.0)
    separate = Finding("F001", "disfluent-span", Severity.WARNING, 20, 25, "Elsewhere.")
    merged = merge_overlapping([heuristic, lm, separate])
    assert len(merged) == 2
    assert merged[0].code == "R003" and merged[0].severity is Severity.ERROR
    assert (merged[0].start, merged[0].end) == (0, 8)
    assert "Repeated word." in merged[0].message and "LM says so." in merged[0].message
    assert merged[1] == separate


def test_sentence_level_lm_findings_are_not_merged_into_word_spans():
    heuristic = Finding("R003", "repeated-word", Severity.WARNING, 4, 8, "Repeated word.", "")
    sentence = Finding("F002", "disfluent-sentence", Severity.WARNING, 0, 40, "Reads badly.")
    assert merge_overlapping([heuristic, sentence]) == [sentence, heuristic]


def test_checker_uses_a_given_fluency_model(scorer):
    model = FluencyModel(scorer, thresholds_for(scorer, window_bits=math.inf))
    report = Checker(Config(), fluency=model).check(CLEAN[0])
    doc = report.documents[0]
    assert doc.fluency is not None
    assert len(doc.sentences) == 2 and all(s.fluency is not None for s in doc.sentences)


def test_alternatives_are_frequent_inflections_or_confusable_function_words():
    from mtcheck.rules.fluency import alternatives

    assert "silencing" in alternatives("silence")
    assert "promote" in alternatives("promoting")
    assert set(alternatives("on")) >= {"in", "at"}
    assert alternatives("Putin") == []
    assert alternatives("the") == ["a", "an"]


def test_span_edits_include_alternatives():
    text = "for silence their"
    doc = Document.parse(text)
    edits = [e.text for e in span_edits(text, list(doc.words), 0) if e.removed_words == 0]
    assert "for silencing their" in edits


def test_edits_never_touch_words_that_are_not_editable():
    text = "met Obersendling today"
    doc = Document.parse(text)
    edits = {e.text for e in span_edits(text, list(doc.words), 0, [True, False, True])}
    assert "met today" not in edits
    assert "Obersendling today" in edits
    assert all("Obersendling" in e for e in edits)


def test_ignoring_f001_skips_edit_verification(scorer):
    calls = []
    model = FluencyModel(scorer, thresholds_for(scorer))
    original = scorer.continuation_logprob_many

    def counting(requests):
        calls.append(len(requests))
        return original(requests)

    scorer.continuation_logprob_many = counting
    try:
        text = "The the committee met on on Tuesday."
        with_spans = Checker(Config(), fluency=model).check(text).documents[0]
        lm_spans = [f for f in with_spans.findings if f.code == "F001" or "Language model:" in f.message]
        assert calls and lm_spans  # F001 or merged into the repeated-word finding
        calls.clear()
        without = Checker(Config(ignore=("F001",)), fluency=model).check(text).documents[0]
        assert calls == [] and all(f.code != "F001" and "Language model:" not in f.message for f in without.findings)
        assert [s.fluency for s in without.sentences] == [s.fluency for s in with_spans.sentences]
    finally:
        del scorer.continuation_logprob_many
