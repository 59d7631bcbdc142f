"""Every heuristic rule's own docstring examples: the Bad one is flagged by that rule, the Good one
is not (the fluency rules' examples run on the real model: tests/lm/test_detector_real.py)."""

from __future__ import annotations

import pytest

from mtcheck import Checker
from mtcheck.config import Config
from mtcheck.rules.base import all_rules
from mtcheck.source.check import check_pairs, source_language

# Known defects (issue 20), each failing its own example today; strict: the test fails once one
# is fixed, so that its mark is removed.
KNOWN_FAILURES: set[str] = set()
CODES = sorted(code for code, cls in all_rules().items() if not cls.uses_lm)


@pytest.mark.parametrize(
    "code",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="known defect")) if c in KNOWN_FAILURES else c for c in CODES],
)
def test_bad_example_is_flagged_and_good_one_is_not(code: str) -> None:
    rule = all_rules()[code]
    assert code in codes_found(rule, "Bad")
    assert code not in codes_found(rule, "Good")


def codes_found(rule, kind: str) -> set[str]:
    config = Config(lm=False, select=(rule.code,))
    if not rule.needs_source:
        return {f.code for f in Checker(config).check(rule.example(kind)).findings}
    targets, source = rule.example_pair(kind)  # pieces of one accuracy example share one source
    assert source is not None, f"{rule.code}'s {kind} example names no source"
    found = check_pairs(targets, [source] * len(targets), config, source_language([source], None))
    return {f.code for findings in found for f in findings}


def test_every_rule_has_both_examples() -> None:
    for code, rule in all_rules().items():
        assert rule.example("Bad") != rule.example("Good"), code
