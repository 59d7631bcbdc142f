"""Fluency rules F001–F002: declared like every family, reported only by the learned detector.

Their Bad/Good examples run on the real model in tests/lm/test_detector_real.py; the detector's
decoding is tested in tests/fluency/.
"""

from __future__ import annotations

from rule_testing import assert_registered

from mtcheck import Checker
from mtcheck.config import Config
from mtcheck.rules.base import all_rules


def test_rules_are_registered_with_metadata() -> None:
    assert_registered({"F001": "disfluent-span", "F002": "disfluent-sentence"})
    assert all_rules()["F001"].uses_lm and all_rules()["F002"].uses_lm


def test_without_the_language_model_no_fluency_finding_is_made() -> None:
    text = "Of the meeting the in happened was what it not clear to reporters yet."
    report = Checker(Config(lm=False)).check(text)
    assert not [f for f in report.documents[0].findings if f.code.startswith("F")]


def test_the_checker_never_runs_them_as_heuristics() -> None:
    # Their findings come from mtcheck.fluency.detector; Rule.check is not theirs to run.
    codes = {rule.code for rule in Checker(Config(lm=True)).rules}
    assert "F001" not in codes and "F002" not in codes and "Q001" in codes
