"""Every heuristic rule's own docstring examples: the Bad one is flagged by that rule, the Good one
is not (the fluency rules' examples run on the real model: tests/lm/test_detector_real.py)."""

from __future__ import annotations

import pytest

from mtcheck import Checker
from mtcheck.config import Config
from mtcheck.rules.base import all_rules

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
    checker = Checker(Config(lm=False, select=(code,)))
    assert code in {f.code for f in checker.check(rule.example("Bad")).findings}
    assert code not in {f.code for f in checker.check(rule.example("Good")).findings}


def test_every_rule_has_both_examples() -> None:
    for code, rule in all_rules().items():
        assert rule.example("Bad") != rule.example("Good"), code
