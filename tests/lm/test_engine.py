"""The engine's frozen layers give transformers' own hidden states, in every batching, on the tiny model."""

from __future__ import annotations

import pytest
import torch

from mtcheck.lm.backbone import Backbone
from mtcheck.lm.engine import LlamaEngine, _RowLayout
from mtcheck.lm.testing import tiny_model

TEXTS = [
    "The ferry left the harbour at dawn, and the gulls followed it out past the breakwater.",
    "Short one.",
    "Prices: 3.5%, 12 and 2,000 — all “quoted”; the end?",
    "Rain.",
]


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(tiny_model(seed=3), threads=1)


def _rows(backbone: Backbone) -> list[list[int]]:
    return [[backbone.start_id, *ids] for ids, _, _ in backbone.tokenize(TEXTS)]


@pytest.mark.parametrize("depth", [1, 2])
def test_states_match_transformers_hidden_states(backbone, depth) -> None:
    model = backbone.loaded.model
    for row in _rows(backbone):
        with torch.no_grad():
            want = model(torch.tensor([row]), output_hidden_states=True).hidden_states[depth][0]
        got = backbone.engine.states([row], depth)
        if depth == len(backbone.engine.layers):
            # transformers' last hidden state is normed; the engine returns the raw residual stream
            got = torch.nn.functional.rms_norm(got, (got.shape[-1],), model.model.norm.weight, model.config.rms_norm_eps)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-3)


def test_a_row_gets_the_same_states_alone_or_batched(backbone) -> None:
    rows = _rows(backbone)
    together = backbone.engine.states(rows, 2)
    cursor = 0
    for row in rows:
        alone = backbone.engine.states([row], 2)
        assert torch.allclose(together[cursor : cursor + len(row)], alone, rtol=1e-4, atol=1e-3)
        cursor += len(row)


def test_packed_attention_equals_bucket_attention(backbone) -> None:
    rows = _rows(backbone)
    packed = LlamaEngine.from_model(backbone.loaded.model, attention="packed")
    assert torch.allclose(packed.states(rows, 2), backbone.engine.states(rows, 2), rtol=1e-4, atol=1e-3)
    layout = _RowLayout([40, 38, 9, 8, 2], "bucket", torch.device("cpu"))
    assert len(layout.buckets) >= 2
    assert sorted(int(i) for _, _, flat, _ in layout.buckets for i in flat) == list(range(97))


def test_bad_arguments_are_refused(backbone) -> None:
    with pytest.raises(ValueError):
        backbone.engine.states([], 1)
    with pytest.raises(ValueError):
        LlamaEngine.from_model(backbone.loaded.model, attention="fastest")
    with pytest.raises(ValueError):
        Backbone(tiny_model(seed=3), precision="float8")


def test_bf16_matmuls_stay_close_to_float32() -> None:
    exact = Backbone(tiny_model(seed=3), threads=1)
    fast = Backbone(tiny_model(seed=3), threads=1, precision="bf16")
    rows = _rows(exact)
    assert fast.engine.precision == "bf16"
    want = exact.engine.states(rows, 2)
    difference = (want - fast.engine.states(rows, 2)).abs()
    assert 0 < float(difference.max()) < 0.1 * float(want.abs().max())  # bfloat16 keeps 8 bits of mantissa


def test_surprisal_columns_match_transformers_log_probabilities(backbone) -> None:
    model = backbone.loaded.model
    rows = _rows(backbone)
    got = backbone.engine.states(rows, 1, surprisal=True)
    hidden = backbone.engine.hidden_size
    assert got.shape == (sum(len(r) for r in rows), hidden + 2)
    assert torch.equal(got[:, :hidden], backbone.engine.states(rows, 1))
    cursor = 0
    for row in rows:
        with torch.no_grad():
            log_probs = torch.log_softmax(model(torch.tensor([row])).logits[0].float(), dim=-1)
        want_surprisal = -log_probs[:-1].gather(1, torch.tensor(row[1:]).unsqueeze(1)).squeeze(1)
        want_entropy = -(log_probs[:-1].exp() * log_probs[:-1]).sum(dim=1)
        part = got[cursor : cursor + len(row), hidden:]
        assert torch.equal(part[0], torch.zeros(2))  # nothing predicts a row's first token
        assert torch.allclose(part[1:, 0], want_surprisal, rtol=1e-4, atol=1e-3)
        assert torch.allclose(part[1:, 1], want_entropy, rtol=1e-4, atol=1e-3)
        cursor += len(row)
