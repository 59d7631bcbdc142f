"""Probe (issue 24): would "a source name missing from the translation" be a usable check?

    python research/names_probe.py [MAX_ZIPF] [EXAMPLES]

A name is a capitalised word of four or more letters in a Latin-script Bio-MQM source (dev only)
that is not sentence-initial, not an acronym, and rarer than MAX_ZIPF in the source language by
wordfreq (German: also not a compound of a common word). It is missing when its accent- and
case-folded form, its stem, or a close spelling (difflib, 0.75) is absent from the translation.
Prints, per source language: flags per 100 human translations free of Accuracy errors (budget 1),
and on MT outputs the flagged count and their precision beside the base rate of Accuracy errors.
"""

from __future__ import annotations

import collections
import difflib
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

from wordfreq import zipf_frequency

EVAL = Path(os.environ.get("MTCHECK_EVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "eval"))
HUMAN = {"reference", "reference_r1", "ref", "refB"}
CAPITALISED = re.compile(r"(?<![\w-])([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:[-'][A-ZÀ-ÖØ-Þa-zß-öø-ÿ]+)*)(?![\w-])")


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def sentence_initial(text: str, index: int) -> bool:
    j = index - 1
    while j >= 0 and text[j] in " \t\"“„«('‘¿¡—–-":
        j -= 1
    return j < 0 or text[j] in ".!?:;\n…"


def names(source: str, language: str, max_zipf: float) -> list[str]:
    found = []
    for match in CAPITALISED.finditer(source):
        word = match.group(1)
        if len(word) < 4 or sentence_initial(source, match.start()):
            continue
        if max(zipf_frequency(word, language), zipf_frequency(fold(word), language)) >= max_zipf:
            continue
        if language == "de" and any(zipf_frequency(word[:n], language) >= 3 for n in range(4, len(word) - 3)):
            continue  # a compound of common words: German capitalises every noun
        found.append(word)
    return found


def present(name: str, target_folded: str, target_words: list[str]) -> bool:
    folded = fold(name)
    if folded in target_folded or folded[: max(4, len(folded) - 3)] in target_folded:
        return True
    return bool(difflib.get_close_matches(folded, target_words, n=1, cutoff=0.75))


def main() -> None:
    max_zipf = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    shown = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    human_segments, human_flagged = collections.Counter(), collections.Counter()
    mt_outputs, mt_errors, mt_flagged, mt_right = (collections.Counter() for _ in range(4))
    examples = collections.defaultdict(list)
    with (EVAL / "dev" / "biomqm_x2en.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            language = row["pair"][:2]
            accuracy = any((e.get("category") or "").startswith(("Accuracy", "Non-translation")) for e in row["errors"])
            target = fold(row["target"])
            missing = [n for n in names(row["source"], language, max_zipf) if not present(n, target, re.findall(r"\w+", target))]
            if row["system"] in HUMAN:
                if accuracy:
                    continue
                human_segments[language] += 1
                human_flagged[language] += bool(missing)
            else:
                mt_outputs[language] += 1
                mt_errors[language] += accuracy
                mt_flagged[language] += bool(missing)
                mt_right[language] += bool(missing) and accuracy
            if missing and len(examples[language]) < shown:
                examples[language].append((row["system"], missing, row["source"][:120], row["target"][:120]))
    for language in sorted(human_segments):
        print(f"{language}: human {100 * human_flagged[language] / human_segments[language]:.2f} flags/100; "
              f"MT flagged {mt_flagged[language]} of {mt_outputs[language]}, precision "
              f"{mt_right[language] / max(1, mt_flagged[language]):.2f} (base {mt_errors[language] / mt_outputs[language]:.2f})")
        for example in examples[language]:
            print("   ", example)


if __name__ == "__main__":
    main()
