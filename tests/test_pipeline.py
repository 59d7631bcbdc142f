"""The pipeline's last steps: merging LM and heuristic spans (never a suggestion for a span it was not made for), and the per-rule cap."""

from __future__ import annotations

from mtcheck.findings import Finding, Severity
from mtcheck.pipeline import merge_overlapping

TEXT = "They chose to silence their their critics at once."
REPEAT = TEXT.index("their their")


def heuristic(start: int, end: int, suggestion: str | None) -> Finding:
    return Finding("R003", "repeated-word", Severity.WARNING, start, end, "Repeated word.", suggestion)


def lm(start: int, end: int) -> Finding:
    return Finding("F001", "garbled-span", Severity.INFO, start, end, "Unusual wording.", None, 0.9)


def test_a_wider_lm_span_drops_the_heuristic_fix() -> None:
    fix = heuristic(REPEAT + 5, REPEAT + 11, "")  # delete " their"
    wide = lm(TEXT.index("silence"), TEXT.index(" critics"))
    [merged] = merge_overlapping([fix, wide])
    assert (merged.start, merged.end) == (wide.start, wide.end) and merged.code == "R003"
    assert merged.suggestion is None and merged.severity == Severity.WARNING
    assert "Language model" in merged.message


def test_an_lm_span_inside_the_heuristic_keeps_its_fix() -> None:
    fix = heuristic(REPEAT, REPEAT + 11, "their")
    [merged] = merge_overlapping([fix, lm(REPEAT + 6, REPEAT + 11)])
    assert (merged.start, merged.end, merged.suggestion) == (REPEAT, REPEAT + 11, "their")


def test_disjoint_spans_stay_apart_and_each_lm_span_finds_its_partner() -> None:
    first, second = heuristic(0, 4, None), heuristic(30, 35, "x")
    spans = [lm(10, 12), lm(33, 40), lm(45, 48)]
    merged = merge_overlapping([second, first, *spans])
    assert [(f.code, f.start, f.end) for f in merged] == [
        ("R003", 0, 4), ("F001", 10, 12), ("R003", 30, 40), ("F001", 45, 48)
    ]
    assert merged[2].suggestion is None


def test_thousands_of_findings_merge_one_to_one() -> None:
    heuristics = [heuristic(i * 10, i * 10 + 3, "") for i in range(20_000)]
    spans = [lm(i * 10 + 2, i * 10 + 8) for i in range(0, 20_000, 2)]
    merged = merge_overlapping(heuristics + spans)
    assert len(merged) == 20_000 and all(f.suggestion is None for f in merged[::2])


def test_a_rule_stops_after_its_cap_and_says_so() -> None:
    from mtcheck import Checker
    from mtcheck.config import Config
    from mtcheck.pipeline import MAX_FINDINGS_PER_RULE

    text = "Ab.\u201d " * (MAX_FINDINGS_PER_RULE + 50)
    findings = [f for f in Checker(Config(lm=False, select=("Q001",))).check(text).findings]
    assert len(findings) == MAX_FINDINGS_PER_RULE
    assert findings[-1].message.endswith(f"(This rule stopped after {MAX_FINDINGS_PER_RULE:,} findings in this document.)")
    assert "stopped" not in findings[-2].message
