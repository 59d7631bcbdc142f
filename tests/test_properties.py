"""Property tests over random Unicode (hypothesis): whatever the text, findings point inside it,
their line:col agree with their offsets, a suggestion changes only its span, and nothing raises.

The alphabet is weighted towards what breaks text tools: quotation marks of every kind, CR/LF
mixes, NUL, zero-width and bidirectional marks, combining accents, astral characters, and long
repeats of words and marks.
"""

from __future__ import annotations

import re

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mtcheck import Checker  # noqa: E402
from mtcheck.config import Config  # noqa: E402

TRICKY = [
    "\"", "'", "“", "”", "‘", "’", "«", "»", "„", "「", "」",
    "\r\n", "\r", "\n", "\n\n", "\x00", "\u200b", "\u200d", "\ufeff", "\u202e", "\u200f", "\u0301",
    "😀", "𝔘", "XI", "Xi", "the", "the the", " , ", " . ", "...", "—", ":", ";", "(", ")", "1,000", "3.5%",
    "He said.", "Mr. Smith", "Ab.” ", "“Ab ", "thick and thin and thin", "NATO", "Paris", "ÉCOLE",
]
WORDS = ["The", "council", "met", "on", "Monday", "said", "and", "in", "a", "report", "talks", "ended"]

fragments = st.one_of(
    st.sampled_from(TRICKY),
    st.sampled_from(WORDS).map(lambda w: w + " "),
    st.text(min_size=1, max_size=8),
    st.tuples(st.sampled_from(TRICKY + WORDS), st.integers(2, 60)).map(lambda pair: (pair[0] + " ") * pair[1]),
)
texts = st.lists(fragments, max_size=40).map("".join)

CHECKER = Checker(Config(lm=False))
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_col(text: str, offset: int) -> tuple[int, int]:
    """Line and column counted from scratch: a line ends at CRLF, CR or LF."""
    starts = [0] + [m.end() for m in LINE_BREAK.finditer(text, 0, offset) if m.end() <= offset]
    return len(starts), offset - starts[-1] + 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_findings_are_spans_of_the_text_with_true_line_and_column(text: str) -> None:
    report = CHECKER.check(text)
    document = report.documents[0]
    assert document.document.text == text  # offsets refer to the user's text, untouched
    for finding in document.findings:
        assert 0 <= finding.start <= finding.end <= len(text)
        described = document.finding_dict(finding)
        assert described["text"] == text[finding.start : finding.end]
        assert (described["line"], described["column"]) == line_col(text, finding.start)
        assert (described["end_line"], described["end_column"]) == line_col(text, finding.end)
        if finding.suggestion is not None:
            # a fix replaces exactly its span with something else, and the result checks cleanly
            assert finding.suggestion != text[finding.start : finding.end], finding
            CHECKER.check(text[: finding.start] + finding.suggestion + text[finding.end :])
    for sentence in document.sentences:
        assert 0 <= sentence.start <= sentence.end <= len(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4))
def test_checking_together_or_alone_gives_the_same_findings(batch: list[str]) -> None:
    together = CHECKER.check_many([(t, f"t{i}") for i, t in enumerate(batch)])
    for text, document in zip(batch, together.documents):
        alone = CHECKER.check(text).documents[0]
        assert [(f.code, f.start, f.end) for f in alone.findings] == [(f.code, f.start, f.end) for f in document.findings]


@settings(max_examples=60, deadline=None)
@given(texts)
def test_every_output_format_renders_any_text(text: str) -> None:
    from mtcheck.formats import render

    report = CHECKER.check(text)
    for name in ("text", "json", "jsonl", "sarif", "github", "junit", "markdown", "html"):
        assert isinstance(render(report, name), str)
