"""A tiny random-weight causal LM and tokenizer, built in memory, for fast plumbing tests.

>>> from mtcheck.lm.testing import tiny_model
>>> from mtcheck.lm.backbone import Backbone
>>> backbone = Backbone(tiny_model())      # ~0.1 s, no files, no network

The tokenizer is a byte-level BPE like SmolLM2's (offsets include the leading space, an
``<|endoftext|>`` start token, no BOS added), trained on a few made-up sentences. The weights are
random but seeded, with a large initializer range so that predictions are sharp and depend on
context: a test that misaligns positions or context then gets clearly different numbers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mtcheck.lm.models import LoadedModel

TRAINING_SENTENCES = (
    "The committee approved the new budget on Tuesday after a long debate.",
    "Rain is expected to continue through the weekend in the northern valleys.",
    "She said the bridge would reopen once the repairs were finished.",
    "Officials have not yet explained why the train left the station early.",
    "Prices for fresh vegetables rose sharply at the market this spring.",
    "\"We are very happy with the result,\" the coach told reporters.",
    "The museum will open a new gallery for modern photography in May.",
    "Students at the school planted forty trees along the river path.",
    "Café owners in the old town welcome the longer summer evenings.",
    "Numbers: 1, 2, 3, 10%, 2024 — and (brackets) [too]; done? yes!",
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|pad|>")


@lru_cache(maxsize=4)
def _tokenizer_json(vocab_size: int) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_SENTENCES, trainer)
    return tokenizer.to_str()


def tiny_tokenizer(vocab_size: int = 400) -> Any:
    """A PreTrainedTokenizerFast with a byte-level BPE vocabulary of about ``vocab_size``."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(_tokenizer_json(vocab_size))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
        model_max_length=256,
    )


def seeded_llama(config, seed: int):
    """LlamaForCausalLM(config) in eval mode with weights drawn from ``seed``; torch's global
    generator is left as it was."""
    import torch
    from transformers import LlamaForCausalLM

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return LlamaForCausalLM(config).eval()
    finally:
        torch.random.set_rng_state(generator_state)


def tiny_model(
    seed: int = 0,
    max_positions: int = 256,
    layers: int = 2,
    hidden: int = 32,
    init_range: float = 0.5,
    vocab_size: int = 400,
) -> LoadedModel:
    """A random-weight LlamaForCausalLM on CPU with its tokenizer, as a LoadedModel."""
    import torch
    from transformers import LlamaConfig

    tokenizer = tiny_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        initializer_range=init_range,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = seeded_llama(config, seed)
    identity = f"tiny-llama:seed={seed}:layers={layers}:hidden={hidden}:vocab={len(tokenizer)}"
    return LoadedModel(model, tokenizer, "cpu", torch.float32, identity, max_positions, None)


def tiny_gemma_model(seed: int = 0, layers: int = 3, hidden: int = 32, init_range: float = 0.5) -> LoadedModel:
    """A random-weight Gemma 3 text model (local and global layers) with the tiny tokenizer."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        layer_types=["sliding_attention", "full_attention"] * (layers // 2) + ["sliding_attention"] * (layers % 2),
        sliding_window=512, max_position_embeddings=256, initializer_range=init_range,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = Gemma3ForCausalLM(config).eval()
        with torch.no_grad():  # Gemma's norms start at zero (scale 1 + 0): give them values to test
            for name, parameter in model.named_parameters():
                if name.endswith("norm.weight"):
                    parameter.uniform_(-0.5, 0.5)
    finally:
        torch.random.set_rng_state(generator_state)
    identity = f"tiny-gemma:seed={seed}:layers={layers}:hidden={hidden}:vocab={len(tokenizer)}"
    return LoadedModel(model, tokenizer, "cpu", torch.float32, identity, 256, None)


def assert_valid_spans(text: str, starts: Any, ends: Any) -> None:
    """Check the span conventions of mtcheck.lm.backbone (for tests of any tokenizer)."""
    import numpy as np

    starts, ends = np.asarray(starts), np.asarray(ends)
    assert starts.shape == ends.shape, "starts and ends differ in length"
    assert np.all(starts <= ends), "a span ends before it starts"
    assert np.all(np.diff(starts) >= 0), "starts must never decrease"
    assert np.all(np.diff(ends) >= 0), "ends must never decrease"
    assert starts.min(initial=0) >= 0 and ends.max(initial=0) <= len(text), "span outside the text"
    covered = np.zeros(len(text), dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist()):
        covered[start:end] = True
        surface = text[start:end]
        if surface and not surface.isspace():
            assert not surface[0].isspace(), f"leading space left in {surface!r}"
    for index, char in enumerate(text):
        if not char.isspace():
            assert covered[index], f"character {char!r} at {index} is in no token"


def tiny_detector(backbone: Any, depth: int = 1, seed: int = 3, thresholds: Any = None, surprisal: bool = False) -> Any:
    """A Detector over a tiny backbone (see tiny_model) with a freshly initialised network
    (reading the backbone's surprisal columns too when ``surprisal``)."""
    from mtcheck.fluency.decode import Thresholds
    from mtcheck.fluency.detector import Detector
    from mtcheck.fluency.network import initialised, shape_for
    from mtcheck.fluency.weights import DetectorWeights
    from mtcheck.lm.engine import SURPRISAL_COLUMNS

    shape = shape_for(backbone.engine, depth=depth, top=1, gru=8, features=SURPRISAL_COLUMNS if surprisal else 0)
    net = initialised(backbone.engine, shape, seed=seed)
    thresholds = thresholds or Thresholds(span_info=0.0, span_warning=0.99, awkward=0.5, garbled=0.2)
    return Detector(backbone, DetectorWeights(backbone.identity, shape, thresholds, {}, net.state_dict()))
