"""The learned fluency tagger: features, decoding, persistence, reproducible training, shipped weights."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mtcheck.document import Document
from mtcheck.lm.scorer import TokenScores
from mtcheck.tagger import (
    SCALAR_NAMES,
    Tagger,
    decode_spans,
    document_counts,
    paragraph_features,
    sentence_probability,
    window_inputs,
)

PACKAGED_IDENTITY = "SmolLM2-135M-Instruct.Q4_1.gguf:747cb1f01955"

# Made up for these tests.
CLEAN = [
    (
        "The library opened a new reading room on Monday. Children can borrow three books at a time.\n\n"
        "The town council approved the plan after a short debate."
    ),
    "Farmers in the valley expect a good harvest this year. The weather has been mild since April.",
    "A small bakery near the station sells fresh bread every morning. Its owner learned the trade from her father.",
]


def fake_scores(text: str, width: int, seed: int = 0) -> TokenScores:
    """Token scores without a model: one token per word or mark, random numbers."""
    rng = np.random.default_rng(seed)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
    n = len(spans)
    return TokenScores(
        text=text,
        starts=np.array([s for s, _ in spans], dtype=np.int64),
        ends=np.array([e for _, e in spans], dtype=np.int64),
        token_ids=np.arange(n, dtype=np.int64),
        logprobs=-rng.gamma(2.0, 2.0, n).astype(np.float32),
        entropy=rng.gamma(2.0, 2.0, n).astype(np.float32),
        hidden=rng.normal(size=(n, width)).astype(np.float32),
    )


# -- features and decoding -------------------------------------------------------------------------
def test_paragraph_features_align_with_words() -> None:
    text = "He said the the plan works. “Fine,” she replied, and left."
    doc = Document.parse(text)
    scores = fake_scores(text, 8)
    features = paragraph_features(doc.paragraphs[0], scores, document_counts(doc))
    words = [w for s in doc.sentences for w in s.words]
    assert features.scalars.shape == (len(words), len(SCALAR_NAMES))
    assert features.hidden.shape == (len(words), 8)
    assert features.sentence_sizes == [len(s.words) for s in doc.sentences]
    col = {name: i for i, name in enumerate(SCALAR_NAMES)}
    bits = -scores.logprobs / np.log(2)
    # one token per word here: the word's surprisal and hidden state are its token's
    for k, word in enumerate(words):
        token = int(np.nonzero(scores.starts == word.start)[0][0])
        assert features.scalars[k, col["bits"]] == pytest.approx(bits[token], rel=1e-5)
        np.testing.assert_allclose(features.hidden[k], scores.hidden[token], rtol=1e-6)
    second_the = 3
    assert words[second_the].text == "the" and features.scalars[second_the, col["same_as_previous"]] == 1
    assert features.scalars[0, col["paragraph_first"]] == 1 and features.scalars[1, col["paragraph_first"]] == 0
    fine = [w.text for w in words].index("Fine")
    assert features.scalars[fine, col["gap_quote"]] == 1 and features.scalars[fine, col["gap_stop"]] == 1
    # the quote and full stop between "works" and "Fine" are gap tokens of "Fine"
    gap_tokens = [
        i
        for i, (s, e) in enumerate(zip(scores.starts, scores.ends))
        if words[fine - 1].end <= s and e <= words[fine].start
    ]
    assert features.scalars[fine, col["gap_bits"]] == pytest.approx(bits[gap_tokens].sum(), rel=1e-5)
    assert features.scalars[fine - 1, col["gap_after_bits"]] == features.scalars[fine, col["gap_bits"]]
    # the last word sees the paragraph's final full stop
    assert features.scalars[-1, col["paragraph_last"]] == 1 and features.scalars[-2, col["paragraph_last"]] == 0
    assert features.scalars[-1, col["gap_after_bits"]] == pytest.approx(bits[-1], rel=1e-5)
    assert features.scalars[-1, col["gap_after_marks"]] == 1


def test_repetition_cues() -> None:
    text = "They met one by one and more and more, thin and thin, the the end."
    doc = Document.parse(text)
    features = paragraph_features(doc.paragraphs[0], fake_scores(text, 4), document_counts(doc))
    col = {name: i for i, name in enumerate(SCALAR_NAMES)}
    words = [w.text for w in doc.words]
    rows = {(words[k - 2] if k > 1 else "", words[k]): features.scalars[k] for k in range(len(words))}
    assert rows[("one", "one")][col["reduplication"]] == 1
    assert rows[("more", "more")][col["reduplication"]] == 1
    assert rows[("thin", "thin")][col["reduplication"]] == 0
    assert rows[("thin", "thin")][col["same_as_second_previous"]] == 1
    second_the = len(words) - 2
    assert features.scalars[second_the, col["same_as_previous"]] == 1
    assert features.scalars[second_the, col["log_document_count"]] == pytest.approx(np.log(2))


def test_multi_token_words_pool_their_tokens() -> None:
    text = "unbelievable news"
    scores = TokenScores(
        text,
        np.array([0, 2, 6, 13]),
        np.array([2, 6, 12, 17]),
        np.arange(4),
        np.log(np.array([0.5, 0.25, 0.5, 0.125], dtype=np.float32)),
        np.ones(4, dtype=np.float32),
        np.arange(8, dtype=np.float32).reshape(4, 2),
    )
    doc = Document.parse(text)
    features = paragraph_features(doc.paragraphs[0], scores, document_counts(doc))
    col = {name: i for i, name in enumerate(SCALAR_NAMES)}
    assert features.scalars[0, col["bits"]] == pytest.approx(4.0)  # 1 + 2 + 1 bits
    assert features.scalars[0, col["first_bits"]] == pytest.approx(1.0)
    assert features.scalars[0, col["rest_bits"]] == pytest.approx(3.0)
    np.testing.assert_allclose(features.hidden[0], [2.0, 3.0])  # mean of rows 0-2
    np.testing.assert_allclose(features.hidden[1], [6.0, 7.0])


def test_window_inputs_shift_neighbours_and_flag_padding() -> None:
    scalars = np.arange(6, dtype=np.float32).reshape(3, 2)
    hidden = 10 + np.arange(3, dtype=np.float32).reshape(3, 1)
    x = window_inputs(scalars, hidden)
    # offsets -2..2 of scalars (2 each) with 4 padding flags, then hidden -1..1
    assert x.shape == (3, 5 * 2 + 4 + 3)
    row = x[1]
    assert list(row[0:3]) == [0, 0, 1]  # i-2: padding
    assert list(row[3:6]) == [0, 1, 0]  # i-1: word 0
    assert list(row[6:8]) == [2, 3]  # the word itself
    assert list(row[8:11]) == [4, 5, 0]  # i+1: word 2
    assert list(row[11:14]) == [0, 0, 1]  # i+2: padding
    assert list(row[14:]) == [10, 11, 12]


def test_decode_spans_merges_gaps_of_one_word() -> None:
    text = "one two three four five six seven. Eight nine"
    doc = Document.parse(text)
    probs = [[0.9, 0.1, 0.7, 0.1, 0.1, 0.8, 0.2], [0.95, 0.1]]
    spans = decode_spans(doc, probs, 0.5)
    assert [(text[a:b], round(p, 2)) for a, b, p in spans] == [("one two three", 0.9), ("six", 0.8), ("Eight", 0.95)]
    assert decode_spans(doc, probs, 0.99) == []
    assert [text[a:b] for a, b, _ in decode_spans(doc, probs, 0.5, max_gap=2)] == [
        "one two three four five six",
        "Eight",
    ]


def test_sentence_probability() -> None:
    assert sentence_probability([0.1, 0.5, 0.2]) == pytest.approx(0.5)
    assert sentence_probability([0.5, 0.5], "noisy-or") == pytest.approx(0.75)
    assert sentence_probability([]) == 0.0
    with pytest.raises(ValueError):
        sentence_probability([0.1], "mean")


def test_sentence_fluency_ranks_against_clean_quantiles() -> None:
    tagger = Tagger("m", 1, *(np.zeros(1),) * 5, weights=[], sentence_quantiles=np.array([0.1, 0.2, 0.3, 0.4]))
    assert tagger.sentence_fluency(0.05) == 1.0
    assert tagger.sentence_fluency(0.25) == 0.5
    assert tagger.sentence_fluency(0.9) == 0.0
    assert Tagger("m", 1, *(np.zeros(1),) * 5, weights=[]).sentence_fluency(0.25) == 0.75


def test_blend_is_one_mlp_with_the_averaged_logit() -> None:
    import train_tagger as tt

    rng = np.random.default_rng(1)
    mlp = [rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=(4, 1)), rng.normal(size=1)]
    logistic = [rng.normal(size=(6, 1)), rng.normal(size=1)]
    x = rng.normal(size=(20, 6)).astype(np.float32)
    parts = [Tagger("m", 1, *(np.zeros(1),) * 5, weights=w) for w in (mlp, logistic, tt.blend(mlp, logistic, 0.3))]
    expected = 0.3 * parts[0].logits(x) + 0.7 * parts[1].logits(x)
    np.testing.assert_allclose(parts[2].logits(x), expected, rtol=1e-4, atol=1e-4)


# -- training with the tiny model --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    import train_tagger as tt

    from mtcheck.lm.testing import tiny_model

    loaded = tiny_model()
    folder = tmp_path_factory.mktemp("tagger-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTCHECK_TAGGER_CACHE", str(folder))
        scorer, cache = tt.load_scorer_and_cache((1, 2), loaded=loaded)
    examples = []
    for i, text in enumerate(CLEAN):
        examples.append(tt.Example(text, "news-calib", f"clean{i}", clean=True))
        for seed in range(3):
            result = tt.corrupt.corrupt_paragraph(text.replace("\n\n", " "), seed=seed, rate=1.0)
            positive = [(e.label_start, e.label_end) for e in result.edits]
            examples.append(tt.Example(result.text, "corrupt-news", f"c{i}", positive=positive))
    tt.extract(scorer, cache, examples, say=lambda message: None)
    data = tt.build_data(examples, cache)
    return tt, scorer, examples, data


def test_word_labels_follow_the_spans(tiny_setup) -> None:
    _, _, examples, data = tiny_setup
    for d in data:
        example = examples[d.example]
        doc = Document.parse(example.text)
        words = [w for s in doc.paragraphs[d.paragraph].sentences for w in s.words]
        for word, label in zip(words, d.labels):
            inside = any(word.start < b and word.end > a for a, b in example.positive)
            assert label == (1 if inside else 0)
    assert any(d.labels.any() for d in data)


def fit_tiny(tt, examples, data, seed: int, hidden_units: int = 8):
    train = [d for d in data if examples[d.example].part.startswith("corrupt")]
    # dropout draws random masks: the seed must cover those too
    config = tt.Config(
        layer_slot=1, components=4, hidden_units=hidden_units, dropout=0.2, epochs=3, batch=32, seed=seed
    )
    return tt.fit(train, examples, "tiny", (1, 2), 32, config)


def test_training_is_reproducible(tiny_setup) -> None:
    tt, _, examples, data = tiny_setup
    import torch

    first = fit_tiny(tt, examples, data, seed=7)
    torch.rand(5)  # whatever the global generator did in between
    second = fit_tiny(tt, examples, data, seed=7)
    other = fit_tiny(tt, examples, data, seed=8)
    assert first.hidden_layer == 2
    assert len(first.weights) == 4
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.projection, second.projection)
    assert any(not np.array_equal(a, b) for a, b in zip(first.weights, other.weights))
    logistic = [fit_tiny(tt, examples, data, seed=7, hidden_units=0) for _ in range(2)]
    assert [w.shape for w in logistic[0].weights] == [(logistic[0].weights[0].shape[0], 1), (1,)]
    for a, b in zip(logistic[0].weights, logistic[1].weights):
        np.testing.assert_array_equal(a, b)


def test_trained_tagger_runs_on_scorer_output_and_round_trips(tiny_setup, tmp_path: Path) -> None:
    from mtcheck.lm.scorer import Scorer

    tt, scorer, examples, data = tiny_setup
    tagger = fit_tiny(tt, examples, data, seed=7)
    calib = [i for i, e in enumerate(examples) if e.clean]
    per_example = tt.sentence_probs(
        [d for d in data if d.example in calib],
        tt.probabilities(tagger, [d for d in data if d.example in calib], 1, 32),
    )
    docs = {i: Document.parse(examples[i].text) for i in per_example}
    warning, info = tt.fit_thresholds(docs, per_example, 0.5, 2.0)
    assert 0.0 < info <= warning <= 1.0
    tagger.warning_threshold, tagger.info_threshold = warning, info

    path = tmp_path / "tagger.npz"
    tagger.save(path)
    again = Tagger.load("tiny", path)
    assert again is not None and Tagger.load("another-model", path) is None
    assert (again.warning_threshold, again.info_threshold, again.hidden_layer) == (warning, info, 2)
    assert again.scalar_context == tagger.scalar_context and again.hidden_context == tagger.hidden_context

    doc = Document.parse(CLEAN[0])
    plain = Scorer(scorer.loaded)  # the project's scorer, as the fluency rule will call it
    scores = plain.score([p.text for p in doc.paragraphs], hidden_layer=again.hidden_layer)
    probs = again.word_probabilities(doc, scores)
    assert [len(p) for p in probs] == [len(s.words) for s in doc.sentences]
    assert all(0.0 <= p <= 1.0 for sentence in probs for p in sentence)
    # the same numbers as the training-time path through the multi-layer cache
    expected = tt.sentence_probs(
        [d for d in data if d.example == 0], tt.probabilities(tagger, [d for d in data if d.example == 0], 1, 32)
    )[0]
    np.testing.assert_allclose([p for s in probs for p in s], [p for s in expected for p in s], atol=2e-3)
    for start, end, p in again.decode_spans(doc, probs, threshold=0.0):
        assert doc.text[start:end] == doc.text[start:end].strip() and p >= 0.0
    with pytest.raises(ValueError):
        again.word_probabilities(doc, scores[:1])


# -- the shipped weights ---------------------------------------------------------------------------
def test_shipped_weights_load_for_the_packaged_model_only() -> None:
    path = resources.files("mtcheck.data").joinpath("tagger.npz")
    assert path.is_file()
    assert Path(str(path)).stat().st_size < 2 * 1024 * 1024
    tagger = Tagger.load(PACKAGED_IDENTITY)
    assert tagger is not None
    assert Tagger.load("SmolLM2-135M-Instruct.Q4_1.gguf:000000000000") is None
    assert 1 <= tagger.hidden_layer <= 30
    assert 0.0 < tagger.info_threshold <= tagger.warning_threshold < 1.0
    assert tagger.sentence_mode in ("max", "noisy-or")
    assert tagger.info["identity"] == PACKAGED_IDENTITY


def test_shipped_weights_run_on_token_scores() -> None:
    tagger = Tagger.load(PACKAGED_IDENTITY)
    doc = Document.parse(CLEAN[0])
    width = tagger.hidden_mean.shape[0]
    scores = [fake_scores(p.text, width, seed=p.index) for p in doc.paragraphs]
    probs = tagger.word_probabilities(doc, scores)
    assert [len(p) for p in probs] == [len(s.words) for s in doc.sentences]
    assert all(0.0 <= p <= 1.0 for sentence in probs for p in sentence)
    assert len(tagger.sentence_probabilities(probs)) == len(doc.sentences)


@pytest.mark.model
def test_shipped_weights_with_the_real_model() -> None:
    from mtcheck.lm import models
    from mtcheck.lm.scorer import Scorer

    try:
        scorer = Scorer(models.load_model(device="cpu"))
    except models.ModelNotFoundError as exc:
        pytest.skip(str(exc))
    assert scorer.identity == PACKAGED_IDENTITY
    tagger = Tagger.load(scorer.identity)
    clean = "The museum will reopen next month after a long renovation, the city said on Tuesday."
    garbled = "The museum will reopen the the next month after renovation a long, the city said said on Tuesday."
    results = []
    for text in (clean, garbled):
        doc = Document.parse(text)
        scores = scorer.score([p.text for p in doc.paragraphs], hidden_layer=tagger.hidden_layer)
        results.append(max(tagger.sentence_probabilities(tagger.word_probabilities(doc, scores))))
    assert results[1] > results[0]


def test_mlqe_examples_label_the_words_the_post_editor_changed(tmp_path: Path, monkeypatch) -> None:
    import io
    import tarfile

    import train_tagger

    def add(tar, name: str, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode("utf-8")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    folder = tmp_path / "dev" / "mlqe-pe"
    folder.mkdir(parents=True)
    mt = [
        "The cat sat in the mat , he did n't know .",  # one changed word of 12: kept
        "Big big words all wrong here .",  # 5 of 7 changed: a rewrite, dropped
        "Jesus answered them :",  # unchanged: a clean negative
    ]
    tags = [
        "OK OK OK OK OK OK OK BAD OK OK OK OK OK OK OK OK OK OK OK OK OK OK OK OK OK",  # gap, word, gap, …
        "OK BAD OK BAD OK BAD OK BAD OK BAD OK OK OK OK OK",
        "OK OK OK OK OK OK OK OK OK",
    ]
    with tarfile.open(folder / "post-editing.ru-en-test.tar.gz", "w:gz") as tar:
        add(tar, "ru-en-test20/test20.mt", mt)
        add(tar, "ru-en-test20/test20.tags", tags)
    monkeypatch.setattr(train_tagger, "EVAL_DIR", tmp_path)
    examples = train_tagger.mlqe_examples()
    assert [e.text for e in examples] == ["The cat sat in the mat, he didn't know.", "Jesus answered them:"]
    first = examples[0]
    assert [first.text[a:b] for a, b in first.positive] == ["in"] and not first.clean
    assert examples[1].positive == [] and examples[1].clean
