"""The real packaged model on the fast path: same states as transformers, and a light load.

Slow (uses the session's converted model); deselect with ``-m "not model"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mtcheck.lm.backbone import Backbone

pytestmark = pytest.mark.model

PARAGRAPHS = [
    "The harbour master said the ferries would run again on Friday, once the storm had passed.",
    (
        "Officials in the valley have not yet explained why the bridge was closed. Drivers waited "
        "for two hours, and some turned back towards the town."
    ),
    "Prices for fresh vegetables rose sharply at the market this spring, traders said.",
]


def test_light_load_is_used_for_the_packaged_model(packaged_cache) -> None:
    loaded = packaged_cache["loaded"]
    assert loaded.weights is not None
    assert Backbone(loaded).engine is not None


def test_engine_matches_transformers_on_the_real_model(packaged_cache) -> None:
    import torch

    loaded = packaged_cache["loaded"]
    backbone = Backbone(loaded)
    model = loaded.model  # transformers' own model, built from the same cache
    for ids, _, _ in backbone.tokenize(PARAGRAPHS):
        row = [backbone.start_id, *ids]
        with torch.no_grad():
            want = model(torch.tensor([row]), output_hidden_states=True).hidden_states
        for depth in (1, len(backbone.engine.layers) // 2, len(backbone.engine.layers) - 1):
            got = backbone.engine.states([row], depth)
            # Gemma's residual stream reaches ~1e5 at the start token: float rounding grows with it
            assert (got - want[depth][0]).abs().max() <= 1e-3 + 1e-6 * want[depth][0].abs().max()


def test_cached_load_never_imports_transformers(packaged_cache) -> None:
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
