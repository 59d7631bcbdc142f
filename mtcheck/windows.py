"""Long texts are checked in windows, so memory stays bounded whatever the input's size.

The document model costs 55-350 bytes per character (an object per word and sentence): 50 MB of
text took 2.8-17 GB whole. A text longer than :data:`WINDOW_CHARS` is cut at paragraph breaks
(else line breaks, else sentence ends, else spaces) into windows; each window is parsed, checked
and dropped, and only its findings and sentence spans are kept. The report's document is an
:class:`Outline`: the text with paragraph and sentence spans in compact arrays, whose objects are
made only when a format asks for them.

What a window cannot see: document-wide comparisons (a repeated sentence, a name's casing)
reach only as far as the window, about a million characters.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import overload

from mtcheck.document import PARAGRAPH_BREAK, Document, Paragraph, Sentence, words_in
from mtcheck.findings import SentenceScore

WINDOW_CHARS = 1_000_000
SEARCH_BACK = WINDOW_CHARS // 2  # a cut is looked for in the window's second half
CUTS = (
    PARAGRAPH_BREAK,
    re.compile(r"\r?\n"),  # a line break
    re.compile(r"(?<=[.!?])[\"'”’)\]]*[ \t]+(?=[\"'“‘(\[]*[A-Z0-9])"),  # a sentence end
    re.compile(r"\s+"),  # any space
)


def window_spans(text: str, size: int = WINDOW_CHARS) -> list[tuple[int, int]]:
    """Consecutive (start, end) windows covering ``text``, each at most ``size`` characters,
    cut at the strongest boundary in the second half of each window."""
    spans, start = [], 0
    while len(text) - start > size:
        end = start + size
        cut = end
        for pattern in CUTS:
            last = None
            for last in pattern.finditer(text, end - min(SEARCH_BACK, size // 2), end):
                pass
            if last is not None:
                cut = last.end()
                break
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans


class Spans(Sequence[tuple[int, int]]):
    """(start, end) pairs in two integer arrays: 8 bytes a span instead of a tuple's 64."""

    def __init__(self, typecode: str = "i") -> None:
        self.starts = array(typecode)
        self.ends = array(typecode)

    def append(self, start: int, end: int) -> None:
        self.starts.append(start)
        self.ends.append(end)

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int]]: ...
    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.starts[index], self.ends[index]


class Scores(Sequence[SentenceScore]):
    """Sentence scores of a long text without an object per sentence (made when asked for). The
    spans are the outline's sentences; fluency and labels are kept only once the model gave some."""

    def __init__(self, spans: Spans) -> None:
        self.spans = spans
        self.fluency: list[float | None] | None = None
        self.labels: list[str | None] | None = None

    def extend(self, scores: Sequence[SentenceScore]) -> None:
        """Add a window's scores, one per sentence the outline took from that window."""
        if self.fluency is None and any(s.fluency is not None or s.label is not None for s in scores):
            before = len(self.spans) - len(scores)
            self.fluency, self.labels = [None] * before, [None] * before
        if self.fluency is not None and self.labels is not None:
            self.fluency.extend(s.fluency for s in scores)
            self.labels.extend(s.label for s in scores)

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start, end = self.spans[index]
        if self.fluency is None or self.labels is None:
            return SentenceScore(start, end)
        return SentenceScore(start, end, self.fluency[index], label=self.labels[index])


class Outline(Document):
    """A long text's document: paragraph and sentence spans kept compact, objects made on demand."""

    def __init__(self, text: str, source: str) -> None:  # noqa: D107 - not the dataclass __init__
        self.text = text
        self.source = source
        typecode = "i" if len(text) < 2**31 else "q"
        self.paragraph_spans = Spans(typecode)
        self.sentence_spans = Spans(typecode)
        self.sentence_paragraph = array(typecode)

    def add_window(self, window: Document, offset: int) -> None:
        """Take a checked window's paragraphs and sentences (offsets into the window)."""
        first_paragraph = len(self.paragraph_spans)
        for paragraph in window.paragraphs:
            self.paragraph_spans.append(paragraph.start + offset, paragraph.end + offset)
            for sentence in paragraph.sentences:
                self.sentence_spans.append(sentence.start + offset, sentence.end + offset)
                self.sentence_paragraph.append(first_paragraph + paragraph.index)

    @cached_property
    def sentences(self) -> "LazySentences":  # type: ignore[override]
        return LazySentences(self)

    @cached_property
    def paragraphs(self) -> tuple[Paragraph, ...]:  # type: ignore[override]
        by_paragraph: list[list[Sentence]] = [[] for _ in range(len(self.paragraph_spans))]
        for sentence in self.sentences:
            by_paragraph[sentence.paragraph].append(sentence)
        return tuple(
            Paragraph(start, end, self.text[start:end], index, tuple(by_paragraph[index]))
            for index, (start, end) in enumerate(self.paragraph_spans)
        )

    @cached_property
    def _sentence_starts(self) -> Sequence[int]:  # type: ignore[override]
        return self.sentence_spans.starts


class LazySentences(Sequence[Sentence]):
    """An outline's sentences, each built (with its words) when it is read."""

    def __init__(self, outline: Outline) -> None:
        self.outline = outline

    def __len__(self) -> int:
        return len(self.outline.sentence_spans)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        start, end = self.outline.sentence_spans[index]
        text = self.outline.text
        return Sentence(start, end, text[start:end], self.outline.sentence_paragraph[index], index,
                        words_in(text, start, end))

    def __iter__(self) -> Iterator[Sentence]:
        return (self[i] for i in range(len(self)))
