"""The real packaged model (Gemma-3-270M): conversion cache, offsets, rebuilding a damaged cache.

Slow (one ~15 s conversion per session plus one rebuild); deselect with ``-m "not model"``.
"""

from __future__ import annotations

import pytest

from mtcheck.lm import models
from mtcheck.lm.backbone import Backbone
from mtcheck.lm.testing import assert_valid_spans

pytestmark = pytest.mark.model

def test_conversion_builds_a_valid_cache(packaged_cache) -> None:
    loaded = packaged_cache["loaded"]
    folder = loaded.path
    assert folder.parent == packaged_cache["root"]
    assert models.manifest_problem(folder) is None
    assert loaded.identity.startswith(models.DEFAULT_GGUF + ":")
    assert loaded.device == "cpu" and loaded.max_positions >= 2048


def test_real_tokenizer_offsets(packaged_backbone) -> None:
    texts = [
        "Officials in Zürich said “the plan” costs €4.5m — roughly 5% more.",
        "Line one.\n\nLine  two, after a blank line and a double space 🙂.",
        "東京 and São Paulo signed the accord.",
    ]
    for text, (ids, starts, ends) in zip(texts, packaged_backbone.tokenize(texts)):
        assert_valid_spans(text, starts, ends)
        words = [text[a:b] for a, b in zip(starts, ends)]
        assert words[0] and text.split()[0].startswith(words[0])
        assert "said" in words or "Line" in words or "and" in words


def test_second_load_reuses_the_cache(packaged_cache, capsys) -> None:
    manifest = packaged_cache["loaded"].path / models.MANIFEST
    before = manifest.stat().st_mtime_ns
    loaded = models.load_model(device="cpu")
    assert "converting" not in capsys.readouterr().err
    assert manifest.stat().st_mtime_ns == before
    assert loaded.identity == packaged_cache["loaded"].identity


def test_corrupt_cache_is_rebuilt(packaged_cache, capsys) -> None:
    folder = packaged_cache["loaded"].path
    with (folder / "config.json").open("a") as handle:
        handle.write("\n{broken")
    loaded = models.load_model(device="cpu")
    assert "converting the packaged model" in capsys.readouterr().err
    assert models.manifest_problem(folder) is None
    ids = Backbone(loaded).tokenize(["The children walked to school."])[0][0]
    states = Backbone(loaded).engine.states([ids], 4)
    assert bool(states.isfinite().all())
