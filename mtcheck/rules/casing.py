"""Casing rules: a name written in two cases, and words in capitals that are not acronyms.

Machine translation from scripts without case (Chinese, Japanese, Arabic…) guesses the case
of names: "Xi" becomes "XI" in one sentence and stays "Xi" in the next; "McDonald" loses its
inner capital. The document itself is the reference: a name written in title case mid-sentence
is the writer's spelling of it.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import cached_property
from typing import NamedTuple

from wordfreq import zipf_frequency

from mtcheck.document import LINE, OPENERS, Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register

# Acronyms and initialisms that are written in capitals on purpose, including the ones that
# spell an ordinary word ("US", "WHO", "IT", "CARES").
KNOWN_ACRONYMS = frozenset(
    """
    US USA UK UN EU NATO UAE USSR PRC DPRK ROK ROC ASEAN BRICS OPEC OECD IMF WTO WHO UNESCO UNICEF
    UNHCR IAEA ICC ICJ IOC FIFA UEFA NFL NBA MLB NHL NCAA WNBA MLS PGA ATP WTA UFC NASCAR
    CEO CFO COO CTO CIO MP PM AM OK ID IT AI TV PC VIP DIY ASAP FAQ RIP MVP QB
    COVID SARS MERS AIDS HIV DNA RNA PCR ICU ER GP NHS CDC FDA NIH EPA FBI CIA NSA DHS DOJ DOD
    IRS SEC FCC FTC FEMA NOAA NASA ICE TSA ATF DEA GOP DNC RNC NRA ACLU NAACP LGBT LGBTQ NGO
    UFO GDP GNP CPI PMI IPO ETF ESG VAT GST USD EUR GBP JPY CNY RMB HQ PR HR IQ MBA BA MA
    BC AD BCE CE GMT UTC EST PST EDT PDT CET KGB FSB GRU SVR MI IRA IS ISIS ISIL PLO
    IDF ANC BJP CCP CPC KMT DPP LDP SPD CDU CSU FDP SNP DUP SDLP PKK YPG SDF
    BBC CNN NBC ABC CBS NPR PBS MSNBC ESPN HBO AP AFP UPI RT CCTV KCNA NHK ARD ZDF
    IBM HP GM GE BMW VW BP HSBC UBS UPS DHL KFC NYSE NASDAQ FTSE DAX ASX TSX
    GPS USB SUV ATM PIN SIM SMS PDF URL HTML API CPU GPU LED LCD LNG LPG CO EV AC DC
    NYPD LAPD MIT UCLA NYU LSE FC AS CF PSG VAR CARES STEM SWAT TASS WWII WWI MAGA BLM
    NY LA CA TX FL WA OR PA NJ IL OH GA NC VA AZ MN WI MO MD TN IN KY SC AL
    """.split()
)
# Short words whose capitals are never an acronym in running text.
SHORT_COMMON_WORDS = frozenset(
    """
    THE AND BUT WAS HAS HAD HIS HER SHE ARE NOT FOR ITS HIM DID SAY YET TOO HOW WHY NOW
    """.split()
)
ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
LETTERS = re.compile(r"[^\W\d_]+")
# Patterns here open with a character range (A-Z or beyond ASCII) and check the letter class by a
# look-behind after it: re skips ahead to such characters instead of testing the class (a Unicode
# category look-up) at every position, which took more than half of these rules' time.
#
# The whole runs of letters with a letter other than a-z in them: the ones that may be
# capitalised (most runs are not). Found in two parts: the runs that open with such a letter,
# and the letter that follows an a-z inside a run ('iPhone'), from which its run is found.
RUN_OPENING_WITH_CAPITAL = re.compile(r"[A-Z\x80-\U0010FFFF](?<=[^\W\d_a-z])(?<![^\W\d_].)[^\W\d_]*+")
CAPITAL_AFTER_LOWER = re.compile(r"[A-Z\x80-\U0010FFFF](?<=[a-z][^\W\d_a-z])")
RUN_FROM_BEHIND = re.compile(r"[\W\d_]*([^\W\d_]+)")  # in reversed text: a gap, then a letter run
# Two letters that are not lower-case ASCII: every word of capitals holds one such pair.
CAPITAL_PAIR = re.compile(r"[A-Z\x80-\U0010FFFF](?<=[^\W\d_a-z])[^\W\d_a-z]+")
MATCH_START = re.Match.start
LEAD_PARAGRAPHS = 2  # a headline, then the lead
LEAD_IN = re.compile(r"\s*[\"“‘']?((?:[A-Z][A-Z'’.-]+\s+){0,2}[A-Z][A-Z'’-]+)(?=\s+[a-z])")
# "NEW DELHI (AP) -", "OAKLAND, Calif. --": a dateline's place name is set in capitals. It opens
# where a word does (a capital with no word character before it: \b, written to lead with the range).
DATELINE = re.compile(
    r"[A-Z](?<!\w.)[A-Z.'’\-]+(?:\s+[A-Z][A-Z.'’\-]+)*"
    r"(?:,\s+[A-Z][a-z]+\.?(?:\s+[A-Z][a-z]+\.?)?)?\s*(?:\([A-Za-z .&]+\)\s*)?(?:-{1,2}|—|–)\s"
)
POSITIONAL_CAPITAL_AFTER = ":;—–-" + OPENERS


def _after_sentence_opening(text: str, start: int, at: int) -> bool:
    """Whether only spaces and opening marks lie between ``start`` and ``at``, or the last other
    character is one after which a capital is positional (a colon, a dash).

    Walks back over the gap before the word only, so a sentence's words cost linear time.
    """
    i = at - 1
    while i >= start and (text[i].isspace() or text[i] in OPENERS):
        i -= 1
    return i < start or text[i] in POSITIONAL_CAPITAL_AFTER
# Titles before a name are not the name itself: "President XI" is not "Louis XI".
TITLES = frozenset(
    """
    president premier chairman chairwoman leader minister secretary general mr mrs ms dr prof
    king queen prince princess emperor pope sir lord lady senator governor mayor chancellor
    """.split()
)


class Token(NamedTuple):
    """One run of letters ('McDonald' in "McDonald's"), with where it stands."""

    text: str
    start: int
    end: int
    positional: bool  # capitalised by position: sentence start, after a colon or an opening quote
    after_name: bool  # right after a capitalised word: "Louis XIV"
    in_caps_block: bool  # inside a headline, a dateline or a run of capitals
    beside_name: bool  # next to a capitalised word that is not so by position: "CARES Act"
    shape: str  # "upper", "lower", "title" or "mixed" (word_shape), read many times per token

    @property
    def key(self) -> str:
        return self.text.lower()


def word_shape(text: str) -> str:
    if len(text) >= 2 and text.isupper():
        return "upper"
    if text.islower():
        return "lower"
    if text[0].isupper() and text[1:].islower():
        return "title"
    return "mixed"


class DocumentCasing:
    """The letter runs of a document and how each name is spelled where it is not positional."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._name_spellings: dict[str, str | None] = {}
        self._tokens: dict[str, list[Token]] = {}

    @cached_property
    def caps_zones(self) -> list[tuple[int, int]]:
        # The first sentence holds the headline and the lead, where capitals are typography.
        zones = [(m.start(), m.end()) for m in DATELINE.finditer(self.doc.text)]
        zones += self._lead_in_capitals()
        zones += [line.span() for line, runs in self._lines_with_capitals() if is_capitals_headline(line.group(), runs)]
        return zones

    def _lines_with_capitals(self) -> Iterator[tuple[re.Match[str], int]]:
        """The lines with three or more runs of two capitals or more (CAPITAL_PAIR), each with
        how many it holds: the only ones that can be a headline in capitals (a cheap scan instead
        of splitting every line into words)."""
        text = self.doc.text
        runs = [m.start() for m in CAPITAL_PAIR.finditer(text)]
        at, searched_to = 0, 0
        while at + 2 < len(runs):
            # the line holding runs[at]; looking back no further than the last line seen keeps it linear
            line_start = max(text.rfind("\n", searched_to, runs[at]), text.rfind("\r", searched_to, runs[at]), searched_to - 1) + 1
            line = LINE.match(text, line_start)
            assert line is not None  # runs[at] is a letter on it
            searched_to = line.end()
            after_line = bisect.bisect_left(runs, line.end(), at)
            if after_line - at >= 3:
                yield line, after_line - at
            at = after_line

    def _lead_in_capitals(self) -> list[tuple[int, int]]:
        """Lead-in capitals: newspapers set the first word or two of an article's opening paragraph
        in capitals ("BARCELONA will be known as…"). Only the first paragraphs count, and only
        when ordinary lower-case text follows."""
        zones = []
        for paragraph in self.doc.paragraphs[:LEAD_PARAGRAPHS]:
            match = LEAD_IN.match(self.doc.text, paragraph.start, paragraph.end)
            if match:
                zones.append(match.span(1))
        return zones

    @cached_property
    def _first_sentence_is_headline(self) -> bool:
        """Whether the first sentence may be a headline, where capitals are typography: a line of
        its own with no full stop ("Baboons armed with a CHAINSAW"), or one with three or more
        title-case words (a title-case headline, or a lead run into one). A plain short first
        sentence ("Officials said the PRESIDENT will travel.") is text, so one-sentence segments
        are still checked."""
        if not self.doc.sentences:
            return False
        first = self.doc.sentences[0]
        text = self.doc.text
        unpunctuated_line = (
            not first.text.rstrip().endswith(tuple(HEADLINE_END_MARKS))
            and (first.end == len(text) or text[first.end : first.end + 1] in "\r\n")
        )
        words = [w for w in LETTERS.findall(text, first.start, first.end) if len(w) >= 4]
        capitalised = sum(w[0].isupper() and not w.isupper() for w in words)  # title case, not the capitals checked
        return unpunctuated_line or capitalised >= 3

    @cached_property
    def _merged_zones(self) -> tuple[list[int], list[int]]:
        """caps_zones merged into disjoint intervals: (starts, ends), sorted, for binary search."""
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(self.caps_zones):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        return starts, ends

    def _in_caps_zone(self, position: int) -> bool:
        starts, ends = self._merged_zones
        at = bisect.bisect_right(starts, position) - 1
        return at >= 0 and position < ends[at]

    @cached_property
    def _capitalised(self) -> dict[str, list[re.Match[str]]]:
        """The capitalised letter runs of two letters or more, grouped by their lower-case form in
        order of first use.

        One pass of a regular expression over the text. What else a rule needs of a run (its
        sentence, its neighbours, whether it stands in a headline) is worked out only for the
        runs a rule looks at (``tokens_of``), so an input with a capitalised word in each of its
        many sentences ("Ab.” Ab.” …") costs little."""
        groups: dict[str, list[re.Match[str]]] = defaultdict(list)
        for m in self._runs_with_capitals():
            word = m.group()
            if len(word) > 1 and not word.islower():
                groups[word.lower()].append(m)
        return groups

    def _runs_with_capitals(self) -> list[re.Match[str]]:
        """The whole letter runs with a letter other than a-z in them, in text order."""
        text = self.doc.text
        runs = list(RUN_OPENING_WITH_CAPITAL.finditer(text))
        opening_lower = []
        covered = 0
        for hit in CAPITAL_AFTER_LOWER.finditer(text):
            if hit.start() < covered:
                continue  # its run is already known (each run is read once: linear)
            up_to_hit = self._letter_run_before(hit.start() + 1)
            assert up_to_hit is not None  # the hit is a letter
            run = LETTERS.match(text, up_to_hit[0])
            assert run is not None  # it holds the hit
            covered = run.end()
            if "a" <= text[run.start()] <= "z":
                opening_lower.append(run)  # the other runs open with a capital: found above
        return sorted(runs + opening_lower, key=MATCH_START) if opening_lower else runs

    @cached_property
    def keys_spelled_differently(self) -> list[str]:
        """The words written in more than one way: the only ones C001 can report."""
        return [key for key, runs in self._capitalised.items() if len({run.group() for run in runs}) > 1]

    @cached_property
    def capitals(self) -> list[Token]:
        """The words in capitals (two letters or more), in text order."""
        keys = [key for key, runs in self._capitalised.items() if any(run.group().isupper() for run in runs)]
        return sorted((t for key in keys for t in self.tokens_of(key) if t.shape == "upper"), key=lambda t: t.start)

    def tokens_of(self, key: str) -> list[Token]:
        """Every capitalised occurrence of a word, with where it stands."""
        if key not in self._tokens:
            self._tokens[key] = [self._token(run.group(), *run.span()) for run in self._capitalised.get(key, ())]
        return self._tokens[key]

    @cached_property
    def _reversed_text(self) -> str:
        return self.doc.text[::-1]

    def _letter_run_before(self, position: int) -> tuple[int, int] | None:
        """The letter run that ends nearest before ``position``: matched forwards in the reversed
        text, so the search reads only the gap and that run."""
        length = len(self.doc.text)
        m = RUN_FROM_BEHIND.match(self._reversed_text, length - position)
        if m is None:
            return None
        return length - m.end(1), length - m.start(1)

    def _token(self, word: str, start: int, end: int) -> Token:
        text = self.doc.text
        sentence = self.doc.sentence_at(start)
        assert sentence is not None  # every character but white space lies in a sentence
        opening, closing, first = sentence.start, sentence.end, sentence.index == 0
        before = self._letter_run_before(start)
        if before is not None and before[0] < opening:
            before = None
        after = LETTERS.search(text, end)
        if after is not None and after.end() > closing:
            after = None
        before_word = text[before[0] : before[1]] if before is not None else ""
        after_word = after.group() if after is not None else ""
        positional = _after_sentence_opening(text, opening, start)
        previous = before_word if before is not None and text[before[1] : start].isspace() else ""
        following = after_word if after is not None and text[end : after.start()].isspace() else ""
        beside_name = _is_name_like(following) or (
            _is_name_like(previous) and not _after_sentence_opening(text, opening, before[0])  # type: ignore[index]
        )
        after_name = previous[:1].isupper() and not previous.isupper() and previous.lower() not in TITLES
        caps_block = word.isupper() and (
            (len(before_word) >= 2 and before_word.isupper()) or (len(after_word) >= 2 and after_word.isupper())
        )
        if not caps_block and word[0].isupper():
            caps_block = (
                (first and self._first_sentence_is_headline)
                or (positional and text[end : end + 1] == ":")  # a label: "RESULTS: The…"
                or self._in_caps_zone(start)
            )
        return Token(word, start, end, positional, after_name, caps_block, beside_name, word_shape(word))

    @cached_property
    def lower_keys(self) -> set[str]:
        """Every word (two letters or more) the document writes in lower case."""
        return {w for w in set(LETTERS.findall(self.doc.text)) if len(w) >= 2 and w.islower()}

    def spellings(self, key: str, mid_sentence: bool = False) -> Counter[str]:
        """How often each capitalised, not-all-capitals spelling of a word occurs."""
        return Counter(
            t.text
            for t in self.tokens_of(key)
            if t.shape in ("title", "mixed") and not t.in_caps_block and not (mid_sentence and t.positional)
        )

    def name_spelling(self, key: str) -> str | None:
        """The document's own capitalised spelling of a word, seen mid-sentence; None if never."""
        if key not in self._name_spellings:
            self._name_spellings[key] = self._most_common_spelling(key)
        return self._name_spellings[key]

    def _most_common_spelling(self, key: str) -> str | None:
        seen = self.spellings(key, mid_sentence=True)
        if not seen and zipf_frequency(key, "en") < RARE_WORD_ZIPF:
            # A short text may write a name only where capitals are positional (a sentence
            # start, the first sentence). A word English rarely uses in lower case, capitalised
            # there, is still the document's spelling of a name: "Lula … LULA said".
            seen = Counter(t.text for t in self.tokens_of(key) if t.shape in ("title", "mixed"))
        if not seen:
            return None
        # A tie goes to the spelling with more capitals: "McDonald" over "Mcdonald".
        return max(seen, key=lambda s: (seen[s], sum(ch.isupper() for ch in s)))


HEADLINE_END_MARKS = ".!?…:;\"”’)"  # a first line ending otherwise is a headline

# Zipf frequency below which a word is rare enough in English (under about 30 per million
# words; wordfreq folds case, so names count too) that its capitalised form is taken for a name.
RARE_WORD_ZIPF = 4.5


def is_capitals_headline(line: str, capital_runs: int | None = None) -> bool:
    """A line with three words or more in capitals, at least half of its words: a headline.
    ``capital_runs``: how many runs of CAPITAL_PAIR the line holds, when the caller knows."""
    # Each word in capitals is a run of CAPITAL_PAIR of its own, so a line with more than twice
    # as many words as runs is no headline: a long line of text is read only that far.
    most_capitals = len(CAPITAL_PAIR.findall(line)) if capital_runs is None else capital_runs
    if most_capitals < 3:
        return False
    words = caps = 0
    for m in LETTERS.finditer(line):
        if m.end() - m.start() >= 2:
            words += 1
            caps += m.group().isupper()
            if words > 2 * most_capitals:
                return False
    return caps >= 3 and caps >= 0.5 * words


def _is_name_like(word: str) -> bool:
    return word[:1].isupper() and not word.isupper()


def in_brackets(text: str, token: Token) -> bool:
    """'(MINI)' after its long form, '[LAUGHTER]' in a transcript: an abbreviation being defined
    or a stage direction, set in capitals on purpose."""
    return token.start > 0 and text[token.start - 1] in "([" and text[token.end : token.end + 1] in (")", "]")


def is_roman_numeral(word: str) -> bool:
    return bool(word) and ROMAN.fullmatch(word) is not None


def is_acronym(word: str) -> bool:
    return word in KNOWN_ACRONYMS or not any(ch in "AEIOUY" for ch in word)


def _casing(doc: Document) -> DocumentCasing:
    # Both casing rules read the same analysis; keep one per document.
    cached = doc.__dict__.get("_mtcheck_casing")
    if cached is None:
        cached = DocumentCasing(doc)
        doc.__dict__["_mtcheck_casing"] = cached
    return cached


def suspicious_caps(text: str, token: Token, ctx: RuleContext) -> bool:
    """An all-capital word that is not an acronym, a Roman numeral after a name, in a headline nor
    in brackets of its own."""
    if token.shape != "upper" or token.in_caps_block or ctx.allowed(token.text) or in_brackets(text, token):
        return False
    if is_acronym(token.text):
        return False
    return not (is_roman_numeral(token.text) and token.after_name)


@register
class InconsistentNameCase(Rule):
    """Catches a name written in two different cases in the same document.

    Bad: ``Lula met the press on Monday. … LULA said the deal was fair.`` /
    ``McDonald said … Mcdonald added …``
    Good: ``Lula met the press on Monday. … Lula said the deal was fair.``

    The spelling the document uses mid-sentence wins; capitals by position (sentence start),
    headlines, datelines, known acronyms and Roman numerals after a name ("Louis XIV") are left alone.
    """

    code = "C001"
    slug = "inconsistent-name-case"
    severity = Severity.WARNING
    summary = "A name in conflicting case within one document ('XI' vs 'Xi')."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        casing = _casing(doc)
        for key in casing.keys_spelled_differently:
            spelling = casing.name_spelling(key)
            if spelling is None or ctx.allowed(spelling):
                continue
            counts = casing.spellings(key)
            for token in casing.tokens_of(key):
                if token.text == spelling or ctx.allowed(token.text):
                    continue
                if token.shape == "upper" and suspicious_caps(doc.text, token, ctx):
                    reason = "in capitals"
                elif self._lost_inner_capital(token, spelling, counts):
                    reason = "with different capitals"
                else:
                    continue
                yield self.finding(
                    token.start,
                    token.end,
                    f"'{token.text}' is written {reason} here but '{spelling}' elsewhere in the document.",
                    suggestion=spelling,
                )

    def _lost_inner_capital(self, token: Token, spelling: str, counts: Counter[str]) -> bool:
        """'Mcdonald' where the document writes 'McDonald' more often (or the reverse).

        One 'Beacon' against one 'BeAcon' may be two words (an operation and a surname): only
        a clear majority spelling is evidence.
        """
        if token.shape not in ("title", "mixed") or token.in_caps_block:
            return False
        if counts[spelling] < 2 or counts[spelling] <= counts[token.text]:
            return False
        return token.text[0] == spelling[0] and token.text[1:] != spelling[1:]


@register
class UnexpectedAllCaps(Rule):
    """Catches an ordinary word in capitals that is not an acronym.

    Bad: ``Officials said the PRESIDENT will travel to Paris.`` / ``officials SAID the plan was final.``
    Good: ``Officials said the president will travel to Paris.`` / ``the NATO summit`` / ``Pope Benedict XVI``

    A word the document also spells in title case is C001's; headlines, datelines, runs of
    capitals, words next to a capitalised name ("CARES Act") and known acronyms are left alone.
    """

    code = "C002"
    slug = "unexpected-all-caps"
    severity = Severity.WARNING
    summary = "An ordinary word set in capitals ('the PRESIDENT said')."

    MIN_ZIPF = 5.0

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        casing = _casing(doc)
        for token in casing.capitals:
            if not suspicious_caps(doc.text, token, ctx) or is_roman_numeral(token.text):
                continue
            if casing.name_spelling(token.key) is not None:
                continue  # C001 reports it against the document's spelling
            if token.beside_name:
                continue
            if not self._is_common_word(casing, token):
                continue
            yield self.finding(
                token.start,
                token.end,
                f"'{token.text}' is set in capitals but is an ordinary word, not a known acronym.",
                suggestion=token.text.lower() if not token.positional else token.text.capitalize(),
            )

    def _is_common_word(self, casing: DocumentCasing, token: Token) -> bool:
        """A word the document writes in lower case, or one too frequent to be a rare name.

        wordfreq has no case, so a moderate frequency does not tell 'music' from 'Lisa' (or the
        LISA space antenna): only the very frequent words count without evidence in the text.
        """
        if len(token.text) <= 3:
            return token.text in SHORT_COMMON_WORDS
        lower_elsewhere = token.key in casing.lower_keys
        return lower_elsewhere or zipf_frequency(token.key, "en") >= self.MIN_ZIPF
