"""Token rows and token→word alignment: the one place where text becomes what the network sees.

A document is cut into *rows*: the sentences of one block, grouped in order while they fit in
``max_tokens`` tokens (a longer sentence is cut between words). A block is a paragraph, or a run of
paragraphs one line each (no blank line between them: one segment per line), so that the two
layouts users have give a word the same context. Each row is tokenized on its own, after the
backbone's start token, with line breaks read as spaces, so a word is scored with the words of its
own block around it and never with another block's. A word's score is read at its last token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mtcheck.document import PARAGRAPH_BREAK, Document, Paragraph, Word

MAX_TOKENS = 256

# text -> [(ids, starts, ends)] with character offsets into each text (mtcheck.lm.backbone.Backbone.tokenize)
Tokenize = Callable[[Sequence[str]], list[tuple[list[int], np.ndarray, np.ndarray]]]


@dataclass
class Row:
    """One sequence for the network: a start token, then the tokens of ``words``' text."""

    ids: list[int]  # start token first
    words: np.ndarray  # indices into Document.words of the words in this row, in order
    last_token: np.ndarray  # per word, the position in ``ids`` of its last token


def word_last_tokens(words: Sequence[Word], offset: int, starts: np.ndarray) -> np.ndarray:
    """For each word, the index of the last token overlapping it (token ``starts`` relative to ``offset``).

    A word that no token overlaps (cannot happen with byte-level BPE) takes the token before it.
    """
    word_ends = np.array([w.end - offset for w in words], dtype=np.int64)
    # the last token whose start lies before the word's end overlaps the word, or precedes it
    last = np.searchsorted(starts, word_ends, side="left") - 1
    return np.clip(last, 0, max(len(starts) - 1, 0))


def rows(document: Document, tokenize: Tokenize, start_id: int, max_tokens: int = MAX_TOKENS) -> list[Row]:
    """The rows of a document (see the module docstring), every word in exactly one row."""
    all_words = document.words
    index_of = {id(w): i for i, w in enumerate(all_words)}
    pieces: list[list[Word]] = []
    for block in blocks(document):
        sentences = [list(s.words) for paragraph in block for s in paragraph.sentences if s.words]
        if not sentences:
            continue
        counts = [len(t[0]) for t in tokenize([_text(document, s) for s in sentences])]
        group: list[Word] = []
        size = 0
        for words, count in zip(sentences, counts):
            if group and size + count > max_tokens:
                pieces.append(group)
                group, size = [], 0
            group.extend(words)
            size += count
        if group:
            pieces.append(group)
    result: list[Row] = []
    for piece in _fit(pieces, document, tokenize, max_tokens):
        offset = piece[0].start
        ids, starts, _ = tokenize([_text(document, piece)])[0]
        last = word_last_tokens(piece, offset, starts) + 1  # after the start token
        result.append(Row([start_id, *ids], np.array([index_of[id(w)] for w in piece]), last))
    return result


def blocks(document: Document) -> list[list[Paragraph]]:
    """The paragraphs in runs that only single line breaks separate (see the module docstring)."""
    out: list[list[Paragraph]] = []
    for paragraph in document.paragraphs:
        if out and PARAGRAPH_BREAK.search(document.text, out[-1][-1].end, paragraph.start) is None:
            out[-1].append(paragraph)
        else:
            out.append([paragraph])
    return out


# Line breaks read as spaces, one character for one: offsets stay those of the document's text.
LINE_BREAKS_AS_SPACES = str.maketrans({"\n": " ", "\r": " ", "\u2028": " ", "\u2029": " "})


def _text(document: Document, words: Sequence[Word]) -> str:
    return document.text[words[0].start : words[-1].end].translate(LINE_BREAKS_AS_SPACES)


def _fit(pieces: list[list[Word]], document: Document, tokenize: Tokenize, max_tokens: int) -> list[list[Word]]:
    """Cut pieces whose tokens still exceed ``max_tokens`` (one very long sentence) between words."""
    out = []
    for piece in pieces:
        ids, starts, _ = tokenize([_text(document, piece)])[0]
        if len(ids) <= max_tokens:
            out.append(piece)
            continue
        last = word_last_tokens(piece, piece[0].start, starts)
        begin = 0
        while begin < len(piece):
            base = last[begin - 1] + 1 if begin else 0
            end = int(np.searchsorted(last, base + max_tokens, side="left"))
            end = max(end, begin + 1)
            out.append(piece[begin:end])
            begin = end
    return out
