"""Helpers shared by the rule tests: run one rule on a text and check the spans it reports."""

from __future__ import annotations

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, all_rules


def run(rule: Rule, text: str, allow: tuple[str, ...] = ()) -> list[Finding]:
    findings = list(rule.check(Document.parse(text), RuleContext(frozenset(allow))))
    for f in findings:
        assert 0 <= f.start <= f.end <= len(text)
        assert f.code == rule.code
    return findings


def spans(rule: Rule, text: str, allow: tuple[str, ...] = ()) -> list[str]:
    return [text[f.start : f.end] for f in run(rule, text, allow)]


def assert_registered(slugs: dict[str, str]) -> None:
    registry = all_rules()
    for code, slug in slugs.items():
        cls = registry[code]
        assert cls.slug == slug
        assert isinstance(cls.severity, Severity)
        assert "Bad:" in cls.description() and "Good:" in cls.description()
