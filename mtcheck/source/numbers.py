"""Numbers in a source and its English translation, each read as the set of values it may mean.

"1.234" is 1234 in German and 1.234 in English, "3,5" is 3.5, "350万" is 3,500,000 and "3.5
million" is both 3.5 and 3,500,000: a number is compared by the values it may mean, and two
numbers match when those sets meet. Digits count in every script (full-width "２０２１" too);
written-out numbers ("three", "三", "drei"), month names and CJK numerals only ever *match* a
number on the other side, they are never required, because words like "one", "一" and "un"
are mostly not numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

FULL_WIDTH_DIGITS = str.maketrans({chr(0xFF10 + d): str(d) for d in range(10)} | {"．": ".", "，": ","})
# A run of digits with grouping or decimal separators inside: "1,234.5", "1.234,5", "1 000", "1'000".
DIGITS = re.compile(r"(?<![\d])\d+(?:(?:[.,'’\u00a0\u202f]|\s(?=\d{3}(?!\d)))\d+)*")
ENGLISH_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
                  "trillion": 1_000_000_000_000}
CJK_SCALES = {"十": 10, "百": 100, "千": 1_000, "万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
CJK_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
CJK_NUMERAL = re.compile("[" + "".join(CJK_DIGITS) + "".join(CJK_SCALES) + "]+")
# Scale words after a number, in English and in the sources' languages ("3,5 Millionen", "2 mil").
SCALE_WORDS = (  # longest first: "mil millones" is a billion, not a thousand
    (r"trillions?", 1_000_000_000_000),
    (r"billions?|bn|milliarden?|milliards?|mrd\.?|miliardi|miliardo|mil millones|bilh(?:ão|ões)", 1_000_000_000),
    (r"millions?|millionen|mio\.?|millones|millón|milioni|milione|milh(?:ão|ões)|m", 1_000_000),
    (r"thousand|tausend|mil|mille|mila", 1_000),
    (r"hundred", 100),
)
SCALE_AFTER = re.compile(
    r"\s*(?:" + "|".join(f"(?P<s{i}>{words})" for i, (words, _) in enumerate(SCALE_WORDS)) + r")(?!\w)"
    r"|\s*(?P<cjk>[十百千万萬亿億])",
    re.IGNORECASE,
)
UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth").split()
MONTHS = ("january february march april may june july august september october november december").split()
MONTH_ABBREVIATIONS = ("jan feb mar apr may jun jul aug sep oct nov dec").split()
# Small numbers written out in the sources' languages; "one" words are left out (an article too).
SOURCE_NUMBER_WORDS = {
    "de": "null _ zwei drei vier fünf sechs sieben acht neun zehn elf zwölf",
    "es": "cero _ dos tres cuatro cinco seis siete ocho nueve diez once doce",
    "fr": "zéro _ deux trois quatre cinq six sept huit neuf dix onze douze",
    "it": "zero _ due tre quattro cinque sei sette otto nove dieci undici dodici",
    "pt": "zero _ dois três quatro cinco seis sete oito nove dez onze doze",
}
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class Number:
    """A number as written (offsets into the text it came from) and the values it may mean."""

    start: int
    end: int
    text: str
    values: frozenset[float]


def _as_values(token: str) -> set[float]:
    """What a digit token may mean: "1.234" → {1.234, 1234}, "1,5" → {1.5}, "1 000" → {1000}."""
    token = token.replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")
    separators = [c for c in token if not c.isdigit()]
    groups = re.split(r"[^\d]", token)
    if not separators:
        return {float(token)}
    values: set[float] = set()
    kinds = set(separators)
    if len(kinds) == 1:
        grouped = 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
        if grouped:
            values.add(float("".join(groups)))
        if len(separators) == 1 and separators[0] in ".,":
            values.add(float(f"{groups[0]}.{groups[1]}"))
        if not values:  # a date or a version: 5.3.2021 → its parts are compared one by one
            return set()
        return values
    decimal = separators[-1]
    if decimal in ".," and separators.count(decimal) == 1:
        whole = "".join(groups[:-1])
        if 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:-1]):
            values.add(float(f"{whole}.{groups[-1]}"))
    return values


def _scaled(values: set[float], text: str, end: int) -> tuple[set[float], int]:
    """Add the value times a scale word right after it ("3.5 million", "350万")."""
    match = SCALE_AFTER.match(text, end)
    if not match:
        return values, end
    if match.group("cjk"):
        scale = CJK_SCALES[match.group("cjk")]
    else:
        scale = next(value for i, (_, value) in enumerate(SCALE_WORDS) if match.group(f"s{i}"))
    return values | {round(v * scale, 6) for v in values}, match.end()


def digit_numbers(text: str) -> list[Number]:
    """Every number written with digits, with its values (dates and versions split into parts)."""
    text = text.translate(FULL_WIDTH_DIGITS)
    out: list[Number] = []
    for match in DIGITS.finditer(text):
        start, end, token = match.start(), match.end(), match.group()
        values = _as_values(token)
        if not values:
            for part in re.finditer(r"\d+", token):
                out.append(Number(start + part.start(), start + part.end(), part.group(), frozenset({float(part.group())})))
            continue
        values, _ = _scaled(values, text, end)
        out.append(Number(start, end, token, frozenset(values)))
    return out


def _cjk_value(numeral: str) -> float:
    """二十五 → 25, 三百 → 300, 两千 → 2000, 五万 → 50000, 二〇二一 → 2021."""
    if all(char in CJK_DIGITS for char in numeral):
        return float("".join(str(CJK_DIGITS[char]) for char in numeral))
    total, section, digit = 0, 0, None
    for char in numeral:
        if char in CJK_DIGITS:
            digit = CJK_DIGITS[char]
            continue
        scale = CJK_SCALES[char]
        if scale >= 10_000:
            total, section, digit = (total + section + (digit or 0)) * scale, 0, None
        else:
            section, digit = section + (1 if digit is None else digit) * scale, None
    return float(total + section + (digit or 0))


@lru_cache(maxsize=1)
def _english_words() -> dict[str, int]:
    words = {w: i for i, w in enumerate(UNITS)} | {w: 20 + 10 * i for i, w in enumerate(TENS)}
    words |= {w: i + 1 for i, w in enumerate(ORDINALS)} | {w: i + 1 for i, w in enumerate(MONTHS)}
    words |= {w: i + 1 for i, w in enumerate(MONTH_ABBREVIATIONS)}
    words |= {"dozen": 12, "half": 0.5, "quarter": 0.25, "once": 1, "twice": 2, "thrice": 3, "double": 2,
              "triple": 3, "single": 1, "pair": 2, "couple": 2}
    return words


def word_values(text: str, language: str) -> set[float]:
    """Values written in words: English (target) or a source language's small numbers and CJK numerals."""
    values: set[float] = set()
    lowered = text.lower()
    if language == "en":
        words = _english_words()
        previous = None
        for match in WORD.finditer(lowered):
            token = match.group()
            parts = token.split("-")
            if len(parts) == 2 and parts[0] in TENS and parts[1] in words:
                value: float | None = words[parts[0]] + words[parts[1]]  # twenty-five
            else:
                value = words.get(token, words.get(parts[0]))  # "five-year", "two-step"
            if token in ENGLISH_SCALES and previous is not None:
                values.add(float(previous * ENGLISH_SCALES[token]))
            if value is not None:
                values.add(float(value))
            if not (token in ("of", "a", "an") and previous is not None and previous < 1):
                previous = value  # "a quarter of a million" is 250,000
        return values
    if language in SOURCE_NUMBER_WORDS:
        table = {w: i for i, w in enumerate(SOURCE_NUMBER_WORDS[language].split()) if w != "_"}
        values.update(float(table[m.group()]) for m in WORD.finditer(lowered) if m.group() in table)
    for match in CJK_NUMERAL.finditer(text):
        values.update(_scaled({_cjk_value(match.group())}, text, match.end())[0])
    return values


def unmatched(source: list[Number], target: list[Number], source_words: set[float],
              target_words: set[float]) -> tuple[list[Number], list[Number]]:
    """Source numbers the target lacks, and target numbers the source lacks. A number the source
    repeats needs to appear once: translations often say "20% at the top and bottom"."""
    remaining = list(target)
    missing = []
    distinct = {number.values: number for number in reversed(source)}
    for number in sorted(distinct.values(), key=lambda n: n.start):
        partner = next((t for t in remaining if t.values & number.values), None)
        if partner is not None:
            remaining.remove(partner)
        elif not number.values & target_words:
            missing.append(number)
    added = [t for t in remaining if not t.values & source_words and not any(t.values & s.values for s in source)]
    return missing, added
