"""Repetition rules: repeated sentences, doubled words and coordinations of a phrase with itself.

Machine translation repeats itself when a decoder loops or when two source phrases map to
the same English one ("thick and thin" → "thin and thin").
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from itertools import islice
from operator import eq, itemgetter

from wordfreq import zipf_frequency

from mtcheck.document import CLOSERS, WORD, WORD_TEXT, Document, Sentence, Word
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register
from mtcheck.rules.fragments import AUXILIARIES, is_verb

WORD_START = itemgetter(0)


def normalised(sentence: Sentence) -> str:
    """The sentence's words, lower-cased and with ’ as ', joined by single spaces: what two 'same'
    sentences share. Lower-casing the joined words is lower-casing each word: no word holds a
    space, and a space ends a word for the one rule that reads context (final sigma) too."""
    return " ".join(map(WORD_TEXT, sentence.words)).lower().replace("’", "'")


def sentence_tokens(sentence: Sentence) -> list[str]:
    """Lower-cased word tokens with punctuation dropped (normalised, split into words)."""
    return normalised(sentence).split(" ") if sentence.words else []


SENTENCE_FINAL = tuple(".!?…")


def is_label_line(text: str, sentence: Sentence) -> bool:
    """A line of its own that does not end like a sentence: a heading, a label or a list item.
    Joined into a paragraph it would run into the next segment's sentence, so whether it counts
    as a repeat must not depend on the layout."""
    if sentence.text.rstrip().rstrip(CLOSERS).endswith(SENTENCE_FINAL):
        return False
    before = sentence.start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    after = sentence.end
    while after < len(text) and text[after] in " \t":
        after += 1
    return (before == 0 or text[before - 1] in "\r\n") and (after == len(text) or text[after] in "\r\n")


@register
class DuplicateSentence(Rule):
    """Catches a sentence that occurs twice in the same document.

    Bad: ``The talks will resume next week in Geneva. … The talks will resume next week in Geneva.``
    Good: ``The talks will resume next week in Geneva. … Both sides sent delegations.``

    Case, punctuation and spacing are ignored; sentences under four words are left alone, and so
    is a line of its own with no full stop (a heading or a list item: "Free delivery on all
    orders" may head every product of a page).
    """

    code = "R001"
    slug = "duplicate-sentence"
    severity = Severity.WARNING
    summary = "The same sentence appears twice in the document."

    MIN_WORDS = 4

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        first_seen: dict[str, Sentence] = {}
        for sentence in doc.sentences:
            if len(sentence.words) < self.MIN_WORDS or ctx.allowed(sentence.text) or is_label_line(doc.text, sentence):
                continue
            key = normalised(sentence)
            first = first_seen.setdefault(key, sentence)
            if first is sentence:
                continue
            yield self.finding(
                sentence.start,
                sentence.end,
                f"This sentence repeats the one {_earlier(sentence, first)} word for word; delete one of them.",
                suggestion="",
            )


def _earlier(sentence: Sentence, first: Sentence) -> str:
    """Where the earlier sentence is, counted in sentences: right wherever the document came from
    (a file, a corpus document joined from segments, a request), unlike a line number."""
    back = sentence.index - first.index
    return "just before it" if back == 1 else f"{back} sentences before it"


@register
class NearDuplicateSentence(Rule):
    """Catches a sentence that is almost a copy of an earlier one in the document.

    Bad: ``The minister said the talks would resume next week in Geneva.``
    … ``The minister said that the talks will resume next week in Geneva.``
    Good: ``The minister said the talks would resume next week in Geneva.``
    … ``Both delegations confirmed they would attend.``

    Word sequences are compared (difflib ratio ≥ 0.85); both sentences need 8 to 150 words, and
    the earlier one must be among the 32 latest sentences sharing the later one's rarest words.
    Exact repeats are left to R001.
    """

    code = "R002"
    slug = "near-duplicate-sentence"
    severity = Severity.WARNING
    summary = "A sentence nearly identical to an earlier one in the document."

    # Short sentences recur legitimately ("There is no sign of it." / "There is no sign of that.").
    MIN_WORDS = 8
    # Past this a "sentence" is a run-on line or a table, and word-order matching costs its square.
    MAX_WORDS = 150
    THRESHOLD = 0.85
    # Candidates per sentence: the most recent sentences sharing its rarest words. Bounding them
    # keeps a document of near-identical sentences linear; a copy is still found when it lies
    # within this many similar sentences.
    MAX_CANDIDATES = 32

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        candidates = [
            (sentence, sentence_tokens(sentence))
            for sentence in doc.sentences
            if self.MIN_WORDS <= len(sentence.words) <= self.MAX_WORDS
            and not ctx.allowed(sentence.text)
            and not is_label_line(doc.text, sentence)
        ]
        # How many sentences hold each word: rare words find the candidate pairs (prefix filtering).
        document_frequency = Counter(token for _, tokens in candidates for token in set(tokens))
        postings: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=self.MAX_CANDIDATES))
        seen: set[tuple[str, ...]] = set()
        for index, (sentence, tokens) in enumerate(candidates):
            exact = tuple(tokens)
            if exact in seen:
                continue  # a word-for-word repeat is R001's, and its first copy is already indexed
            seen.add(exact)
            match = self._best_match(tokens, self._probe(tokens, document_frequency, postings), candidates)
            for token in set(tokens):
                postings[token].append(index)
            if match is None:
                continue
            first, ratio = match
            yield self.finding(
                sentence.start,
                sentence.end,
                f"This sentence nearly repeats the one {_earlier(sentence, first)} ({ratio:.0%} the same words in order).",
                score=ratio,
            )

    def _probe(self, tokens: list[str], frequency: Counter[str], postings: dict[str, deque[int]]) -> set[int]:
        """Earlier sentences that share one of this sentence's rarest words.

        A pair at ratio ≥ T is within a length ratio of T / (2 - T) and shares at least that share
        of this sentence's words, so at most ``budget`` word occurrences go unmatched; any set of
        distinct words covering more occurrences than that holds one the other sentence has too.
        """
        length_bound = self.THRESHOLD / (2 - self.THRESHOLD)
        budget = int(len(tokens) * (1 - (self.THRESHOLD * (1 + length_bound) / 2)))
        counts = Counter(tokens)
        found: set[int] = set()
        covered = 0
        for token in sorted(counts, key=lambda t: (frequency[t], t)):
            found.update(postings.get(token, ()))
            covered += counts[token]
            if covered > budget:
                break
        return set(sorted(found)[-self.MAX_CANDIDATES :])

    def _best_match(
        self, tokens: list[str], probe: set[int], candidates: Sequence[tuple[Sentence, list[str]]]
    ) -> tuple[Sentence, float] | None:
        best: tuple[Sentence, float] | None = None
        # difflib indexes the second sequence once for all the candidates it is compared with
        matcher = difflib.SequenceMatcher(None, (), tokens, autojunk=False)
        for index in sorted(probe):
            sentence, other = candidates[index]
            if other == tokens:
                continue  # exact repeat: R001's
            matcher.set_seq1(other)
            # The cheap upper bounds reject most pairs before the quadratic ratio().
            if matcher.real_quick_ratio() < self.THRESHOLD or matcher.quick_ratio() < self.THRESHOLD:
                continue
            ratio = matcher.ratio()
            if ratio >= self.THRESHOLD and (best is None or ratio > best[1]):
                best = (sentence, ratio)
        return best


# Doubles that are grammatical ("what he had had", "said that that was") or lexicalised.
LEGIT_DOUBLES = frozenset(
    """
    had that bye no ha haha knock tut chop yum blah bla yada cha tom pom dum can go night
    mahi ylang dik tsk boo beep bang bling chug choo hush there yeah yes now well wait
    """.split()
)


def _joined_on(text: str, end: int) -> bool:
    """Whether the word ending at ``end`` goes on as a compound: 'Tpe/QT', 'COVID-19'."""
    return text[end : end + 1] in ("/", "-") and text[end + 1 : end + 2].isalnum()


def _gap(text: str, left: Word, right: Word) -> str:
    return text[left.end : right.start]


@register
class RepeatedWord(Rule):
    """Catches a word written twice in a row.

    Bad: ``talks between the the two sides``
    Good: ``talks between the two sides``

    Grammatical doubles (``had had``, ``that that``), numbers, reduplicated names
    (``Walla Walla``) and words separated by punctuation are left alone.
    """

    code = "R003"
    slug = "repeated-word"
    severity = Severity.WARNING
    summary = "The same word twice in a row ('the the')."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for sentence in doc.sentences:
            words = sentence.words
            if len(words) < 2:
                continue
            lowered = list(map(str.lower, map(WORD_TEXT, words)))
            if True not in map(eq, lowered, islice(lowered, 1, None)):
                continue  # no word equals the next one (found by C code, not a Python loop)
            for i, (left, right) in enumerate(zip(words, words[1:])):
                if self._is_typo_double(doc.text, left, right, ctx) and not self._is_copula_double(words, i):
                    yield self.finding(
                        left.end,
                        right.end,
                        f"'{right.text}' is repeated; delete the second one.",
                        suggestion="",
                    )

    def _is_copula_double(self, words: Sequence[Word], i: int) -> bool:
        """'Where a country is is an average': a clause ending in 'is' followed by the main verb."""
        if words[i].text.lower() not in ("is", "was"):
            return False
        return any(w.text.lower() in WH_WORDS for w in words[max(0, i - 5) : i])

    def _is_typo_double(self, text: str, left: Word, right: Word, ctx: RuleContext) -> bool:
        word = right.text.lower()
        if left.text.lower() != word or not _gap(text, left, right).isspace():
            return False
        if word in LEGIT_DOUBLES or any(ch.isdigit() for ch in word) or ctx.allowed(right.text):
            return False
        if ctx.allowed(f"{left.text} {right.text}"):
            return False
        # "Walla Walla", "Sirhan Sirhan": a capitalised pair is a name unless it is a function word;
        # "General M M Naravane": a pair of initials.
        both_capitalised = left.is_capitalized and right.is_capitalized
        if both_capitalised and len(word) == 1:
            return False
        return not (both_capitalised and zipf_frequency(word, "en") < 5.0)


WH_WORDS = frozenset({"what", "where", "who", "how", "why", "whatever", "whoever", "which", "thing"})

COORDINATORS = frozenset({"and", "or"})
# "again and again": reduplication that English uses on purpose.
REDUPLICATIVE_IDIOMS = frozenset(
    """
    again over on round around by through more less so such up out ever two neck try
    """.split()
)
# "for years and years", "miles and miles": plural quantities repeated for emphasis.
QUANTITY_PLURALS = frozenset(
    """
    years months weeks days hours minutes seconds decades ages centuries miles acres rows
    pages tons lots hundreds thousands millions billions dozens layers piles stacks
    """.split()
)
PREPOSITIONS = frozenset({"in", "on", "at", "for", "with", "from", "by", "to", "of", "as", "into", "under", "over"})
NP_CONTINUATIONS = frozenset({"of", "for", "from", "in", "at", "on", "with", "to", "and", "or"})
COMPARATIVE_EXCEPTIONS = frozenset({"better", "worse", "further", "farther", "fewer", "more", "less"})
FUNCTION_WORDS = frozenset(
    """
    the a an of to in on at by for with from as and or but that this these those it its his her
    their our my your is are was were be
    """.split()
)


ITEM_BREAK = re.compile(r"[;:()]")  # no list item holds these
LIST_LOOKBACK = 400  # characters before "and" searched for the items of a comma list


def is_comparative(word: str) -> bool:
    """'bigger', 'closer', 'easier': an -er form whose base is a common English word."""
    word = word.lower()
    if word in COMPARATIVE_EXCEPTIONS:
        return True
    if not word.endswith("er") or len(word) < 5:
        return False
    stem = word[:-2]
    candidates = {stem, stem + "e"}
    if word.endswith("ier"):
        candidates.add(word[:-3] + "y")
    if len(stem) > 2 and stem[-1] == stem[-2]:
        candidates.add(stem[:-1])  # bigger → big
    return any(zipf_frequency(c, "en") >= 4.0 for c in candidates if len(c) >= 3)


def is_reduplicative_idiom(words: Sequence[str]) -> bool:
    """'again and again', 'bigger and bigger', 'years and years', 'waited and waited'."""
    if len(words) != 1:
        return False
    word = words[0].lower()
    if word in REDUPLICATIVE_IDIOMS or word in QUANTITY_PLURALS or is_comparative(word):
        return True
    # A verb repeated marks duration ("they talked and talked"), not a translation slip.
    return is_verb(word)


# A coordinator in any case, standing alone: str.lower maps no other character onto their letters.
# The look-behind comes after the first letter, so that re skips ahead to that letter.
COORDINATOR = re.compile(
    "(?:"
    + "|".join(f"[{w[0]}{w[0].upper()}](?<![^\\W_].)" + "".join(f"[{c}{c.upper()}]" for c in w[1:]) for w in sorted(COORDINATORS))
    + r")(?![^\W_])"
)


def _coordinator_words(doc: Document) -> Iterator[tuple[Sentence, int]]:
    """Each word that is a coordinator (COORDINATORS), as its sentence and its index there, in
    text order. Found by one pattern over the text rather than by lower-casing every word; a
    match inside a longer word ('rock-and-roll') is no word of its own and is dropped."""
    for m in COORDINATOR.finditer(doc.text):
        sentence = doc.sentence_at(m.start())
        if sentence is None:
            continue
        i = bisect.bisect_left(sentence.words, m.start(), key=WORD_START)
        if i < len(sentence.words) and sentence.words[i].start == m.start() and sentence.words[i].end == m.end():
            yield sentence, i


@register
class RepeatedCoordinatedPhrase(Rule):
    """Catches a phrase coordinated with itself, a sign that two source words became one.

    Bad: ``they stayed friends through thick and thick`` / ``China, Russia and China``
    Good: ``they stayed friends through thick and thin`` / ``again and again``

    Reduplicative idioms (``again and again``, ``more and more``, ``bigger and bigger``,
    ``years and years``) are left alone. The span is the repeated conjunct.
    """

    code = "R004"
    slug = "repeated-coordinated-phrase"
    severity = Severity.WARNING
    summary = "A phrase coordinated with itself ('thin and thin', 'X, Y and Y')."

    MAX_WORDS = 3

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for sentence, i in _coordinator_words(doc):
            words = sentence.words
            word = words[i]
            if i == 0 or i + 1 >= len(words):
                continue
            hit = self._adjacent_repeat(doc.text, words, i) or self._list_repeat(doc.text, sentence, i)
            if hit is None:
                continue
            start, end, left_text = hit
            phrase = doc.text[start:end]
            if ctx.allowed(phrase):
                continue
            yield self.finding(
                start,
                end,
                f"'{phrase}' repeats '{left_text}' across '{word.text}'; "
                "one of the two was probably mistranslated.",
            )

    def _contiguous(self, text: str, words: Sequence[Word]) -> bool:
        return all(_gap(text, a, b).isspace() for a, b in zip(words, words[1:]))

    def _same(self, left: Sequence[Word], right: Sequence[Word]) -> bool:
        return [w.text.lower() for w in left] == [w.text.lower() for w in right]

    def _meaningful(self, words: Sequence[Word]) -> bool:
        lowered = [w.text.lower() for w in words]
        if any(any(ch.isdigit() for ch in w) for w in lowered):
            return False
        return any(w not in FUNCTION_WORDS for w in lowered)

    def _adjacent_repeat(self, text: str, words: Sequence[Word], i: int) -> tuple[int, int, str] | None:
        """'X and X' with X of one to three words, the longest match first."""
        first_after = words[i + 1].text.lower()
        if all(w.text.lower() != first_after for w in words[max(0, i - self.MAX_WORDS) : i]):
            return None  # no X can start both before and after the conjunction
        conjunction = words[i]
        if not _gap(text, conjunction, words[i + 1]).isspace():
            return None
        if _gap(text, words[i - 1], conjunction).strip() not in ("", ","):
            return None
        for k in range(self.MAX_WORDS, 0, -1):
            if i - k < 0 or i + 1 + k > len(words):
                continue
            left, right = words[i - k : i], words[i + 1 : i + 1 + k]
            if not (self._contiguous(text, left) and self._contiguous(text, right)):
                continue
            if not self._same(left, right) or not self._meaningful(right):
                continue
            if is_reduplicative_idiom([w.text for w in right]) or self._is_number_idiom(right):
                return None
            if conjunction.text.lower() == "and" and self._is_plural_heap(right):
                return None
            if self._opens_clause(words, i + k) or _joined_on(text, right[-1].end):
                return None
            return right[0].start, right[-1].end, " ".join(w.text for w in left)
        return None

    def _opens_clause(self, words: Sequence[Word], last: int) -> bool:
        """'… on the patient and the patient was discharged': the repeat is the subject of a new
        clause (a finite auxiliary follows it), not a second conjunct."""
        return last + 1 < len(words) and words[last + 1].text.lower() in AUXILIARIES

    def _is_plural_heap(self, right: Sequence[Word]) -> bool:
        """'masses and masses', 'rows and rows': a plural repeated to mean 'a great many'."""
        word = right[-1].text.lower()
        return len(right) == 1 and word.endswith("s") and not word.endswith(("ss", "us", "is"))

    def _is_number_idiom(self, right: Sequence[Word]) -> bool:
        return len(right) == 1 and right[0].text.lower() in {"one", "two"}

    def _list_repeat(self, text: str, sentence: Sentence, i: int) -> tuple[int, int, str] | None:
        """'X, Y and X': the last item of a comma list repeats an earlier item."""
        words = sentence.words
        conjunction = words[i]
        # a list's items lie just before its "and": a bounded look-back keeps long sentences linear
        before = text[max(sentence.start, conjunction.start - LIST_LOOKBACK) : conjunction.start].rstrip()
        if before.endswith(","):
            before = before[:-1]
        earlier = self._earlier_items([part.strip() for part in before.split(",")])
        if earlier is None:
            return None
        first_item = earlier[0]
        for k in range(self.MAX_WORDS, 0, -1):
            right = words[i + 1 : i + 1 + k]
            if len(right) < k or not self._contiguous(text, right) or not self._meaningful(right):
                continue
            if not _gap(text, conjunction, right[0]).isspace() or any(is_verb(w.text) for w in right):
                continue
            if right[0].text.lower() in PREPOSITIONS:
                continue  # "so in this case, a spiral, or in this case, two cubes": parallel adverbials
            if self._item_goes_on(text, words, i + k):
                continue
            lowered = [w.text.lower() for w in right]
            for item in earlier:
                # The first item may carry the words that lead into the list: "… from Chile".
                if item == lowered or (item is first_item and item[-k:] == lowered):
                    if is_reduplicative_idiom(lowered):
                        return None
                    return right[0].start, right[-1].end, " ".join(w.text for w in right)
        return None

    def _item_goes_on(self, text: str, words: Sequence[Word], last: int) -> bool:
        """'… and the president of the bank', '… and China Daily': the last item is longer."""
        if _joined_on(text, words[last].end):
            return True  # 'Tpe, Tpe/QT and Tpe/QTc': the item is a compound
        if last + 1 >= len(words) or not _gap(text, words[last], words[last + 1]).isspace():
            return False
        following = words[last + 1]
        return following.is_capitalized or following.text.lower() in NP_CONTINUATIONS

    def _earlier_items(self, parts: list[str]) -> list[list[str]] | None:
        """The list items before the conjunction: the short parts, then the part leading in.

        None unless there is at least one short middle item: "X, Y and Z", not "As you can
        see, the image is blurred, and you can see".
        """
        middle: list[list[str]] = []
        for index in range(len(parts) - 1, -1, -1):
            item = self._item_words(parts[index]) if index else None
            if item is None:
                if not middle:
                    return None
                lead_in = self._item_words(parts[index], last_only=True)
                return [lead_in, *middle] if lead_in else None
            middle.insert(0, item)
        return None

    def _item_words(self, item: str, last_only: bool = False) -> list[str] | None:
        """The words of a list item (None if it has none, or, for a middle item, if it is too long
        or holds ';', ':' or brackets); a middle item is read no further than its limit."""
        if not last_only and ITEM_BREAK.search(item):
            return None
        matches = WORD.finditer(item)
        tokens = [m.group().lower() for m in (matches if last_only else islice(matches, self.MAX_WORDS + 1))]
        if not tokens or (not last_only and len(tokens) > self.MAX_WORDS):
            return None
        return tokens
