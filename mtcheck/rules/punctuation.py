"""Punctuation rules: doubled and stray marks, missing space after a sentence end."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register

CLOSING_QUOTES = "”’\"'»"


@register
class DoubledPunctuation(Rule):
    """Catches the same sentence mark repeated, with or without a space between.

    Bad: ``the talks collapsed. .`` / ``Moscow,, Beijing``
    Good: ``the talks collapsed.`` / ``Moscow, Beijing``

    An ellipsis (``...``) and ``?!`` combinations are left alone.
    """

    code = "P001"
    slug = "doubled-punctuation"
    severity = Severity.WARNING
    summary = "The same punctuation mark twice in a row ('. .', ',,')."

    PATTERN = re.compile(r"([.,;:])([ \t]*[" + re.escape(CLOSING_QUOTES) + r")\]]?[ \t]*\1)+")
    DOTS_RUN = re.compile(r"[. \t]*")

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for m in self.PATTERN.finditer(doc.text):
            if m.group(1) == "." and self._is_ellipsis(doc.text, m.start()):
                continue
            yield self.finding(
                m.start() + 1,
                m.end(),
                f"'{m.group(1)}' is repeated; delete the extra mark.",
                suggestion=doc.text[m.start() + 1 : m.end() - 1].strip(),
            )

    def _is_ellipsis(self, text: str, start: int) -> bool:
        run = self.DOTS_RUN.match(text, start).group()
        return run.count(".") >= 3 or text[start - 1 : start] == "."


@register
class SpaceBeforePunctuation(Rule):
    """Catches a space before a comma, period, semicolon, colon, '?' or '!'.

    Bad: ``the president said , in a statement .``
    Good: ``the president said, in a statement.``

    Numbers (``.5``), ellipses and marks that open a line are left alone.
    """

    code = "P002"
    slug = "space-before-punctuation"
    severity = Severity.WARNING
    summary = "Whitespace before a sentence or clause mark ('word .')."

    PATTERN = re.compile(r"(?<=[^\s.,;:!?])[ \t]+([,.;:!?])(?![\d.])")

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for m in self.PATTERN.finditer(doc.text):
            mark = m.group(1)
            if mark == ":" and doc.text[m.end() : m.end() + 1].isdigit():
                continue
            yield self.finding(
                m.start(),
                m.end(),
                f"Space before '{mark}'.",
                suggestion=mark,
            )


@register
class MissingSpaceAfterSentence(Rule):
    """Catches two sentences glued together with no space after the end mark.

    Bad: ``The talks ended.The leaders left.``
    Good: ``The talks ended. The leaders left.``

    Decimals (``3.5``), domains (``example.com``), abbreviations (``U.S.``) are left alone.
    """

    code = "P003"
    slug = "missing-space-after-sentence"
    severity = Severity.WARNING
    summary = "A sentence end followed directly by the next sentence ('ended.The')."

    PATTERN = re.compile(r"(?<=[a-z]{2})([.!?])([A-Z][a-z]+)")

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for m in self.PATTERN.finditer(doc.text):
            # the word the dot ends ("e.g.The", "site.com"): a bounded look-back keeps this linear
            before = doc.text[max(0, m.start() - 64) : m.start()].rsplit(None, 1)
            token = before[-1] if before else ""
            if "." in token or "/" in token or "@" in token:
                continue
            after = doc.text[m.end() : m.end() + 1]
            if after in (".", "/", "@") or doc.text[m.end() : m.end() + 4].lower().startswith((".com", ".org")):
                continue
            yield self.finding(
                m.start(),
                m.start(2) + 1,
                f"No space after '{m.group(1)}'.",
                suggestion=f"{m.group(1)} {m.group(2)[0]}",
            )


@register
class StrayPunctuation(Rule):
    """Catches a punctuation mark that begins a sentence, belonging to no word.

    Bad: ``; And then they left.`` / ``, the minister said``
    Good: ``And then they left.`` / ``the minister said``

    A mark after a word with a space before it ("He left .") is P002's.
    """

    code = "P004"
    slug = "stray-punctuation"
    severity = Severity.WARNING
    summary = "A ',', ';', ':' or '.' at the start of a sentence, belonging to no word."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for sentence in doc.sentences:
            m = re.match(r"[,;.:]+(?=\s|$)", sentence.text)
            if m and not sentence.text.startswith("..."):
                yield self.finding(
                    sentence.start,
                    sentence.start + m.end(),
                    "Punctuation at the start of a sentence belongs to no word.",
                    suggestion="",
                )
