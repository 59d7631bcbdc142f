"""Scorer plumbing on the tiny random-weight model, checked against a plain full forward pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtcheck.lm.models import LMError
from mtcheck.lm.scorer import Scorer, start_token_id
from mtcheck.lm.testing import tiny_model

PARAGRAPHS = [
    "The bridge reopened on Monday. Drivers said the queues were shorter than expected.",
    "Rain again.",
    "A council spokesperson confirmed that the library, which closed for repairs in March, "
    "would welcome readers back before the school holidays, and that the café would follow.",
    "Numbers: 12, 3.5% and 2,000 — all “quoted”.",
]


def reference(lm, text: str, layer: int | None = None):
    """Logprobs, entropies (and a hidden layer) from one unbatched full forward pass."""
    ids = lm.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    inputs = torch.tensor([[start_token_id(lm.tokenizer), *ids]])
    with torch.no_grad():
        out = lm.model(input_ids=inputs, output_hidden_states=True)
    logp = torch.log_softmax(out.logits[0, :-1].double(), dim=-1)
    targets = inputs[0, 1:]
    logprobs = logp.gather(1, targets[:, None]).squeeze(1).numpy()
    entropy = -(logp.exp() * logp).sum(-1).numpy()
    hidden = None if layer is None else out.hidden_states[layer][0, 1:].numpy()
    return logprobs, entropy, hidden


def test_logprobs_and_entropy_match_a_full_forward_pass(tiny_lm, tiny_scorer) -> None:
    results = tiny_scorer.score(PARAGRAPHS)
    for text, result in zip(PARAGRAPHS, results):
        logprobs, entropy, _ = reference(tiny_lm, text)
        assert result.logprobs.dtype == np.float32 and result.entropy.dtype == np.float32
        np.testing.assert_allclose(result.logprobs, logprobs, atol=1e-4)
        np.testing.assert_allclose(result.entropy, entropy, atol=1e-4)


def test_scores_are_log_probabilities(tiny_lm, tiny_scorer) -> None:
    [result] = tiny_scorer.score([PARAGRAPHS[0]])
    assert np.all(result.logprobs <= 0)
    assert np.all(result.entropy >= -1e-5)
    assert np.all(result.entropy <= math.log(len(tiny_lm.tokenizer)) + 1e-4)
    # the tiny model has sharp predictions: tokens really differ, so misalignment would show
    assert np.ptp(result.logprobs) > 3


def test_output_order_and_text_are_kept(tiny_scorer) -> None:
    texts = [PARAGRAPHS[2], "", PARAGRAPHS[1], "   ", PARAGRAPHS[0]]
    results = tiny_scorer.score(texts)
    assert [r.text for r in results] == texts
    assert len(results[1]) == 0 and results[1].logprobs.shape == (0,)
    assert len(results[3]) > 0  # whitespace is still text the model can score
    single = tiny_scorer.score([PARAGRAPHS[0]])[0]
    np.testing.assert_allclose(results[4].logprobs, single.logprobs, atol=1e-4)


def test_same_input_gives_identical_scores(tiny_scorer) -> None:
    first = tiny_scorer.score(PARAGRAPHS)
    second = tiny_scorer.score(PARAGRAPHS)
    for a, b in zip(first, second):
        assert np.array_equal(a.logprobs, b.logprobs)
        assert np.array_equal(a.entropy, b.entropy)


@pytest.mark.parametrize("batch_size,budget", [(1, None), (3, None), (8, 64)])
def test_batch_composition_does_not_change_scores(tiny_lm, tiny_scorer, batch_size, budget) -> None:
    expected = tiny_scorer.score(PARAGRAPHS)
    other = Scorer(tiny_lm, batch_size=batch_size, token_budget=budget)
    mixed = other.score([PARAGRAPHS[3], "Filler text of a different length.", *PARAGRAPHS])
    for want, got in zip(expected, mixed[2:]):
        np.testing.assert_allclose(got.logprobs, want.logprobs, atol=1e-4)
        np.testing.assert_allclose(got.entropy, want.entropy, atol=1e-4)


def test_batches_respect_size_and_token_budget(tiny_lm) -> None:
    scorer = Scorer(tiny_lm, batch_size=3, token_budget=40)
    pieces = [p for i, t in enumerate(PARAGRAPHS * 3) for p in scorer._pieces(i, scorer.tokenize([t])[0][0])]
    batches = scorer._batches(pieces)
    assert sorted(id(p) for b in batches for p in b) == sorted(id(p) for p in pieces)
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(len(p.ids) for p in batch) <= 40


def test_earlier_text_is_context_for_later_sentences(tiny_scorer) -> None:
    sentence = " The queues were shorter."
    alone, after_a, after_b = tiny_scorer.score(
        ["Drivers said." + sentence, "Rain again." + sentence, "Rain again."]
    )
    tail = len(" The queues were shorter.")
    a = alone.logprobs[alone.starts >= len(alone.text) - tail + 1]
    b = after_a.logprobs[after_a.starts >= len(after_a.text) - tail + 1]
    assert a.shape == b.shape and not np.allclose(a, b, atol=1e-3)
    # causality: the shared beginning scores the same whatever follows it
    n = len(after_b)
    np.testing.assert_allclose(after_a.logprobs[:n], after_b.logprobs, atol=1e-4)


def test_hidden_states_are_each_tokens_own_state(tiny_lm, tiny_scorer) -> None:
    for layer in (0, 1, -1):
        [result] = tiny_scorer.score([PARAGRAPHS[0]], hidden_layer=layer)
        _, _, hidden = reference(tiny_lm, PARAGRAPHS[0], layer)
        assert result.hidden.dtype == np.float32
        assert result.hidden.shape == (len(result), tiny_lm.model.config.hidden_size)
        np.testing.assert_allclose(result.hidden, hidden, atol=1e-4)
    assert tiny_scorer.score([PARAGRAPHS[0]])[0].hidden is None
    with pytest.raises(ValueError, match="hidden_layer"):
        tiny_scorer.score([PARAGRAPHS[0]], hidden_layer=7)


def test_long_text_is_scored_in_windows_with_context(tiny_lm) -> None:
    text = " ".join(PARAGRAPHS * 3)
    scorer = Scorer(tiny_lm, max_tokens=24, context_tokens=8)
    [result] = scorer.score([text], hidden_layer=-1)
    ids = scorer.tokenize([text])[0][0]
    assert len(ids) > 60
    pieces = scorer._pieces(0, ids)
    assert [p.out_start for p in pieces] == sorted(p.out_start for p in pieces)
    emitted = [i for p in pieces for i in range(p.out_start, p.out_start + len(p.ids) - p.emit_from)]
    assert emitted == list(range(len(ids))), "every token is scored exactly once, in order"
    assert all(len(p.ids) <= 24 for p in pieces)
    # each window equals a fresh forward pass over start + context + new tokens
    for piece in pieces[:3]:
        with torch.no_grad():
            logits = tiny_lm.model(input_ids=torch.tensor([piece.ids])).logits[0].double()
        logp = torch.log_softmax(logits[:-1], dim=-1)
        want = logp.gather(1, torch.tensor(piece.ids[1:])[:, None]).squeeze(1).numpy()
        count = len(piece.ids) - piece.emit_from
        got = result.logprobs[piece.out_start : piece.out_start + count]
        np.testing.assert_allclose(got, want[piece.emit_from - 1 :], atol=1e-4)
    assert pieces[1].emit_from == 1 + 8
    # the first window is the unwindowed start of the paragraph
    [full] = Scorer(tiny_lm, max_tokens=256).score([text])
    np.testing.assert_allclose(result.logprobs[:23], full.logprobs[:23], atol=1e-4)
    assert not np.allclose(result.logprobs[23:60], full.logprobs[23:60], atol=1e-3)


def test_window_never_exceeds_the_model_context() -> None:
    lm = tiny_model(max_positions=32)
    scorer = Scorer(lm, max_tokens=1024)
    assert scorer.window == 32
    [result] = scorer.score([" ".join(PARAGRAPHS * 2)])
    assert np.all(np.isfinite(result.logprobs)) and np.all(result.logprobs < 0)


def test_continuation_logprob_equals_the_scored_tail(tiny_scorer) -> None:
    prefix = "The museum will open a new"
    candidates = [" gallery in May.", " galleries", " photography gallery", "", "s of modern art", " 東京"]
    got = tiny_scorer.continuation_logprob(prefix, candidates)
    assert got[3] == 0.0
    for candidate, value in zip(candidates, got):
        if not candidate:
            continue
        [full] = tiny_scorer.score([prefix + candidate])
        want = float(full.logprobs[full.ends > len(prefix)].sum())
        assert value == pytest.approx(want, abs=1e-3)


def test_continuation_logprob_with_many_candidates_and_no_prefix(tiny_lm) -> None:
    scorer = Scorer(tiny_lm, batch_size=4)
    candidates = [f" option {i} is here" for i in range(11)]
    got = scorer.continuation_logprob("", candidates)
    for candidate, value in zip(candidates, got):
        assert value == pytest.approx(scorer.score([candidate])[0].total_logprob, abs=1e-3)
    assert scorer.continuation_logprob("anything", []) == []


def test_continuation_logprob_truncates_a_long_prefix(tiny_lm) -> None:
    scorer = Scorer(tiny_lm, max_tokens=32, context_tokens=8)
    prefix = " ".join(PARAGRAPHS)
    values = scorer.continuation_logprob(prefix, [" yes", " no thanks"])
    assert all(math.isfinite(v) and v < 0 for v in values)
    long_candidate = " " + " ".join(PARAGRAPHS)
    [value] = scorer.continuation_logprob("Short.", [long_candidate])
    [full] = scorer.score(["Short." + long_candidate])
    assert value == pytest.approx(float(full.logprobs[full.ends > 6].sum()), abs=1e-3)


def test_span_logprob_sums_the_overlapping_tokens(tiny_scorer) -> None:
    text = "Café owners welcome 東京 visitors."
    [result] = tiny_scorer.score([text])
    start = text.index("東京")
    span = result.span_logprob(start, start + 2)
    inside = [i for i in range(len(result)) if result.surface(i) in ("東", "京")]
    assert len(inside) >= 2
    assert span == pytest.approx(float(result.logprobs[inside].sum()), abs=1e-4)
    assert result.total_logprob == pytest.approx(float(result.logprobs.sum()), abs=1e-3)


def test_start_token_choice() -> None:
    class Stub:
        def __init__(self, vocab, bos, eos):
            self.vocab, self.bos_token_id, self.eos_token_id = vocab, bos, eos

        def get_vocab(self):
            return self.vocab

    assert start_token_id(Stub({"<|endoftext|>": 0, "<s>": 1}, 1, 2)) == 0
    assert start_token_id(Stub({"<s>": 1}, 1, 2)) == 1
    assert start_token_id(Stub({}, None, 2)) == 2
    with pytest.raises(LMError):
        start_token_id(Stub({}, None, None))


def test_invalid_settings_are_rejected(tiny_lm) -> None:
    with pytest.raises(ValueError):
        Scorer(tiny_lm, batch_size=0)


def test_bfloat16_weights_still_give_float32_log_probabilities(tiny_lm) -> None:
    """The GPU setting (bfloat16 weights) projects to the vocabulary in float32; checked on CPU."""
    import dataclasses

    lm16 = tiny_model()
    lm16.model.to(torch.bfloat16)
    lm16 = dataclasses.replace(lm16, dtype=torch.bfloat16)
    scorer16 = Scorer(lm16)
    [low] = scorer16.score([PARAGRAPHS[0]], hidden_layer=-1)
    [full] = Scorer(tiny_lm).score([PARAGRAPHS[0]])
    assert scorer16._head_weight32 is not None and scorer16._head_weight32[0].dtype == torch.float32
    assert low.logprobs.dtype == np.float32 and low.hidden.dtype == np.float32
    # bfloat16 activations drift a little; the ranking of tokens must survive
    assert np.corrcoef(low.logprobs, full.logprobs)[0, 1] > 0.95
    [value] = scorer16.continuation_logprob("The bridge", [" reopened on Monday."])
    assert math.isfinite(value) and value < 0
