"""Which language a text is in: py3langid (langid.py's model, BSD, 97 languages, no download),
loaded on first use, and the share of a text's letters in a non-Latin script."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mtcheck.rules.script import CJK_PUNCTUATION, script_of

DETECTION_SAMPLE_CHARS = 20_000
MIN_LETTERS = 10  # about a sentence of Chinese, two words of German


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(texts: list[str]) -> str | None:
    """The language of a body of text (ISO 639-1, 'zh', 'de'…), or None with too little text."""
    sample = " ".join(texts)[:DETECTION_SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    language, _ = _identifier().classify(sample)
    return str(language)


def probability_of(text: str, language: str) -> float:
    """How likely ``text`` is in ``language`` rather than English (0-1)."""
    scores = dict(_identifier().rank(text))
    theirs, english = scores.get(language, 0.0), scores.get("en", 0.0)
    return float(theirs / (theirs + english)) if theirs + english > 0 else 0.0


def foreign_letter_share(text: str) -> float:
    """The share of letters in a non-Latin script (CJK, Cyrillic, Arabic…)."""
    letters = foreign = 0
    for char in text:
        if char.isalpha():
            letters += 1
            script = script_of(char)
            foreign += script is not None and script != CJK_PUNCTUATION
    return foreign / letters if letters else 0.0
