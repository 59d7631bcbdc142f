import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtcheck.document import (
    PARAGRAPH_BREAK,
    WORD,
    Document,
    _lines_are_paragraphs,
    paragraph_spans,
    split_sentences,
    words_in,
)


def sentences(text: str) -> list[str]:
    return [s.text for s in Document.parse(text).sentences]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The cat sat. The dog ran.", ["The cat sat.", "The dog ran."]),
        ("President Vladimir V. Putin spoke. Then he left.", ["President Vladimir V. Putin spoke.", "Then he left."]),
        ("Dr. Smith arrived at 3 p.m. on Monday.", ["Dr. Smith arrived at 3 p.m. on Monday."]),
        ("U.S. officials met Mr. Lee in Washington.", ["U.S. officials met Mr. Lee in Washington."]),
        ("He moved to the U.S. The move was hard.", ["He moved to the U.S.", "The move was hard."]),
        ("Growth was 3.5 percent. Prices rose.", ["Growth was 3.5 percent.", "Prices rose."]),
        ("“We stand together,” the media. Next one.", ["“We stand together,” the media.", "Next one."]),
        ("He said “stop.” She left.", ["He said “stop.”", "She left."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("J. R. R. Tolkien wrote books.", ["J. R. R. Tolkien wrote books."]),
        ("See e.g. the appendix. It helps.", ["See e.g. the appendix.", "It helps."]),
        ("No ending punctuation here", ["No ending punctuation here"]),
        ("Wait... What happened?", ["Wait...", "What happened?"]),
        ("It costs $4.99 today. Buy it.", ["It costs $4.99 today.", "Buy it."]),
        ("The vote (held Monday.) passed.", ["The vote (held Monday.) passed."]),
    ],
)
def test_sentence_splitting(text, expected):
    assert sentences(text) == expected


def test_paragraphs_are_blank_line_separated_and_single_newlines_stay_inside():
    text = "First line\ncontinues here. Second sentence.\n\nNew paragraph here"
    doc = Document.parse(text)
    assert [p.text for p in doc.paragraphs] == ["First line\ncontinues here. Second sentence.", "New paragraph here"]
    assert [s.paragraph for s in doc.sentences] == [0, 0, 1]


def test_one_paragraph_per_line_layout_without_blank_lines():
    text = "The first paragraph ends here.\nThe second one too.\n“A quote ends it.”\n"
    doc = Document.parse(text)
    assert len(doc.paragraphs) == 3


def test_hard_wrapped_paragraph_is_not_split_into_lines():
    text = "This paragraph is wrapped\nat a fixed width so lines\nend in the middle of sentences."
    assert len(Document.parse(text).paragraphs) == 1


def test_every_offset_points_into_the_original_text():
    text = "  Mr. Ng said so.\r\n\r\n“Fine,” he said.  Tea costs 3.50 euros.\n"
    doc = Document.parse(text)
    for p in doc.paragraphs:
        assert text[p.start : p.end] == p.text
        for s in p.sentences:
            assert text[s.start : s.end] == s.text
            for w in s.words:
                assert text[w.start : w.end] == w.text


def test_words_keep_apostrophes_hyphens_and_decimals():
    doc = Document.parse("Putin's well-known plan costs 3.5 billion, don't you think?")
    assert [w.text for w in doc.words] == ["Putin's", "well-known", "plan", "costs", "3.5", "billion", "don't", "you", "think"]


def test_line_and_column_are_one_based_and_handle_crlf():
    text = "ab\r\ncd\nef"
    doc = Document.parse(text)
    assert doc.line_col(0) == (1, 1)
    assert doc.line_col(4) == (2, 1)
    assert doc.line_col(5) == (2, 2)
    assert doc.line_col(7) == (3, 1)


def test_empty_and_whitespace_only_text_has_no_sentences():
    assert Document.parse("").sentences == ()
    assert Document.parse(" \n\n \t").sentences == ()


def test_split_sentences_respects_bounds():
    text = "xx A b. C d. yy"
    assert split_sentences(text, 3, 12) == [(3, 7), (8, 12)]


def test_sentence_at_finds_the_enclosing_sentence():
    doc = Document.parse("One two. Three four.")
    assert doc.sentence_at(10).text == "Three four."
    assert doc.sentence_at(0).text == "One two."
    assert doc.sentence_at(8).text == "One two."  # right after its last character


def test_sentence_at_is_none_between_sentences():
    doc = Document.parse("One two.   Three four.\n\n\nFive.")
    assert doc.sentence_at(9) is None
    assert doc.sentence_at(24) is None
    assert Document.parse("").sentence_at(0) is None


@given(st.lists(st.sampled_from(["Ab", "U.S.", "e.g.", "don't", "co-op", " ", "\n", "\n\n", ". ", "?” ", "! ", "“", "1.5", "É", "_", "\t"]), max_size=40).map("".join))
def test_words_shared_out_from_one_pass_are_each_sentences_own_words(text: str) -> None:
    # The parser finds the words of the whole text once; each sentence must get exactly the words
    # a scan of its own span finds, and every word must belong to a sentence.
    doc = Document.parse(text)
    for sentence in doc.sentences:
        assert sentence.words == words_in(text, sentence.start, sentence.end)
    assert [w.start for w in doc.words] == [m.start() for m in WORD.finditer(text)]


@given(st.lists(st.sampled_from(["Ab.", "x", " ", "\t", "\n", "\r\n", "\r", "\n\n", " \n \n"]), max_size=40).map("".join))
def test_paragraph_breaks_are_two_line_breaks_with_only_blanks_between(text: str) -> None:
    # The break pattern opens with "\n" to be fast; it must end where the plain definition ends
    # and give the same trimmed paragraphs.
    plain = re.compile(r"(?:[ \t]*\r?\n){2,}")
    assert [m.end() for m in PARAGRAPH_BREAK.finditer(text)] == [m.end() for m in plain.finditer(text)]
    cuts, cursor = [], 0
    for m in plain.finditer(text):
        cuts.append((cursor, m.start()))
        cursor = m.end()
    cuts.append((cursor, len(text)))
    trimmed = [(s + len(text[s:e]) - len(text[s:e].lstrip()), e - len(text[s:e]) + len(text[s:e].rstrip())) for s, e in cuts]
    expected = [(s, e) for s, e in trimmed if s < e]
    if not _lines_are_paragraphs(text):
        assert paragraph_spans(text) == expected
