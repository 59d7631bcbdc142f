"""The sentence head: features per sentence, its fit, its file, and the continuous fluency."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from fluency_testing import CLEAN, tiny_scorer

from mtcheck.document import Document
from mtcheck.rules.base import RuleContext
from mtcheck.rules.fluency import FluencyModel, Thresholds
from mtcheck.sentence_score import (
    FEATURES,
    SentenceHead,
    SentenceHeadError,
    continuous_rank,
    fit_pairwise,
    paired_accuracy,
    sentence_logprobs,
    signals,
)


def token_scores(text: str, pieces: list[tuple[int, int, float]]):
    starts, ends, logprobs = zip(*pieces)
    return SimpleNamespace(text=text, starts=np.array(starts), ends=np.array(ends), logprobs=np.array(logprobs))


def test_a_token_starting_in_the_gap_between_sentences_counts_for_the_next_one():
    doc = Document.parse("Rain fell. It was cold.")
    paragraph = doc.paragraphs[0]
    # "Rain" " fell" "." " It" " was" " cold" "."
    pieces = [(0, 4, -1.0), (4, 9, -2.0), (9, 10, -0.5), (10, 13, -4.0), (13, 17, -1.0), (17, 22, -3.0), (22, 23, -0.25)]
    assert sentence_logprobs(paragraph, token_scores(paragraph.text, pieces)) == [(-3.5, 3), (-8.25, 4)]


def test_paragraph_offsets_are_added_to_token_offsets():
    doc = Document.parse("First line here.\n\nSecond one. Third.")
    paragraph = doc.paragraphs[1]
    pieces = [(0, 6, -1.0), (6, 10, -1.0), (10, 11, -1.0), (11, 17, -2.0), (17, 18, -2.0)]
    assert sentence_logprobs(paragraph, token_scores(paragraph.text, pieces)) == [(-3.0, 3), (-4.0, 2)]


def test_signals_follow_the_feature_order():
    vector = signals(-12.0, 5, [10.0, 3.0], 1.5, [0.5, 0.2])
    assert len(vector) == len(FEATURES)
    values = dict(zip(FEATURES, vector))
    assert values["logprob"] == -12.0 and values["tokens"] == 5 and values["words"] == 2
    assert values["unigram_bits"] == 13.0 and values["z"] == 1.5
    assert values["tagger_any"] == pytest.approx(math.log(0.6 / 0.4))
    assert values["tagger_max"] == pytest.approx(0.0)


def test_noisy_or_is_the_chance_of_at_least_one():
    from mtcheck.tagger import sentence_probability

    assert sentence_probability([0.5, 0.5], "noisy-or") == pytest.approx(0.75)
    assert sentence_probability([], "noisy-or") == 0.0


def test_continuous_rank_decreases_strictly_and_stays_inside_zero_one():
    quantiles = np.array([-2.0, -1.0, -1.0, 0.0, 1.0, 3.0])
    values = np.linspace(-10, 12, 400)
    ranks = [continuous_rank(quantiles, v, tail=0.5) for v in values]
    assert all(0.0 < r < 1.0 for r in ranks)
    assert all(a > b for a, b in zip(ranks, ranks[1:]))


def test_continuous_rank_matches_the_plotting_positions_at_the_quantiles():
    quantiles = np.array([0.0, 1.0, 2.0, 3.0])
    assert continuous_rank(quantiles, 0.0, tail=1.0) == pytest.approx(1 - 0.5 / 4)
    assert continuous_rank(quantiles, 1.5, tail=1.0) == pytest.approx(1 - 2.0 / 4)
    assert continuous_rank(quantiles, 3.0, tail=1.0) == pytest.approx(0.5 / 4)


def test_fit_pairwise_recovers_the_direction_that_separates_pairs_and_is_deterministic():
    rng = np.random.default_rng(0)
    true = np.array([2.0, -1.0, 0.0])
    fluent = rng.normal(size=(500, 3))
    garbled = fluent + rng.normal(size=(500, 3))
    keep = (garbled - fluent) @ true > 0
    differences = [garbled[keep] - fluent[keep]]
    w = fit_pairwise(differences)
    assert np.array_equal(w, fit_pairwise(differences))
    cosine = w @ true / (np.linalg.norm(w) * np.linalg.norm(true))
    assert cosine > 0.95
    assert paired_accuracy(fluent[keep] @ w, garbled[keep] @ w) > 0.98


def test_fit_pairwise_gives_each_source_the_same_weight():
    big = np.tile([[1.0, 0.0]], (1000, 1))
    small = np.tile([[0.0, 1.0]], (10, 1))
    w = fit_pairwise([big, small], l2=0.1)
    assert w[0] == pytest.approx(w[1], rel=1e-6)


def test_paired_accuracy_counts_ties_as_half():
    assert paired_accuracy(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.0, 2.0])) == pytest.approx(0.5)


def head(identity: str = "model-x", weights=(-1.0, 0, 0, 0, 0, 0, 0)) -> SentenceHead:
    return SentenceHead(
        identity,
        mean=np.zeros(len(FEATURES)),
        scale=np.ones(len(FEATURES)),
        weights=np.array(weights, dtype=float),
        quantiles=np.array([0.0, 10.0, 20.0, 30.0]),
        tail=2.0,
        metadata={"pairs": 3},
    )


def test_a_saved_head_reads_back_the_same(tmp_path):
    path = tmp_path / "head.json"
    head().save(path)
    read = SentenceHead.read(path)
    assert read.identity == "model-x" and read.metadata == {"pairs": 3}
    features = np.arange(len(FEATURES), dtype=float)
    assert read.disfluency(features)[0] == head().disfluency(features)[0]
    assert read.fluency(12.0) == head().fluency(12.0)


def test_a_head_for_another_model_is_not_used(tmp_path):
    path = tmp_path / "head.json"
    head().save(path)
    assert SentenceHead.load("model-y", path) is None
    assert SentenceHead.load("model-x", path) is not None


@pytest.mark.parametrize("damage", ["truncate", "features", "weights"])
def test_a_damaged_head_file_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "head.json"
    head().save(path)
    data = json.loads(path.read_text())
    if damage == "truncate":
        path.write_text(path.read_text()[:40])
    else:
        data[damage] = data[damage][:-1]
        path.write_text(json.dumps(data))
    with pytest.raises(SentenceHeadError, match="cannot read sentence score"):
        SentenceHead.read(path)


class FlatTagger:
    """Every word equally unlikely to be garbled: only the head's log-probability weight matters."""

    hidden_layer = None

    def word_probabilities(self, doc, paragraph_scores):
        return [[0.01 for _ in s.words] for s in doc.sentences]

    def sentence_probabilities(self, probabilities):
        return [max(p, default=0.0) for p in probabilities]

    def sentence_fluency(self, probability):
        return 0.5


def test_sentence_fluency_comes_from_the_head_when_there_is_one():
    scorer = tiny_scorer()
    thresholds = Thresholds(
        model=scorer.identity, word_mean=0.0, word_std=5.0, window_bits=math.inf, verify_margin_bits=-math.inf,
        deletion_penalty_bits=4.0, sentence_flag_z=math.inf,
    )
    text = "The committee met on Tuesday. Members agreed to review the plan next month and the budget too."
    doc = Document.parse(text)
    with_head = FluencyModel(scorer, thresholds, tagger=FlatTagger(), sentence_head=head(scorer.identity))
    result = with_head.analyse([doc], RuleContext(), spans=False)[0]
    paragraph_scores = with_head.paragraph_scores([doc])[0]
    logprobs = [lp for lp, _ in sentence_logprobs(doc.paragraphs[0], paragraph_scores[0])]
    expected = [continuous_rank([0.0, 10.0, 20.0, 30.0], -lp, 2.0) for lp in logprobs]
    assert [s.fluency for s in result.sentences] == pytest.approx(expected)
    assert len({s.fluency for s in result.sentences}) == 2
    without = FluencyModel(scorer, thresholds, tagger=FlatTagger())
    assert [s.fluency for s in without.analyse([doc], RuleContext(), spans=False)[0].sentences] == [0.5, 0.5]


def test_a_head_without_a_tagger_is_ignored():
    scorer = tiny_scorer()
    thresholds = Thresholds(
        model=scorer.identity, word_mean=0.0, word_std=5.0, window_bits=math.inf, verify_margin_bits=-math.inf,
        deletion_penalty_bits=4.0, sentence_flag_z=math.inf,
    )
    model = FluencyModel(scorer, thresholds, sentence_head=head(scorer.identity))
    assert model.sentence_head is None
    report = model.analyse([Document.parse(CLEAN[0])], RuleContext(), spans=False)[0]
    assert all(s.fluency == thresholds.fluency(s.z) for s in report.sentences)


def test_calibrate_makes_sentence_fluency_relative_to_the_users_clean_text():
    from mtcheck.calibration import calibrate

    scorer = tiny_scorer()
    docs = [Document.parse(text) for text in CLEAN * 2]  # calibration needs 50 sentences
    sentence_head = head(scorer.identity)
    fitted = calibrate(scorer, docs, tagger=FlatTagger(), sentence_head=sentence_head)
    quantiles = fitted.tagger.fluency_quantiles
    assert len(quantiles) == 200 and quantiles == sorted(quantiles)
    model = FluencyModel(scorer, fitted, tagger=FlatTagger(), sentence_head=sentence_head)
    fluency = [s.fluency for r in model.analyse(docs, RuleContext(), spans=False) for s in r.sentences]
    # the calibration text itself spreads over 0-1 (mean near ½) instead of sitting at one end
    assert 0.35 < sum(fluency) / len(fluency) < 0.65
    packaged_only = FluencyModel(scorer, calibrate(scorer, docs, tagger=FlatTagger()), tagger=FlatTagger(), sentence_head=sentence_head)
    assert packaged_only.thresholds.tagger.fluency_quantiles == []
    other = [s.fluency for r in packaged_only.analyse(docs, RuleContext(), spans=False) for s in r.sentences]
    assert other != fluency
