"""Quotation-mark rules: unmatched, truncated, spaced and empty quotations.

How marks pair up, and the news conventions that are not errors, is the analysis in
:mod:`mtcheck.rules.quote_pairing`; each rule here reports one kind of mark it leaves unpaired
or misplaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register
from mtcheck.rules.quote_pairing import (
    DOUBLE_CLOSERS,
    DOUBLE_OPENERS,
    INTRODUCER_BEFORE,
    INTRODUCER_LOOKBACK,
    MID_CLAUSE_STARTS,
    POSSESSIVE_LIKE,
    STRAIGHT_DOUBLE,
    ParagraphQuotes,
    is_empty_quotation,
    quote_analysis,
    truncation_start,
)


class _QuoteRule(Rule):
    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for quotes in quote_analysis(doc):
            yield from self.check_paragraph(doc, quotes)

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        raise NotImplementedError


@register
class UnmatchedClosingQuote(_QuoteRule):
    """Catches a closing quotation mark with no opening mark before it in the paragraph.

    Bad: ``The ministry said the talks were productive.” Officials left.``
    Good: ``The ministry said the talks were “productive.” Officials left.``

    A closing mark whose quotation visibly starts mid-clause is reported as Q004 instead.
    A ``"`` after a digit may be an inch mark and is left alone when it pairs with nothing.
    """

    code = "Q001"
    slug = "unmatched-closing-quote"
    severity = Severity.ERROR
    summary = "A closing quotation mark that closes nothing in its paragraph."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        for mark in quotes.unmatched_close:
            if truncation_start(doc, quotes, mark) is not None:
                continue
            if mark.char == STRAIGHT_DOUBLE and POSSESSIVE_LIKE.match(doc.text, mark.pos - 2):
                yield self.finding(
                    mark.pos,
                    mark.pos + 1,
                    "Unpaired '\"' after a plural noun: probably an apostrophe (possessive).",
                    suggestion="'",
                )
                continue
            yield self.finding(
                mark.pos,
                mark.pos + 1,
                f"Closing quotation mark '{mark.char}' has no opening mark in this paragraph.",
            )


@register
class UnmatchedOpeningQuote(_QuoteRule):
    """Catches an opening quotation mark that is never closed in its paragraph.

    Bad: ``He said “we will return next year. The talks ended.`` (next paragraph plain)
    Good: ``He said “we will return next year.” The talks ended.``

    A quotation running over several paragraphs reopens each one and closes only at the
    end; an opener whose following paragraph starts with an opening mark is not flagged.
    """

    code = "Q002"
    slug = "unmatched-opening-quote"
    severity = Severity.ERROR
    summary = "An opening quotation mark that is never closed."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        for mark in sorted(quotes.unmatched_open, key=lambda m: m.pos):
            yield self.finding(
                mark.pos,
                mark.pos + 1,
                f"Opening quotation mark '{mark.char}' is never closed in this paragraph.",
            )


@register
class SpaceBeforeClosingQuote(_QuoteRule):
    """Catches whitespace between a quotation's last word and its closing mark.

    Bad: ``described the call as “warm and friendly. ”``
    Good: ``described the call as “warm and friendly.”``
    """

    code = "Q003"
    slug = "space-before-closing-quote"
    severity = Severity.WARNING
    summary = "Whitespace before a closing quotation mark ('friendly. ”')."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        text = doc.text
        for opener, closer in quotes.pairs:
            if not text[closer.pos - 1].isspace() or is_empty_quotation(text, opener, closer):
                continue
            if closer in quotes.misdirected:
                continue  # reported once, by Q006
            start = closer.pos
            while text[start - 1].isspace():
                start -= 1
            yield self.finding(
                start,
                closer.pos + 1,
                f"Space before the closing quotation mark '{closer.char}'.",
                suggestion=closer.char,
            )


@register
class TruncatedQuotation(_QuoteRule):
    """Catches a quotation whose beginning is missing: it starts mid-clause.

    Two shapes, both typical of machine translation dropping the start of a quote:
    a closing mark with no opener whose text, back to the colon, reporting verb or
    sentence start that introduces it, begins with a lowercase word; and a quotation
    introduced by a colon or "said," whose first word can only continue a clause
    ("to", "of", "and"...).

    Bad: ``the Kremlin added: to outside pressure. ”`` / ``She said: “to the voters.”``
    Good: ``the Kremlin added that ties were “immune to outside pressure.”``
    """

    code = "Q004"
    slug = "truncated-quotation"
    severity = Severity.ERROR
    summary = "A quotation that starts mid-clause: its opening words were lost."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        text = doc.text
        for mark in quotes.unmatched_close:
            begin = truncation_start(doc, quotes, mark)
            if begin is None:
                continue
            yield self.finding(
                begin,
                mark.pos + 1,
                "Quotation has a closing mark but no opening one, and starts mid-clause "
                f"(“{text[begin:mark.pos].split(None, 1)[0]} …”): its beginning is missing.",
            )
        for opener, closer in quotes.pairs:
            if opener.char not in "“\"":
                continue
            words = re.match(r"\s*([a-z]+)\b", text[opener.pos + 1 : closer.pos])
            # Only the words right before the opener matter: "added: “…". A bounded look-back
            # keeps a paragraph with many quotations linear.
            before = text[max(quotes.paragraph.start, opener.pos - INTRODUCER_LOOKBACK) : opener.pos]
            if words and words.group(1) in MID_CLAUSE_STARTS and INTRODUCER_BEFORE.search(before):
                yield Finding(
                    self.code,
                    self.slug,
                    Severity.WARNING,
                    opener.pos,
                    closer.pos + 1,
                    f"Quotation introduced as a statement starts with “{words.group(1)}”, "
                    "mid-clause: its beginning is probably missing.",
                )


@register
class EmptyQuotation(_QuoteRule):
    """Catches a pair of quotation marks with nothing between them.

    Bad: ``the minister called the plan “” and left.``
    Good: ``the minister called the plan “reckless” and left.``
    """

    code = "Q005"
    slug = "empty-quotation"
    severity = Severity.WARNING
    summary = "A quotation with no text between its marks ('“”')."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        for opener, closer in quotes.pairs:
            if is_empty_quotation(doc.text, opener, closer):
                yield self.finding(opener.pos, closer.pos + 1, "Empty quotation: the quoted text is missing.")


@register
class MisdirectedQuote(_QuoteRule):
    """Catches a curly quotation mark that faces the wrong way for where it stands.

    Bad: ``the album “Rumours“ sold well`` / ``” We will stay,” he said.``
    Good: ``the album “Rumours” sold well`` / ``“We will stay,” he said.``
    """

    code = "Q006"
    slug = "misdirected-quote"
    severity = Severity.WARNING
    summary = "An opening curly mark used to close a quotation, or a closing one to open it."

    def check_paragraph(self, doc: Document, quotes: ParagraphQuotes) -> Iterator[Finding]:
        text = doc.text
        mirror = dict(zip(DOUBLE_OPENERS + DOUBLE_CLOSERS, DOUBLE_CLOSERS + DOUBLE_OPENERS))
        for mark in quotes.misdirected:
            start, end = mark.pos, mark.pos + 1
            closing = mark.char in DOUBLE_OPENERS
            # Include the stray space that sits inside the quotation ('Zeitung “' or '” We').
            if closing:
                while start > quotes.paragraph.start and text[start - 1] in " \t":
                    start -= 1
            else:
                while end < quotes.paragraph.end and text[end] in " \t":
                    end += 1
            role = "closes" if closing else "opens"
            yield self.finding(
                start,
                end,
                f"'{mark.char}' {role} a quotation here; use '{mirror[mark.char]}'.",
                suggestion=mirror[mark.char],
            )
