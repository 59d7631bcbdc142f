"""Rows: every word in exactly one row, read at a token that overlaps it; paragraphs never share a
row, except lines of one segment each, which read like the paragraph they would make."""

from __future__ import annotations

import numpy as np

from mtcheck.document import Document
from mtcheck.fluency.align import rows, word_last_tokens

TEXT = (
    "The council met on Tuesday. It approved the new budget after a long debate.\n\n"
    "Residents, who had waited for months, welcomed the decision."
)


def _whitespace_tokenize(texts):
    """Splits on spaces and cuts words into pieces of at most three characters, with offsets."""
    out = []
    for text in texts:
        ids, starts, ends = [], [], []
        position = 0
        for piece in text.split(" "):
            for begin in range(0, len(piece), 3):
                ids.append(len(piece[begin : begin + 3]))
                starts.append(position + begin)
                ends.append(position + min(len(piece), begin + 3))
            position += len(piece) + 1
        out.append((ids, np.array(starts), np.array(ends)))
    return out


def test_every_word_is_in_one_row_read_at_a_token_overlapping_it() -> None:
    doc = Document.parse(TEXT)
    found = rows(doc, _whitespace_tokenize, start_id=0)
    covered = np.concatenate([r.words for r in found])
    assert sorted(covered.tolist()) == list(range(len(doc.words)))
    for row in found:
        first = doc.words[row.words[0]]
        _, starts, ends = _whitespace_tokenize([doc.text[first.start : doc.words[row.words[-1]].end]])[0]
        for word_index, position in zip(row.words, row.last_token):
            word = doc.words[word_index]
            token = position - 1  # after the start token
            assert row.ids[0] == 0
            assert starts[token] + first.start < word.end and ends[token] + first.start > word.start


def test_paragraphs_are_separate_rows_and_long_text_is_cut_between_words() -> None:
    doc = Document.parse(TEXT)
    found = rows(doc, _whitespace_tokenize, start_id=0)
    paragraph_of = {i: p.index for p in doc.paragraphs for s in p.sentences for i, w in enumerate(doc.words) if w in s.words}
    for row in found:
        assert len({paragraph_of[int(w)] for w in row.words}) == 1
    short = rows(doc, _whitespace_tokenize, start_id=0, max_tokens=5)
    assert all(len(r.ids) <= 6 for r in short)  # the start token and at most five
    assert sorted(np.concatenate([r.words for r in short]).tolist()) == list(range(len(doc.words)))


def test_word_last_tokens_takes_the_last_overlapping_token() -> None:
    doc = Document.parse("abcdef gh")
    starts = np.array([0, 3, 7])  # tokens "abc", "def", "gh"
    assert word_last_tokens(doc.words, 0, starts).tolist() == [1, 2]


def test_real_tokenizer_rows_have_valid_word_positions(tiny_backbone) -> None:
    doc = Document.parse(TEXT + "\nA last line without a full stop")
    found = rows(doc, tiny_backbone.tokenize, tiny_backbone.start_id)
    for row in found:
        assert row.ids[0] == tiny_backbone.start_id
        assert np.all(row.last_token >= 1) and np.all(row.last_token < len(row.ids))
        assert np.all(np.diff(row.last_token) >= 0)


def _recording_tokenize(seen: list[str]):
    def tokenize(texts):
        seen.extend(texts)
        return _whitespace_tokenize(texts)

    return tokenize


def test_one_segment_per_line_is_read_like_the_same_segments_in_a_paragraph() -> None:
    segments = ["The council met on Tuesday.", "It approved the new budget.", "Residents welcomed the decision."]
    lines, paragraph = Document.parse("\n".join(segments)), Document.parse(" ".join(segments))
    assert len(lines.paragraphs) == 3 and len(paragraph.paragraphs) == 1  # the layouts really differ
    seen_lines: list[str] = []
    seen_paragraph: list[str] = []
    from_lines = rows(lines, _recording_tokenize(seen_lines), start_id=0)
    from_paragraph = rows(paragraph, _recording_tokenize(seen_paragraph), start_id=0)
    assert [r.ids for r in from_lines] == [r.ids for r in from_paragraph]
    assert [r.words.tolist() for r in from_lines] == [r.words.tolist() for r in from_paragraph]
    assert seen_lines == seen_paragraph  # line breaks read as spaces


def test_a_blank_line_still_separates_rows() -> None:
    doc = Document.parse("The council met on Tuesday.\nIt approved the budget.\n\nResidents welcomed it.")
    found = rows(doc, _whitespace_tokenize, start_id=0)
    last_paragraph = {i for i, w in enumerate(doc.words) if w.start >= doc.paragraphs[-1].start}
    assert len(found) == 2 and set(found[-1].words.tolist()) == last_paragraph
