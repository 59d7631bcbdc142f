"""The real packaged model on the fast path: same numbers as transformers, light and quick to load.

Slow (uses the session's converted model); deselect with ``-m "not model"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mtcheck.lm.scorer import Scorer

pytestmark = pytest.mark.model

PARAGRAPHS = [
    "The harbour master said the ferries would run again on Friday, once the storm had passed.",
    (
        "Officials in the valley have not yet explained why the bridge was closed. Drivers waited "
        "for two hours, and some turned back towards the town."
    ),
    "Prices for fresh vegetables rose sharply at the market this spring, traders said.",
]
CASES = [
    ("Officials in the valley have not yet explained", [" why the bridge was closed.", " why bridge the closed was.", " the why bridge"]),
    ("The harbour master said the ferries would", [" run again on Friday.", " runs again on Friday.", " run on again Friday."]),
]


def test_light_load_is_used_for_the_packaged_model(packaged_cache) -> None:
    loaded = packaged_cache["loaded"]
    assert loaded.weights is not None
    assert Scorer(loaded).engine is not None


def test_engine_matches_transformers_on_the_real_model(packaged_cache) -> None:
    loaded = packaged_cache["loaded"]
    fast, slow = Scorer(loaded), Scorer(loaded, engine="transformers")
    for a, b in zip(fast.score(PARAGRAPHS), slow.score(PARAGRAPHS)):
        assert np.array_equal(a.token_ids, b.token_ids)
        assert np.abs(a.logprobs - b.logprobs).max() < 1e-3
        assert np.abs(a.entropy - b.entropy).max() < 1e-3
    for prefix, candidates in CASES:
        np.testing.assert_allclose(
            fast.continuation_logprob(prefix, candidates), slow.continuation_logprob(prefix, candidates), atol=2e-3
        )


def test_cached_load_is_fast_and_never_imports_transformers(packaged_cache) -> None:
    code = (
        "import json, sys, time\n"
        "import torch\n"
        "from mtcheck.lm.models import load_model\n"
        "began = time.perf_counter()\n"
        "loaded = load_model(device='cpu')\n"
        "seconds = time.perf_counter() - began\n"
        "print(json.dumps({'seconds': seconds, 'light': loaded.weights is not None,\n"
        "                  'transformers': 'transformers' in sys.modules}))\n"
    )
    env = {**os.environ, "MTCHECK_CACHE": str(packaged_cache["root"])}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["light"] and not result["transformers"]
    assert result["seconds"] < 1.0, result
