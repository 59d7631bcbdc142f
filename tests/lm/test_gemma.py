"""A Gemma 3 backbone: the engine's frozen layers and the network's trained copies give
transformers' own hidden states, on a tiny random Gemma 3 with local and global layers."""

from __future__ import annotations

import pytest
import torch

from mtcheck.document import Document
from mtcheck.fluency import network
from mtcheck.lm.backbone import Backbone, engine_for
from mtcheck.lm.engine import LlamaEngine
from mtcheck.lm.gemma import GemmaEngine
from mtcheck.lm.models import LMError
from mtcheck.lm.testing import tiny_detector, tiny_gemma_model

TEXTS = [
    "The ferry left the harbour at dawn, and the gulls followed it out past the breakwater.",
    "Short one.",
    "Prices: 3.5%, 12 and 2,000 — all “quoted”; the end?",
]


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(tiny_gemma_model(seed=5), threads=1)


def _rows(backbone: Backbone) -> list[list[int]]:
    return [[backbone.start_id, *ids] for ids, _, _ in backbone.tokenize(TEXTS)]


def test_a_gemma_model_gets_the_gemma_engine(backbone) -> None:
    assert type(backbone.engine) is GemmaEngine
    assert engine_for(backbone.loaded.model) is GemmaEngine
    bases = {backbone.engine.rope_base(i) for i in range(len(backbone.engine.layers))}
    assert len(bases) == 2  # local and global layers rotate differently


@pytest.mark.parametrize("attention", ["bucket", "packed"])
@pytest.mark.parametrize("depth", [1, 2])
def test_states_match_transformers_hidden_states(backbone, depth, attention) -> None:
    model = backbone.loaded.model
    engine = GemmaEngine.from_model(model, attention=attention)
    rows = _rows(backbone)
    together = engine.states(rows, depth)
    cursor = 0
    for row in rows:
        with torch.no_grad():
            want = model(torch.tensor([row]), output_hidden_states=True).hidden_states[depth][0]
        assert torch.allclose(together[cursor : cursor + len(row)], want, rtol=1e-4, atol=1e-3)
        cursor += len(row)


@pytest.mark.parametrize("depth", [0, 1])
def test_the_networks_trained_layer_starts_as_the_backbones_next_layer(backbone, depth) -> None:
    engine = backbone.engine
    shape = network.shape_for(engine, depth=depth, top=1, gru=4)
    assert shape.arch == "gemma3"
    net = network.initialised(engine, shape, seed=0)
    rows = _rows(backbone)
    flat = engine.states(rows, depth) if depth else engine.embed[torch.tensor(sum(rows, []))] * engine.embed_scale
    states, lengths = network.padded(torch.split(flat, [len(r) for r in rows]))
    length = states.shape[1]
    valid = torch.arange(length)[None, :] < lengths[:, None]
    mask = (torch.ones(length, length, dtype=torch.bool).tril()[None] & valid[:, None, :])[:, None]
    with torch.no_grad():
        got = net.layers[0](states, None, None, mask)
    want = torch.split(engine.states(rows, depth + 1), [len(r) for r in rows])
    for index, row in enumerate(want):
        assert torch.allclose(got[index, : len(row)], row, rtol=1e-4, atol=1e-3)


def test_a_detector_runs_on_a_gemma_backbone(backbone) -> None:
    detector = tiny_detector(backbone, depth=1)
    document = Document.parse("The cat sat on the the mat. It was warm.")
    probabilities = detector.probabilities([document])[0]
    assert len(probabilities) == len(document.words) > 0 and ((probabilities > 0) & (probabilities < 1)).all()


def test_other_architectures_are_refused_with_both_reasons() -> None:
    class Config:
        model_type = "gpt2"

    class Model:
        config = Config()

    with pytest.raises(LMError, match="Llama or Gemma 3 backbone: model type 'gpt2' is not llama; .*not gemma3_text"):
        engine_for(Model())
    assert LlamaEngine.unsupported(Model()) and GemmaEngine.unsupported(Model())
