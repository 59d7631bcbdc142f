"""Synthetic corruptions of clean English with exact span labels (training data for the tagger).

    python scripts/corrupt.py "Some clean text." [--seed 1] [--rate 1.0]   # show a corrupted copy

Each corruption is one ``Edit``: the region ``text[start:end]`` of the corrupted text (``new``)
replaced ``old`` of the original, so ``original == text[:start] + old + text[end:]``. Its label
``text[label_start:label_end]`` is word-aligned, never empty and covers the changed region; where
the change is a deletion or a bare punctuation mark, the label takes in the word on each side
(a reader sees the seam, not the missing word).

Kinds (``KINDS``): repeated words and phrases, "X and X" duplications, dropped function and
content words, swapped neighbours, wrong prepositions and articles, broken agreement and
inflection, broken fixed phrases and collocations, a sentence split in two, truncated and
unbalanced quotations, case changes, stray punctuation.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mtcheck.document import Word, split_sentences, words_in

FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "that",
        "which",
        "who",
        "and",
        "or",
        "but",
        "it",
        "its",
        "their",
        "his",
        "her",
        "this",
        "these",
        "will",
        "would",
        "can",
        "could",
        "should",
        "as",
    ]
)
PREPOSITIONS = ("in", "on", "at", "of", "for", "to", "with", "by", "from", "about", "into", "over")
ARTICLES = ("a", "an", "the")
AGREEMENT = {
    "is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has",
    "does": "do", "do": "does", "this": "these", "these": "this", "that": "those", "those": "that",
    "much": "many", "many": "much", "its": "their", "their": "its", "he": "they", "they": "he",
}  # fmt: skip
COLLOCATIONS = {
    "make": "do", "made": "did", "making": "doing", "do": "make", "did": "made", "take": "make",
    "took": "made", "taken": "made", "give": "make", "gave": "made", "strong": "heavy",
    "heavy": "strong", "high": "tall", "large": "big", "increase": "rise", "says": "tells",
    "said": "told", "told": "said", "say": "tell", "tell": "say", "between": "among",
    "during": "while", "while": "during", "because": "because of", "although": "despite",
    "despite": "although", "still": "yet", "also": "too", "very": "much", "few": "little",
    "less": "fewer", "fewer": "less", "other": "another", "another": "other", "since": "for",
}  # fmt: skip
FIXED_PHRASES = {
    "according to": "according for", "as well as": "as well so", "in order to": "in order of",
    "due to": "due of", "because of": "because from", "rather than": "rather as", "such as": "such like",
    "each other": "each others", "in fact": "in facts", "at the same time": "on the same time",
    "more than": "more as", "as a result": "as result", "take part": "make part", "make sure": "do sure",
    "take place": "make place", "at least": "at less", "in addition": "on addition",
    "for example": "for examples", "a lot of": "a lot from", "so far": "so long", "on the other hand":
    "in the other hand", "in the past": "on the past", "at the end": "in the end of", "for the first time":
    "for first time", "as long as": "as long so", "even though": "even so though", "as soon as":
    "as soon like", "at all": "in all", "of course": "of courses", "in front of": "in front from",
    "instead of": "instead from", "out of": "out from", "next to": "next of", "close to": "close of",
}  # fmt: skip
MIN_FORM_ZIPF = 3.0  # an inflected form must be a common word ("woulds" is no MT error)
SPLIT_BEFORE = frozenset(
    ["that", "which", "who", "and", "but", "because", "when", "after", "while", "as", "before", "if", "although"]
)
STRAY_MARKS = (",", ".", ";", ":", ",,", "..", " .", " ,")
CLOSING_QUOTES = '”"’'
OPENING_QUOTES = '“"'


@dataclass(frozen=True)
class Edit:
    kind: str
    start: int  # changed region in the corrupted text
    end: int
    old: str  # what the region replaced in the original
    new: str  # == corrupted[start:end]
    label_start: int  # word-aligned label in the corrupted text
    label_end: int


@dataclass
class Corrupted:
    original: str
    text: str
    edits: list[Edit]  # in text order, non-overlapping

    def undo(self) -> str:
        text = self.text
        for edit in reversed(self.edits):
            text = text[: edit.start] + edit.old + text[edit.end :]
        return text


@dataclass(frozen=True)
class Plan:
    """One change in ORIGINAL coordinates; the label grows by ``before``/``after`` characters."""

    kind: str
    start: int
    end: int
    new: str
    before: int = 0
    after: int = 0


Corruptor = Callable[[str, Sequence[Word], random.Random], "Plan | None"]


def _lower_words(words: Sequence[Word], skip_first: bool = True) -> list[int]:
    return [i for i, w in enumerate(words) if (i > 0 or not skip_first) and w.text.isalpha() and w.text.islower()]


def _deletion(kind: str, text: str, words: Sequence[Word], i: int) -> Plan:
    """Delete words[i] with one neighbouring space; label the words on both sides of the seam."""
    w = words[i]
    start, end = w.start, w.end
    if i + 1 < len(words) and text[end : words[i + 1].start].isspace():
        end = words[i + 1].start  # "x the y" -> "x y": take the space after
    elif i > 0 and text[words[i - 1].end : start].isspace():
        start = words[i - 1].end
    before = start - words[i - 1].start if i > 0 else 0
    after = words[i + 1].end - end if i + 1 < len(words) else 0
    return Plan(kind, start, end, "", before, after)


def repeat_word(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    candidates = [i for i in range(len(words) - 1) if words[i].text.isalpha()]
    if not candidates:
        return None
    w = words[rng.choice(candidates)]
    return Plan("repeat-word", w.end, w.end, " " + w.text)


def x_and_x(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    """ "true friends" -> "true and true friends"; "thick and thin" -> "thick, thin and thin"."""
    pairs = [
        i
        for i in range(1, len(words) - 1)
        if words[i].text == "and" and text[words[i - 1].end : words[i + 1].start] == " and "
    ]
    if pairs and rng.random() < 0.5:
        i = rng.choice(pairs)
        a, b = words[i - 1], words[i + 1]
        return Plan("x-and-x", a.end, b.end, f", {b.text} and {b.text}", before=len(a.text))
    candidates = [i for i in _lower_words(words) if len(words[i].text) > 3 and words[i].text not in FUNCTION_WORDS]
    if not candidates:
        return None
    w = words[rng.choice(candidates)]
    return Plan("x-and-x", w.end, w.end, f" and {w.text}", before=len(w.text))


def repeat_phrase(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    size = rng.choice((2, 3, 4))
    candidates = [
        i
        for i in range(1, len(words) - size)
        if all(text[words[k].end : words[k + 1].start] == " " for k in range(i, i + size - 1))
    ]
    if not candidates:
        return None
    i = rng.choice(candidates)
    phrase = text[words[i].start : words[i + size - 1].end]
    return Plan("repeat-phrase", words[i + size - 1].end, words[i + size - 1].end, " " + phrase)


def drop_function_word(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    candidates = [i for i in range(1, len(words) - 1) if words[i].text in FUNCTION_WORDS]
    return _deletion("drop-function-word", text, words, rng.choice(candidates)) if candidates else None


def drop_content_word(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    candidates = [i for i in _lower_words(words) if 0 < i < len(words) - 1 and words[i].text not in FUNCTION_WORDS]
    return _deletion("drop-content-word", text, words, rng.choice(candidates)) if candidates else None


def swap_adjacent(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    candidates = [
        i
        for i in range(1, len(words) - 1)
        if text[words[i].end : words[i + 1].start] == " " and words[i].text.lower() != words[i + 1].text.lower()
    ]
    if not candidates:
        return None
    i = rng.choice(candidates)
    a, b = words[i], words[i + 1]
    return Plan("swap", a.start, b.end, f"{b.text} {a.text}")


def _replace_word(
    kind: str, words: Sequence[Word], rng: random.Random, table: Callable[[str], list[str]]
) -> Plan | None:
    candidates = [(i, table(w.text)) for i, w in enumerate(words) if i > 0]
    candidates = [(i, options) for i, options in candidates if options]
    if not candidates:
        return None
    i, options = rng.choice(candidates)
    return Plan(kind, words[i].start, words[i].end, rng.choice(options))


def wrong_preposition(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    return _replace_word(
        "preposition", words, rng, lambda w: [p for p in PREPOSITIONS if p != w] if w in PREPOSITIONS else []
    )


def wrong_article(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    if rng.random() < 0.5:
        return _replace_word("article", words, rng, lambda w: [a for a in ARTICLES if a != w] if w in ARTICLES else [])
    # an article where none belongs: before a verb-like or already determined word
    candidates = [
        i
        for i in range(1, len(words))
        if words[i - 1].text not in ARTICLES and words[i].text in FUNCTION_WORDS - set(ARTICLES)
    ]
    if not candidates:
        return None
    w = words[rng.choice(candidates)]
    return Plan("article", w.start, w.start, rng.choice(ARTICLES) + " ", after=len(w.text))


def _inflect(word: str) -> list[str]:
    """Another form of the same word that is a real, frequent English word ("rises" -> "rise")."""
    from wordfreq import zipf_frequency

    if word in AGREEMENT:
        return [AGREEMENT[word]]
    if not word.isalpha() or not word.islower() or len(word) < 4:
        return []
    stems = {word}
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stems |= {word[: -len(suffix)], word[: -len(suffix)] + "e"}
    forms = set()
    for stem in stems:
        base = stem.removesuffix("e")
        forms |= {stem, stem + "s", base + "ing", base + "ed"}
    forms.discard(word)
    return sorted(f for f in forms if zipf_frequency(f, "en") >= MIN_FORM_ZIPF)


def broken_agreement(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    return _replace_word("agreement", words, rng, _inflect)


def wrong_collocation(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    return _replace_word("collocation", words, rng, lambda w: [COLLOCATIONS[w]] if w in COLLOCATIONS else [])


def broken_idiom(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    if not words:
        return None
    lo, hi = words[0].start, words[-1].end
    found = []
    for phrase, broken in FIXED_PHRASES.items():
        for m in re.finditer(r"\b" + re.escape(phrase) + r"\b", text[lo:hi]):
            found.append((lo + m.start(), lo + m.end(), broken))
    if not found:
        return None
    start, end, broken = rng.choice(found)
    return Plan("idiom", start, end, broken)


def split_sentence(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    """ "He said that the plan works." -> "He said. That the plan works.\""""
    candidates = [
        i
        for i in range(3, len(words) - 3)
        if text[words[i - 1].end : words[i].start] == " " and words[i].text.islower() and words[i].text.isalpha()
    ]
    preferred = [i for i in candidates if words[i].text in SPLIT_BEFORE]
    pool = preferred if preferred and rng.random() < 0.7 else candidates
    if not pool:
        return None
    i = rng.choice(pool)
    prev, w = words[i - 1], words[i]
    return Plan("split", prev.end, w.start + 1, ". " + w.text[0].upper(), before=len(prev.text), after=len(w.text) - 1)


def quote_damage(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    """Drop or truncate a closing quotation, or insert a stray quote mark."""
    if not words:
        return None
    lo, hi = words[0].start, min(len(text), words[-1].end + 3)
    closings = [k for k in range(lo + 1, hi) if text[k] in '”"' and text[k - 1] not in " "]
    preceding = [j for j, w in enumerate(words) if w.end <= (closings[0] if closings else 0)]
    if closings and preceding and rng.random() < 0.6:
        k = rng.choice(closings)
        before_words = [j for j, w in enumerate(words) if w.end <= k]
        j = before_words[-1]
        if rng.random() < 0.5 and len(before_words) >= 4:
            # truncated quotation: the last words and the closing mark are gone
            cut = rng.choice((2, 3))
            start = words[j - cut].end
            return Plan("quote-truncated", start, k + 1, "", before=len(words[j - cut].text))
        after = 0
        nxt = [w for w in words if w.start > k]
        if nxt:
            after = nxt[0].end - (k + 1)
        return Plan("quote-unbalanced", k, k + 1, "", before=k - words[j].start, after=after)
    gaps = [i for i in range(1, len(words)) if text[words[i - 1].end : words[i].start] == " "]
    if not gaps:
        return None
    i = rng.choice(gaps)
    mark = rng.choice(("”", "“", '"'))
    prev, w = words[i - 1], words[i]
    if mark == "“":
        return Plan("quote-stray", w.start, w.start, mark, before=w.start - prev.start, after=len(w.text))
    return Plan("quote-stray", prev.end, prev.end, mark, before=len(prev.text), after=w.end - prev.end)


def case_change(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    options = []
    for i, w in enumerate(words):
        if i == 0 or not w.text.isalpha():
            continue
        if w.text.islower():
            options.append((i, w.text[0].upper() + w.text[1:]))
        elif w.text[0].isupper() and w.text[1:].islower() and len(w.text) > 1:
            options.append((i, rng.choice((w.text.lower(), w.text.upper()))))
    if not options:
        return None
    i, new = rng.choice(options)
    return Plan("case", words[i].start, words[i].end, new)


def stray_punctuation(text: str, words: Sequence[Word], rng: random.Random) -> Plan | None:
    gaps = [i for i in range(1, len(words)) if text[words[i - 1].end : words[i].start] == " "]
    if not gaps:
        return None
    i = rng.choice(gaps)
    prev, w = words[i - 1], words[i]
    return Plan(
        "punctuation", prev.end, prev.end, rng.choice(STRAY_MARKS), before=len(prev.text), after=w.end - prev.end
    )


KINDS: dict[str, Corruptor] = {
    "repeat-word": repeat_word,
    "x-and-x": x_and_x,
    "repeat-phrase": repeat_phrase,
    "drop-function-word": drop_function_word,
    "drop-content-word": drop_content_word,
    "swap": swap_adjacent,
    "preposition": wrong_preposition,
    "article": wrong_article,
    "agreement": broken_agreement,
    "collocation": wrong_collocation,
    "idiom": broken_idiom,
    "split": split_sentence,
    "quote": quote_damage,
    "case": case_change,
    "punctuation": stray_punctuation,
}


def apply(original: str, plans: Sequence[Plan]) -> Corrupted:
    """Apply non-overlapping plans (original coordinates) and place the edits and labels."""
    plans = sorted(plans, key=lambda p: (p.start, p.end))
    pieces, edits, cursor, shift = [], [], 0, 0
    for plan in plans:
        if plan.start < cursor:
            raise ValueError(f"overlapping corruption plans at {plan.start}")
        pieces.append(original[cursor : plan.start])
        pieces.append(plan.new)
        start = plan.start + shift
        end = start + len(plan.new)
        label_start, label_end = start - plan.before, end + plan.after
        # the label is what a reader sees: no whitespace at its ends ("the the" -> "the")
        label_start += (
            len(plan.new[: max(0, end - label_start)]) - len(plan.new[: max(0, end - label_start)].lstrip())
            if plan.before == 0
            else 0
        )
        label_end -= len(plan.new) - len(plan.new.rstrip()) if plan.after == 0 else 0
        edits.append(Edit(plan.kind, start, end, original[plan.start : plan.end], plan.new, label_start, label_end))
        shift += len(plan.new) - (plan.end - plan.start)
        cursor = plan.end
    pieces.append(original[cursor:])
    return Corrupted(original, "".join(pieces), edits)


def corrupt_sentence(
    text: str, start: int, end: int, rng: random.Random, kinds: Sequence[str] | None = None
) -> Plan | None:
    """One plan inside ``text[start:end]`` of a kind drawn from ``kinds`` (tries others if it does not apply)."""
    words = words_in(text, start, end)
    if len(words) < 4:
        return None
    names = list(kinds or KINDS)
    rng.shuffle(names)
    for name in names:
        plan = KINDS[name](text, words, rng)
        if plan is not None and plan.new != text[plan.start : plan.end]:
            return plan
    return None


def corrupt_paragraph(text: str, seed: int = 0, rate: float = 0.5, kinds: Sequence[str] | None = None) -> Corrupted:
    """Corrupt about ``rate`` of the sentences of a paragraph, one edit in each."""
    rng = random.Random(seed)
    plans = []
    for start, end in split_sentences(text):
        if rng.random() < rate:
            plan = corrupt_sentence(text, start, end, rng, kinds)
            if plan is not None:
                plans.append(plan)
    # labels may reach past a sentence end ("word”" -> the next word): keep plans apart
    kept: list[Plan] = []
    for plan in plans:
        if kept and plan.start - plan.before <= kept[-1].end + kept[-1].after + 1:
            continue
        kept.append(plan)
    return apply(text, kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show a corrupted copy of some text, with its labels.")
    parser.add_argument("text")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--kind", action="append", choices=sorted(KINDS))
    args = parser.parse_args(argv)
    result = corrupt_paragraph(args.text, args.seed, args.rate, args.kind)
    print(result.text)
    for e in result.edits:
        print(f"  {e.kind:20} {e.old!r} -> {e.new!r}   label {result.text[e.label_start : e.label_end]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
