"""The real packaged SmolLM2 model: conversion cache, fluency signal, offsets, determinism.

Slow (one ~15 s conversion per session plus one rebuild); deselect with ``-m "not model"``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mtcheck.lm import models
from mtcheck.lm.scorer import Scorer
from mtcheck.lm.testing import assert_valid_spans

pytestmark = pytest.mark.model

# (fluent, garbled) pairs written for these tests.
MINIMAL_PAIRS = [
    ("The children walked to school in the morning.", "The children walked school to in morning the."),
    ("She has lived in this city for ten years.", "She have live in this city since ten years ago ago."),
    ("The minister said the talks were productive.", "The minister said the talks was productive productive."),
    (
        "Farmers hope the rain will arrive before the harvest.",
        "Farmers hope rain the arrive will before harvest of the.",
    ),
]


def test_conversion_builds_a_valid_cache(packaged_cache) -> None:
    loaded = packaged_cache["loaded"]
    folder = loaded.path
    assert folder.parent == packaged_cache["root"]
    assert models.manifest_problem(folder) is None
    assert loaded.identity.startswith(models.DEFAULT_GGUF + ":")
    assert loaded.device == "cpu" and loaded.max_positions >= 2048
    assert packaged_cache["convert_seconds"] < 120


def test_fluent_text_outscores_garbled_text(packaged_scorer) -> None:
    results = packaged_scorer.score([text for pair in MINIMAL_PAIRS for text in pair])
    totals = [r.total_logprob for r in results]
    for (fluent, garbled), good, bad in zip(MINIMAL_PAIRS, totals[::2], totals[1::2]):
        assert good > bad + 2, (fluent, good, garbled, bad)


def test_continuation_prefers_the_natural_word(packaged_scorer) -> None:
    prefix = "It was cold outside, so she put on her warm"
    coat, banana = packaged_scorer.continuation_logprob(prefix, [" coat", " banana"])
    assert coat > banana + 3


def test_real_tokenizer_offsets(packaged_scorer) -> None:
    texts = [
        "Officials in Zürich said “the plan” costs €4.5m — roughly 5% more.",
        "Line one.\n\nLine  two, after a blank line and a double space 🙂.",
        "東京 and São Paulo signed the accord.",
    ]
    for text, result in zip(texts, packaged_scorer.score(texts)):
        assert_valid_spans(text, result.starts, result.ends)
        assert result.surface(0) and text.split()[0].startswith(result.surface(0))
        words = [result.surface(i) for i in range(len(result))]
        assert "said" in words or "Line" in words or "and" in words


def test_scores_are_deterministic_and_batch_independent(packaged_cache, packaged_scorer) -> None:
    texts = [pair[0] for pair in MINIMAL_PAIRS]
    first = packaged_scorer.score(texts)
    second = packaged_scorer.score(texts)
    for a, b in zip(first, second):
        assert np.array_equal(a.logprobs, b.logprobs) and np.array_equal(a.entropy, b.entropy)
    one_by_one = Scorer(packaged_cache["loaded"], batch_size=1).score(texts[::-1])[::-1]
    for a, b in zip(first, one_by_one):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-3)


def test_second_load_reuses_the_cache(packaged_cache, capsys) -> None:
    manifest = packaged_cache["loaded"].path / models.MANIFEST
    before = manifest.stat().st_mtime_ns
    began = time.perf_counter()
    loaded = models.load_model(device="cpu")
    seconds = time.perf_counter() - began
    assert "converting" not in capsys.readouterr().err
    assert manifest.stat().st_mtime_ns == before
    assert seconds < 5, f"cached load took {seconds:.1f} s"
    assert loaded.identity == packaged_cache["loaded"].identity


def test_corrupt_cache_is_rebuilt(packaged_cache, capsys) -> None:
    folder = packaged_cache["loaded"].path
    with (folder / "config.json").open("a") as handle:
        handle.write("\n{broken")
    loaded = models.load_model(device="cpu")
    assert "converting the packaged model" in capsys.readouterr().err
    assert models.manifest_problem(folder) is None
    [result] = Scorer(loaded).score([MINIMAL_PAIRS[0][0]])
    assert np.all(np.isfinite(result.logprobs))
