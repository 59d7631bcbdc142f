"""Every rule, heuristic or LM, carries the metadata users and `mtcheck rules` rely on."""

import re

from mtcheck.findings import Severity
from mtcheck.rules.base import FAMILIES, all_rules


def test_codes_slugs_and_docs_are_complete_and_unique():
    rules = all_rules()
    assert len(rules) >= 20
    slugs = [cls.slug for cls in rules.values()]
    assert len(slugs) == len(set(slugs))
    for code, cls in rules.items():
        assert re.fullmatch(r"[QRPGCSFA]\d{3}", code)
        assert code[0] in FAMILIES
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.slug)
        assert isinstance(cls.severity, Severity)
        assert cls.summary and "\n" not in cls.summary
        description = cls.description()
        assert "Bad:" in description and "Good:" in description, code


def test_lm_rules_are_marked_and_heuristic_rules_are_not():
    rules = all_rules()
    assert {code for code, cls in rules.items() if cls.uses_lm} == {"F001", "F002"}
