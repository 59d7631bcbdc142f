"""scripts/evaluate.py with the packaged model on a tiny made-up eval folder: the score-only sets
(BLiMP, JFLEG, holdout scored segments) skip F001's edit verification without changing a score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval_testing import fake_eval_dir  # noqa: E402

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]


def evaluate(data: Path, out: Path, cache: Path, *extra: str) -> dict:
    command = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--full", "--out", str(out), *extra]
    env = dict(os.environ, MTCHECK_EVAL_DIR=str(data), MTCHECK_CACHE=str(cache))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text())


def test_score_only_sets_skip_edit_verification_and_keep_their_scores(packaged_cache, tmp_path) -> None:
    data = tmp_path / "eval"
    fake_eval_dir(data)
    sets = ("--sets", "sentences,pairs")
    fast = evaluate(data, tmp_path / "fast.json", packaged_cache["root"], *sets)
    full = evaluate(data, tmp_path / "full.json", packaged_cache["root"], *sets, "--all-findings")
    assert fast["meta"]["score_only_sets_without_F001"] is True
    assert full["meta"]["score_only_sets_without_F001"] is False
    pairs_fast, pairs_full = fast["results"]["dev"]["pairs"], full["results"]["dev"]["pairs"]
    for name in ("blimp", "jfleg"):
        assert pairs_fast[name]["fluency"] is not None
        assert pairs_fast[name]["fluency"] == pairs_full[name]["fluency"]
    holdout_fast, holdout_full = fast["results"]["holdout"]["sentences"], full["results"]["holdout"]["sentences"]
    assert holdout_fast["min"] == holdout_full["min"]
    assert set(fast["timing"]) >= {"blimp", "jfleg", "sentences/holdout", "mqm/dev"}
