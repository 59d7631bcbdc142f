"""Token spans: monotonic, covering every visible character, text[start:end] is the token."""

from __future__ import annotations

import pytest

from mtcheck.lm.backbone import clean_offsets
from mtcheck.lm.testing import assert_valid_spans

TEXTS = [
    "The harbour was quiet, and the ferry left at noon.",
    "  Two  spaces,\tone tab\nand a newline.",
    "Prices rose 4.5% in “real” terms — or so the mayor’s office said…",
    "Zürich, São Paulo and 東京 signed the accord 🙂 yesterday.",
    "Line one.\n\nLine three after a blank line.",
    "<|endoftext|> is literal text here",
    "x",
]


check_spans = assert_valid_spans


def test_leading_space_moves_into_the_gap() -> None:
    text = "the cat"
    starts, ends = clean_offsets(text, [(0, 3), (3, 7)])
    assert [text[s:e] for s, e in zip(starts, ends)] == ["the", "cat"]
    assert (starts[1], ends[1]) == (4, 7)


def test_whitespace_only_tokens_keep_their_whitespace() -> None:
    text = "a  b\n"
    starts, ends = clean_offsets(text, [(0, 1), (1, 2), (2, 4), (4, 5)])
    assert [text[s:e] for s, e in zip(starts, ends)] == ["a", " ", "b", "\n"]


def test_bytes_of_one_character_share_its_span() -> None:
    text = "a 東京"
    # byte-level BPE: " 東" as (1,3) then two continuation pieces of the same character
    offsets = [(0, 1), (1, 3), (2, 3), (2, 3), (3, 4)]
    starts, ends = clean_offsets(text, offsets)
    assert [text[s:e] for s, e in zip(starts, ends)] == ["a", "東", "東", "東", "京"]
    check_spans(text, starts, ends)


def test_empty_token_gets_a_zero_width_span_after_the_previous_one() -> None:
    text = "ab cd"
    starts, ends = clean_offsets(text, [(0, 2), (0, 0), (2, 5)])
    assert (starts[1], ends[1]) == (2, 2)
    assert text[starts[2] : ends[2]] == "cd"
    check_spans(text, starts, ends)


def test_out_of_range_offsets_are_clamped() -> None:
    starts, ends = clean_offsets("abc", [(0, 2), (2, 9)])
    assert ends.tolist() == [2, 3]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_spans_follow_the_conventions(tiny_backbone, text: str) -> None:
    [(ids, starts, ends)] = tiny_backbone.tokenize([text])
    assert len(ids) == len(starts)
    check_spans(text, starts, ends)


def test_whole_character_tokens_decode_to_their_surface(tiny_backbone) -> None:
    text = "Students planted trees, the coach said: \"We are happy.\""
    [(ids, starts, ends)] = tiny_backbone.tokenize([text])
    pieces = []
    for token_id, start, end in zip(ids, starts, ends):
        decoded = tiny_backbone.loaded.tokenizer.decode([token_id])
        surface = text[start:end]
        assert surface == (decoded if decoded.isspace() else decoded.lstrip())
        pieces.append(decoded)
    assert "".join(pieces) == text, "tokens in order must rebuild the text"


def test_literal_special_token_text_is_not_a_control_token(tiny_backbone) -> None:
    [(ids, _, _)] = tiny_backbone.tokenize(["say <|endoftext|> now"])
    assert tiny_backbone.start_id not in ids
