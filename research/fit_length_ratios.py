"""Fit A004's length-ratio bounds per source language on dev human translations.

    python research/fit_length_ratios.py [--low 0.002] [--high 0.998] [--margin 0.10]

Reads dev only: Bio-MQM (de, es, fr, it, pt → en; systems `reference` and `reference_r1`) and
TED MQM (zh → en; systems `ref` and `refB`), keeps each distinct (source, translation) pair that no
rater marked with an Accuracy error, and writes the ratio of non-blank characters (translation /
source) at the two quantiles, widened by a margin, to mtcheck/data/length_ratios.json.

The bounds are fitted on the very translations the evaluation counts flags on, so the script also
prints a two-fold estimate: bounds fitted on half the pairs, flags counted on the other half
(margin 0: 1.45 flags per 100 such pairs; 0.05: 0.60; 0.10: 0.28, on 2026-12-05).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

from mtcheck.rules.accuracy import MIN_SOURCE_CHARS_FOR_LENGTH
from mtcheck.stats import quantile

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("MTCHECK_EVAL_DIR", ROOT.parent / "shared" / "eval")) / "dev"
HUMAN = {"reference", "reference_r1", "ref", "refB"}


def human_pairs() -> dict[str, list[tuple[str, str]]]:
    """Distinct (source, target) human translations free of Accuracy errors, by source language."""
    accurate: dict[tuple[str, str, str], bool] = {}
    for name, language_of in (("biomqm_x2en.jsonl", lambda r: r["pair"][:2]), ("mqm_ted_zhen.jsonl", lambda r: "zh")):
        with (DEV / name).open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if row["system"] not in HUMAN:
                    continue
                key = (language_of(row), row["source"], row["target"])
                clean = not any(e.get("category", "").startswith("Accuracy") for e in row["errors"])
                accurate[key] = accurate.get(key, True) and clean
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (language, source, target), clean in accurate.items():
        if clean:
            out[language].append((source, target))
    return out


def compact_length(text: str) -> int:
    return len("".join(text.split()))


def bounds(ratios: list[float], low: float, high: float, margin: float) -> tuple[float, float]:
    ordered = sorted(ratios)
    return quantile(ordered, low) * (1 - margin), quantile(ordered, high) * (1 + margin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=float, default=0.002)
    parser.add_argument("--high", type=float, default=0.998)
    parser.add_argument("--margin", type=float, default=0.10, help="widen the bounds by this share")
    args = parser.parse_args()
    languages = {}
    held_out_flags = held_out = 0
    for language, pairs in sorted(human_pairs().items()):
        ratios = [compact_length(t) / compact_length(s) for s, t in pairs if compact_length(s) >= MIN_SOURCE_CHARS_FOR_LENGTH]
        low, high = bounds(ratios, args.low, args.high, args.margin)
        languages[language] = {"low": round(low, 3), "median": round(quantile(sorted(ratios), 0.5), 3),
                               "high": round(high, 3), "pairs": len(ratios)}
        print(language, languages[language])
        for fit, test in ((ratios[::2], ratios[1::2]), (ratios[1::2], ratios[::2])):
            low, high = bounds(fit, args.low, args.high, args.margin)
            held_out_flags += sum(not low <= r <= high for r in test)
            held_out += len(test)
    print(f"two-fold estimate: {100 * held_out_flags / held_out:.2f} flags per 100 human translations (sources >= "
          f"{MIN_SOURCE_CHARS_FOR_LENGTH} characters)")
    payload = {
        "about": "A004 length-ratio bounds (non-blank characters, translation / source) from dev human "
                 "translations without Accuracy errors; research/fit_length_ratios.py",
        "quantiles": [args.low, args.high],
        "margin": args.margin,
        "languages": languages,
    }
    out = ROOT / "mtcheck" / "data" / "length_ratios.json"
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
