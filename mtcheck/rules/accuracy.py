"""Accuracy (A): checks that compare a translation with its source, run only when the source is known.

Each rule reads one :class:`Pair` (the English target, its source and the source's language) and
reports spans of the target. A001-A005 look at one pair; A006 looks across a corpus.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import ClassVar

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register
from mtcheck.source import numbers

LANGUAGE_ID_MIN_WORDS = 4  # fewer lower-case words: names, references, titles, numbers
WORD = re.compile(r"[^\W\d_]{2,}")
UNTRANSLATED_PROBABILITY = 0.95
MIN_SOURCE_CHARS_FOR_LENGTH = 30  # below it one word more or less swings the ratio


@dataclass
class Pair:
    """One translated segment: the English ``target``, its ``source`` and the source's language."""

    target: str
    source: str
    language: str | None = None  # ISO 639-1 ('zh', 'de'); None when unknown
    length_bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    @cached_property
    def target_numbers(self) -> list[numbers.Number]:
        return numbers.digit_numbers(self.target)

    @cached_property
    def source_numbers(self) -> list[numbers.Number]:
        return numbers.digit_numbers(self.source)


class SourceRule(Rule):
    """A rule that needs the source: the gate and ``check --source`` run it on pairs."""

    needs_source: ClassVar[bool] = True

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        return iter(())  # without a source there is nothing to compare

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        raise NotImplementedError

    def whole(self, pair: Pair, message: str) -> Finding:
        """A finding over the whole target, stripped of surrounding blanks."""
        start = len(pair.target) - len(pair.target.lstrip())
        return self.finding(start, max(start, len(pair.target.rstrip())), message)


@register
class NumberMismatch(SourceRule):
    """Catches numbers of the source that the translation dropped or changed.

    Bad: ``The trial enrolled 52 patients.`` (source ``Die Studie umfasste 25 Patienten.``)
    Good: ``The trial enrolled 25 patients.`` (source ``Die Studie umfasste 25 Patienten.``)

    Numbers are compared by value: digit grouping (1.234 / 1,234 / 1 234), decimal commas,
    full-width digits, scale words (3,5 Millionen = 3.5 million, 350万 = 3.5 million),
    month names (5.3.2021 = 5 March 2021) and written-out numbers on either side (three = 3, 二十 = 20).
    """

    code = "A001"
    slug = "number-mismatch"
    severity = Severity.WARNING
    summary = "A number of the source is missing from the translation or changed in it."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        if not pair.source_numbers and not pair.target_numbers:
            return
        missing, added = numbers.unmatched(
            pair.source_numbers, pair.target_numbers,
            numbers.word_values(pair.source, pair.language or ""), numbers.word_values(pair.target, "en"),
        )
        if not missing:
            return  # a number only the translation has is mostly one the source wrote in words
        listed = ", ".join(f"'{m.text}'" for m in missing)
        for number in added:
            yield self.finding(number.start, number.end, f"'{number.text}' is not in the source, which has {listed}.")
        if not added:
            yield self.whole(pair, f"The source's {listed} {'is' if len(missing) == 1 else 'are'} missing here.")


PROTECTED = (
    ("placeholder", re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{(?:\d+|[A-Za-z_][\w.]*)(?:[:!][^{}\s]*)?\}|\$\{[A-Za-z_]\w*\}")),
    ("placeholder", re.compile(r"(?<![\w%])%(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sdifuxX@](?![A-Za-z])|%\([A-Za-z_]\w*\)[sdf]")),
    ("tag", re.compile(r"</?[A-Za-z][\w:-]*(?:\s+[\w:-]+(?:=(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s<>]+))?)*\s*/?>")),
    ("URL", re.compile(r"\b(?:https?|ftp)://[^\s<>\"'）」]+[^\s<>\"'.,;:!?)）」]|\bwww\.[^\s<>\"']+[^\s<>\"'.,;:!?)]")),
    ("e-mail address", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("code", re.compile(r"`[^`\n]+`")),
)


def protected_tokens(text: str) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, token) of every token a translation must keep verbatim, in text order."""
    found: list[tuple[str, int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PROTECTED:
        for match in pattern.finditer(text):
            start, end = match.span()
            if not any(s < end and start < e for s, e in taken):
                taken.append((start, end))
                found.append((kind, start, end, match.group()))
    return sorted(found, key=lambda item: item[1])


def _tag_name(token: str) -> tuple[str, bool, bool]:
    """(name, closing, self-closing) of a markup tag."""
    name = re.match(r"</?([\w:-]+)", token).group(1).lower()  # type: ignore[union-attr]
    return name, token.startswith("</"), token.endswith("/>")


def nesting_error(tags: Sequence[str]) -> str | None:
    """Why a sequence of tags is not well nested, or None."""
    open_tags: list[str] = []
    for token in tags:
        name, closing, self_closing = _tag_name(token)
        if self_closing:
            continue
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags[-1] != name:
            return f"'{token}' closes {'nothing' if not open_tags else '<' + open_tags[-1] + '>'}"
        else:
            open_tags.pop()
    return f"'<{open_tags[-1]}>' is never closed" if open_tags else None


@register
class ProtectedTokenMismatch(SourceRule):
    """Catches placeholders, markup tags, URLs, e-mail addresses and code that did not survive verbatim.

    Bad: ``Hello {nombre}, you have %d messages.`` (source ``Hola {name}, tienes %d mensajes.``)
    Good: ``Hello {name}, you have %d messages.`` (source ``Hola {name}, tienes %d mensajes.``)

    Each token of the source must appear in the translation as often as in the source, and the
    translation's tags must nest as well as the source's do.
    """

    code = "A002"
    slug = "protected-token-mismatch"
    severity = Severity.ERROR
    summary = "A placeholder, tag, URL, e-mail address or code span of the source is lost or altered."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        source = protected_tokens(pair.source)
        if not source and "<" not in pair.target and "{" not in pair.target and "%" not in pair.target:
            return
        target = protected_tokens(pair.target)
        wanted = Counter(token for _, _, _, token in source)
        have = Counter(token for _, _, _, token in target)
        lost = [(kind, token) for kind, _, _, token in source if have[token] < wanted[token]]
        extra = [(kind, s, e, token) for kind, s, e, token in target if have[token] > wanted[token]]
        for kind, start, end, token in extra:
            wanted_kind = [t for k, t in lost if k == kind]
            instead = f" (the source has '{wanted_kind[0]}')" if wanted_kind else ""
            yield self.finding(start, end, f"The {kind} '{token}' is not in the source{instead}.")
        for kind, token in dict.fromkeys(lost):
            if not any(k == kind for k, _, _, _ in extra):
                yield self.whole(pair, f"The source's {kind} '{token}' is missing here.")
        source_tags = [t for k, _, _, t in source if k == "tag"]
        target_tags = [(s, e, t) for k, s, e, t in target if k == "tag"]
        if source_tags and nesting_error(source_tags) is None and (error := nesting_error([t for _, _, t in target_tags])):
            first, last = target_tags[0], target_tags[-1]
            yield self.finding(first[0], last[1], f"The tags do not nest as in the source: {error}.")


@register
class Untranslated(SourceRule):
    """Catches a segment left in the source language or copied from the source.

    Bad: ``Die Patienten wurden in zwei Gruppen eingeteilt.`` (source ``Die Patienten wurden in zwei Gruppen eingeteilt.``)
    Good: ``The patients were divided into two groups.`` (source ``Die Patienten wurden in zwei Gruppen eingeteilt.``)

    A source in a non-Latin script (Chinese, Russian…) is checked by script: a translation whose
    letters are mostly in it is flagged. A Latin-script source is checked by language
    identification (py3langid) on translations with four or more lower-case words, so names,
    references, numbers and titles already in English are left alone.
    """

    code = "A003"
    slug = "untranslated"
    severity = Severity.ERROR
    summary = "The translation is the source copied, or is still in the source's language or script."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        from mtcheck.source.language import foreign_letter_share, probability_of

        target, source = " ".join(pair.target.split()), " ".join(pair.source.split())
        if foreign_letter_share(source) >= 0.5:
            if foreign_letter_share(target) >= 0.5:
                copied = "a copy of the source" if target == source else "still in the source's script"
                yield self.whole(pair, f"The translation is {copied}.")
            return
        # Running text, not a list of names, a reference or a title in English already.
        if not pair.language or pair.language == "en" or _lowercase_words(target) < LANGUAGE_ID_MIN_WORDS:
            return
        if probability_of(target, pair.language) >= UNTRANSLATED_PROBABILITY:
            copied = "a copy of the source" if target == source else f"still in {pair.language}, the source's language"
            yield self.whole(pair, f"The translation is {copied}.")


def _lowercase_words(text: str) -> int:
    return sum(1 for word in WORD.findall(text) if word[0].islower())


@lru_cache(maxsize=1)
def fitted_length_bounds() -> dict[str, tuple[float, float]]:
    """Target/source length ratio bounds per source language, fitted on dev human translations
    (research/fit_length_ratios.py)."""
    data = resources.files("mtcheck.data").joinpath("length_ratios.json").read_text(encoding="utf-8")
    return {language: (entry["low"], entry["high"]) for language, entry in json.loads(data)["languages"].items()}


@register
class LengthMismatch(SourceRule):
    """Catches a translation far shorter or longer than its source usually makes (an omission or addition).

    Bad: ``The results show that the drug.`` (source ``Die Ergebnisse zeigen, dass das Medikament bei älteren Patienten ebenso wirksam ist wie bei jüngeren.``)
    Good: ``The results show that the drug is as effective in older patients as in younger ones.`` (source ``Die Ergebnisse zeigen, dass das Medikament bei älteren Patienten ebenso wirksam ist wie bei jüngeren.``)

    The bounds are the length ratios that human translations of that language pair rarely leave
    (fitted on dev data; ``length-ratio`` in the config overrides them). Sources under 30 characters
    and languages without bounds are not checked.
    """

    code = "A004"
    slug = "length-mismatch"
    severity = Severity.WARNING
    summary = "The translation is far shorter or longer than translations of that language pair usually are."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        source_length = len("".join(pair.source.split()))
        if source_length < MIN_SOURCE_CHARS_FOR_LENGTH or not pair.language:
            return
        bounds = pair.length_bounds.get(pair.language) or fitted_length_bounds().get(pair.language)
        if bounds is None:
            return
        ratio = len("".join(pair.target.split())) / source_length
        low, high = bounds
        if ratio < low:
            yield self.whole(pair, f"The translation is {ratio:.2f} times as long as the source; "
                                   f"{pair.language}→en translations are rarely under {low:.2f}. Part may be missing.")
        elif ratio > high:
            yield self.whole(pair, f"The translation is {ratio:.2f} times as long as the source; "
                                   f"{pair.language}→en translations are rarely over {high:.2f}. Something may be added.")


# A sentence ends at . ! ? (not after a single letter or inside a number) before a capital in any
# script, a CJK character or the end; 。！？ end one wherever they stand.
SENTENCE_END = re.compile(r"(?<!\b[^\W\d_])(?<!\d)[.!?]+[\"'”’」』）)]*(?:\s+[\"'“‘「『（(]*(\w)|\s*$)|[。！？]+")
ENDED = re.compile(r"[.!?。！？:;…\"'”’」』）)\]]\s*$")
SOURCE_ABBREVIATION_END = re.compile(r"(?:^|\s)\w{1,4}\.\s*$")  # "z.", "sog.", "ca.": a source cut at an abbreviation
# Words an English sentence does not end on: a translation stopping after one lost its last clause.
# ("that", "which" and "into" can end one: "before that?", "look up into.")
DANGLING_WORDS = frozenset("the a an of to from by with and or but between their our my your".split())
LAST_WORD = re.compile(r"([^\W\d_]+)[.!?]\s*$")
SENTENCE_COUNT_GAP = 2


def sentence_count(text: str) -> int:
    ends = 0
    for match in SENTENCE_END.finditer(text.strip()):
        following = match.group(1)
        ends += following is None or following.isupper() or "\u4e00" <= following <= "\u9fff"
    return max(1, ends)


@register
class SentenceCountMismatch(SourceRule):
    """Catches a translation with two or more sentences fewer (a sentence dropped) or more than its source.

    Bad: ``The drug was well tolerated.`` (source ``Das Medikament wurde gut vertragen. Es traten keine Nebenwirkungen auf. Die Studie wird fortgesetzt.``)
    Good: ``The drug was well tolerated. There were no side effects. The study continues.`` (source ``Das Medikament wurde gut vertragen. Es traten keine Nebenwirkungen auf. Die Studie wird fortgesetzt.``)

    Sentences end at . ! ? before a capital (。！？ in Chinese and Japanese); one sentence more or
    fewer is common in good translations and is not reported.
    """

    code = "A006"
    slug = "sentence-count-mismatch"
    severity = Severity.WARNING
    summary = "The translation has two or more sentences fewer or more than its source."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        source, target = sentence_count(pair.source), sentence_count(pair.target)
        if source - target >= SENTENCE_COUNT_GAP:
            yield self.whole(pair, f"The source has {source} sentences and the translation {target}: a sentence may be missing.")
        elif target - source >= SENTENCE_COUNT_GAP:
            yield self.whole(pair, f"The source has {source} sentences and the translation {target}: something may be added.")


@register
class UnfinishedTranslation(SourceRule):
    """Catches a translation that stops mid-clause where its source ends its sentence.

    Bad: ``The aid must reach the villages of the.`` (source ``Die Hilfe muss die Dörfer der Region erreichen.``)
    Good: ``The aid must reach the villages of the region.`` (source ``Die Hilfe muss die Dörfer der Region erreichen.``)

    Flags a translation with no closing punctuation, or one whose last word is one an English
    sentence does not end on ("the", "of", "and"), when the source ends with a full stop (a source
    cut after an abbreviation such as "z." is left alone).
    """

    code = "A007"
    slug = "unfinished-translation"
    severity = Severity.WARNING
    summary = "The translation stops mid-clause ('…the villages of the.') where the source's sentence ends."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        target = pair.target.rstrip()
        if not ENDED.search(pair.source) or SOURCE_ABBREVIATION_END.search(pair.source) or len(target) < 20:
            return
        if not ENDED.search(target):
            yield self.finding(len(target), len(target), "The translation stops without ending its sentence; the source ends its.")
            return
        last = LAST_WORD.search(target)
        if last and last.group(1).lower() in DANGLING_WORDS:
            yield self.finding(last.start(1), last.end(1),
                               f"The translation ends on '{last.group(1)}': the rest of its clause may be missing.")


@register
class InconsistentTranslation(SourceRule):
    """Catches one source segment translated differently in different places of a corpus.

    Bad: ``Save changes?`` … ``Keep the changes?`` (both for the source ``Änderungen speichern?``)
    Good: ``Save changes?`` … ``Save changes?`` (both for the source ``Änderungen speichern?``)

    Reported as information on every translation after the first one.
    """

    code = "A005"
    slug = "inconsistent-translation"
    severity = Severity.INFO
    summary = "The same source segment is translated differently elsewhere in the corpus."

    def check_pair(self, pair: Pair, ctx: RuleContext) -> Iterator[Finding]:
        return iter(())  # a corpus-wide check: see check_corpus

    def check_corpus(self, pairs: Sequence[Pair], seen: dict[bytes, tuple[bytes, str]] | None = None) -> dict[int, Finding]:
        """Findings by index into ``pairs``. ``seen`` (a source's digest: the digest of its first
        translation, and that translation clipped) carries the corpus's memory from one call to
        the next, when a corpus is checked slice by slice."""
        seen = {} if seen is None else seen
        out: dict[int, Finding] = {}
        for index, pair in enumerate(pairs):
            key = " ".join(pair.source.split())
            if len(key) < 2:
                continue
            target = " ".join(pair.target.split())
            digest = _digest(target)
            first = seen.setdefault(_digest(key), (digest, _clip(target)))
            if first[0] != digest:
                out[index] = self.whole(pair, f"The same source is translated as '{first[1]}' elsewhere.")
        return out


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_rules(enabled: Callable[[str], bool]) -> list[SourceRule]:
    from mtcheck.rules.base import all_rules

    return [cls() for code, cls in all_rules().items() if getattr(cls, "needs_source", False) and enabled(code)]
