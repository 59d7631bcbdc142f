"""Document model: paragraphs, sentences and words with offsets into the original text.

Every offset is a Python string index into the text exactly as the user gave it
(after decoding), so ``text[span.start:span.end]`` always returns the span's text.
"""

from __future__ import annotations

import bisect
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from typing import NamedTuple

# Two line breaks or more with only spaces, tabs and carriage returns between them. Opening with
# the line break itself lets re skip ahead to each "\n" (a tenth of a second per MB otherwise);
# the spaces and "\r" before it stay outside the match and are trimmed off the paragraph.
PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\r?\n)+")
WORD = re.compile(r"[^\W_]+(?:[’'\-.][^\W_]+)*", re.UNICODE)

# Tokens after which a period does not end a sentence (compared lower-cased, without the dot).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen lt col sgt capt cmdr adm maj gov sen rep rev hon pres
    supt insp det no nos vol vols fig figs p pp ch sec art op ed eds est approx dept univ assn
    corp inc ltd co bros vs etc al cf ca viz e.g i.e a.m p.m u.s u.k u.n e.u u.s.a d.c n.y l.a
    ave blvd rd hwy
    """.split()
)
# Abbreviations that are also common words ("sat", "sun", "wed"): only when capitalised.
CAPITALISED_ABBREVIATIONS = frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat sun".split()
)
# A dotted acronym ("U.S.") still ends a sentence when one of these words follows it.
SENTENCE_STARTERS = frozenset(
    """
    the a an he she it they we i you this that these those there but and or so yet however
    in on at for if when while after before as his her its their our my meanwhile still also
    """.split()
)
CLOSERS = "\"'”’»)]}"
OPENERS = "\"'“‘«([{"
# Sentence-ending marks and closers before white space; the look-ahead also captures that space
# and the character after it, which decide whether a sentence ends there (_is_boundary).
BOUNDARY = re.compile(r"[.!?…]+[" + re.escape(CLOSERS) + r"]*(?=(\s+)(.?))")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


class Word(NamedTuple):
    """A word: a tuple (start, end, text), so that making millions of them costs little (a
    document holds one per word; a frozen dataclass took 2.5 times as long to build)."""

    start: int
    end: int
    text: str

    @property
    def is_capitalized(self) -> bool:
        return self.text[:1].isupper()


WORD_TEXT = itemgetter(2)  # Word.text, as a function map() runs without Python calls


@dataclass(frozen=True, slots=True)
class Sentence(Span):
    text: str
    paragraph: int
    index: int
    words: tuple[Word, ...] = field(repr=False, default=())


@dataclass(frozen=True, slots=True)
class Paragraph(Span):
    text: str
    index: int
    sentences: tuple[Sentence, ...] = field(repr=False, default=())


LATIN_WORD = re.compile(r"[A-Za-z]+")
DOTTED_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
TOKEN_LOOKBACK = 64  # characters looked back from a dot for the word it ends


def _abbreviation_before(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial."""
    start = dot
    floor = max(0, dot - TOKEN_LOOKBACK)
    while start > floor and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    token = text[start:dot]
    if not token:
        return False
    lowered = token.lower()
    if lowered in ABBREVIATIONS or (lowered in CAPITALISED_ABBREVIATIONS and token[0].isupper()):
        return True
    if len(token) == 1 and token.isupper():
        return True  # an initial: "Vladimir V. Putin"
    return DOTTED_ACRONYM.fullmatch(token) is not None  # "U.S"


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    """Whether a BOUNDARY match ends its sentence: what follows it starts one (or nothing does),
    and a lone period does not close an abbreviation."""
    nxt = match.group(2)
    if not nxt:
        return True  # the end of the text searched
    if not (nxt.isupper() or nxt.isdigit() or nxt in OPENERS):
        return False
    if match.group() == "." and _abbreviation_before(text, match.start()):
        after = match.end() + len(match.group(1))
        next_word = LATIN_WORD.match(text, after, match.endpos)
        # The run of non-space characters before the dot; a bounded look-back keeps a long text
        # with many dots linear (no abbreviation or acronym is that long).
        window = text[max(0, match.start() - TOKEN_LOOKBACK) : match.start()]
        token_before = window.rsplit(None, 1)[-1] if window.strip() else ""
        dotted_acronym = "." in token_before and len(token_before) > 1
        return bool(dotted_acronym and next_word and next_word.group().lower() in SENTENCE_STARTERS)
    return True


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentence spans (absolute offsets, whitespace trimmed)."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = _trim(text, start, end)[0]
    for match in BOUNDARY.finditer(text, start, end):
        if match.end() <= cursor or not _is_boundary(text, match):
            continue
        spans.append((cursor, match.end()))  # ends with a mark: nothing to trim
        cursor = match.end() + len(match.group(1))  # the next sentence starts after the space
    last = _trim(text, cursor, end)
    if last[0] < last[1]:
        spans.append(last)
    return spans


LINE = re.compile(r"[^\r\n]+")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what ends a line for line:column
LINE_END_MARKS = ".!?:…\"”’)]"


def _lines_are_paragraphs(text: str) -> bool:
    """One paragraph per line: no blank line anywhere and (nearly) every line ends a sentence."""
    if PARAGRAPH_BREAK.search(text):
        return False
    lines = [m.group().rstrip() for m in LINE.finditer(text) if m.group().strip()]
    if len(lines) < 2:
        return False
    ended = sum(1 for line in lines if line.endswith(tuple(LINE_END_MARKS)))
    return ended >= 0.8 * len(lines)


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks; single newlines stay inside a paragraph.

    A text with no blank line whose lines each end a sentence is the one-paragraph-per-line
    layout of many news dumps: there each line is a paragraph.
    """
    if _lines_are_paragraphs(text):
        raw = [(m.start(), m.end()) for m in LINE.finditer(text)]
    else:
        raw = []
        cursor = 0
        for match in PARAGRAPH_BREAK.finditer(text):
            raw.append((cursor, match.start()))
            cursor = match.end()
        raw.append((cursor, len(text)))
    return [span for span in (_trim(text, s, e) for s, e in raw) if span[0] < span[1]]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block. Parsing and checking a long text make
    millions of small acyclic objects; each full collection walks all of them, which made the
    work grow faster than the text (3 MB took 4.6 times as long as 1 MB). Nested use is fine."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def words_in(text: str, start: int, end: int) -> tuple[Word, ...]:
    return tuple(_words(text, start, end))


def _words(text: str, start: int = 0, end: int | None = None) -> list[Word]:
    new = tuple.__new__  # Word._make without its Python-level call: a word costs a third less
    return [new(Word, (m.start(), m.end(), m.group())) for m in WORD.finditer(text, start, len(text) if end is None else end)]


@dataclass
class Document:
    """A text with its paragraphs, sentences and words, all offset into ``text``."""

    text: str
    source: str = "-"
    paragraphs: tuple[Paragraph, ...] = ()

    @classmethod
    def parse(cls, text: str, source: str = "-") -> "Document":
        with gc_paused():
            return cls._parse(text, source)

    @classmethod
    def _parse(cls, text: str, source: str) -> "Document":
        # The words of the whole text in one pass, shared out to the sentences: no word crosses a
        # sentence's edge (white space lies on both sides of every sentence).
        words = _words(text)
        word_starts = [w.start for w in words]
        first_word = 0
        paragraphs = []
        sentence_index = 0
        for p_index, (p_start, p_end) in enumerate(paragraph_spans(text)):
            sentences = []
            for s_start, s_end in split_sentences(text, p_start, p_end):
                first_word = bisect.bisect_left(word_starts, s_start, first_word)
                after_last = bisect.bisect_left(word_starts, s_end, first_word)
                sentences.append(
                    Sentence(s_start, s_end, text[s_start:s_end], p_index, sentence_index, tuple(words[first_word:after_last]))
                )
                sentence_index += 1
            paragraphs.append(Paragraph(p_start, p_end, text[p_start:p_end], p_index, tuple(sentences)))
        return cls(text=text, source=source, paragraphs=tuple(paragraphs))

    @cached_property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for p in self.paragraphs for s in p.sentences)

    @cached_property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.sentences for w in s.words)

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for m in LINE_BREAK.finditer(self.text):
            starts.append(m.end())
        return starts

    def excerpt(self, start: int, end: int) -> str:
        """The text between two offsets as a reader should see it (a corpus file's escapes decoded:
        mtcheck.gate.anchored.AnchoredDocument)."""
        return self.text[start:end]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of a character offset."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    @cached_property
    def _sentence_starts(self) -> list[int]:
        return [s.start for s in self.sentences]

    def sentence_at(self, offset: int) -> Sentence | None:
        """The sentence that holds ``offset`` (or ends right at it: an insertion point after its
        last character); None between sentences."""
        i = bisect.bisect_right(self._sentence_starts, offset) - 1
        if i >= 0 and offset <= self.sentences[i].end:
            return self.sentences[i]
        return None
