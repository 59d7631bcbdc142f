"""The corruption generator: every kind changes the text where its edit says, labels that change
exactly, and can be undone."""

from __future__ import annotations

import re

import pytest

from mtcheck.fluency import corrupt

# Made up for these tests: quotations, fixed phrases, prepositions, articles, "X and Y" pairs.
PARAGRAPH = (
    "“We are proud of the young players who trained through the cold winter,” the coach said on Friday "
    "after the final match. According to the club, the new stadium will open in March at least two weeks "
    "earlier than planned, as well as a small museum. The mayor has promised a quick and fair decision "
    "about the parking rules in the old town. Fans who travelled from the coast were tired but happy."
)
SEEDS = range(12)
WORD_CHAR = re.compile(r"[^\W_]")


def edits_of(kind: str) -> list[tuple[corrupt.Corrupted, corrupt.Edit]]:
    found = []
    for seed in SEEDS:
        result = corrupt.corrupt_paragraph(PARAGRAPH, seed=seed, rate=1.0, kinds=[kind])
        found.extend((result, edit) for edit in result.edits)
    return found


@pytest.mark.parametrize("kind", sorted(corrupt.KINDS))
def test_every_kind_applies_and_labels_the_change(kind: str) -> None:
    found = edits_of(kind)
    assert found, f"{kind} never applied to the test paragraph"
    for result, edit in found:
        text = result.text
        assert text != PARAGRAPH
        assert text[edit.start : edit.end] == edit.new
        assert edit.new != edit.old
        # undoing this edit alone restores the original around it
        shift = len(edit.new) - len(edit.old)
        undone = text[: edit.start] + edit.old + text[edit.end :]
        assert len(undone) == len(text) - shift
        # the label covers the changed region (less its outer spaces; a deletion: the seam), is not
        # empty and is word-aligned
        visible_start = edit.start + len(edit.new) - len(edit.new.lstrip())
        visible_end = max(visible_start, edit.end - (len(edit.new) - len(edit.new.rstrip())))
        assert edit.label_start <= visible_start <= visible_end <= edit.label_end
        label = text[edit.label_start : edit.label_end]
        assert label and label == label.strip()
        assert WORD_CHAR.search(label), label
        if edit.label_start > 0 and WORD_CHAR.match(text[edit.label_start]):
            assert not WORD_CHAR.match(text[edit.label_start - 1]), f"label starts inside a word: {label!r}"
        if edit.label_end < len(text) and WORD_CHAR.match(text[edit.label_end - 1]):
            assert not WORD_CHAR.match(text[edit.label_end]), f"label ends inside a word: {label!r}"


@pytest.mark.parametrize("seed", SEEDS)
def test_several_edits_undo_to_the_original(seed: int) -> None:
    result = corrupt.corrupt_paragraph(PARAGRAPH, seed=seed, rate=1.0)
    assert len(result.edits) >= 2
    assert result.undo() == PARAGRAPH
    starts = [e.label_start for e in result.edits]
    assert starts == sorted(starts)
    for before, after in zip(result.edits, result.edits[1:]):
        assert before.label_end < after.label_start, "labels of two edits overlap"
    for edit in result.edits:
        assert result.text[edit.start : edit.end] == edit.new


def test_specific_edits() -> None:
    text = "The coach praised the young players after the match on Friday evening."
    words = corrupt.words_in(text, 0, len(text))
    rng = corrupt.random.Random(3)
    # "X and X": the label is the whole garbled phrase
    plan = corrupt.x_and_x(text, words, rng)
    result = corrupt.apply(text, [plan])
    (edit,) = result.edits
    label = result.text[edit.label_start : edit.label_end]
    first, _, second = label.partition(" and ")
    assert first == second and first in text
    # a deleted word is labelled by its two neighbours, joined by one space
    plan = corrupt._deletion("drop-function-word", text, words, 3)  # "the" before "young"
    result = corrupt.apply(text, [plan])
    assert result.text == "The coach praised young players after the match on Friday evening."
    (edit,) = result.edits
    assert result.text[edit.label_start : edit.label_end] == "praised young"
    assert edit.old == "the "
    # a split sentence: ". " plus a capital, labelled with both words
    plan = corrupt.Plan("split", words[5].end, words[6].start + 1, ". A", before=len("players"), after=len("after") - 1)
    result = corrupt.apply(text, [plan])
    assert "players. After the match" in result.text
    assert result.text[result.edits[0].label_start : result.edits[0].label_end] == "players. After"
    assert result.undo() == text


def test_overlapping_plans_are_refused() -> None:
    text = "one two three four"
    with pytest.raises(ValueError):
        corrupt.apply(text, [corrupt.Plan("x", 0, 7, "a"), corrupt.Plan("y", 4, 9, "b")])


def test_deterministic_for_a_seed() -> None:
    a = corrupt.corrupt_paragraph(PARAGRAPH, seed=5)
    b = corrupt.corrupt_paragraph(PARAGRAPH, seed=5)
    c = corrupt.corrupt_paragraph(PARAGRAPH, seed=6)
    assert a.text == b.text and a.edits == b.edits
    assert a.text != c.text
