"""How well the accuracy rules (A) find the errors MQM raters marked as Accuracy, per rule.

    python scripts/evaluate_accuracy.py [--split dev|holdout] [--markdown table.md]

dev: TED MQM zh→en and Bio-MQM de/es/fr/it/pt→en. holdout (measure once): WMT23 zh→en MQM.
Each system's outputs form one corpus (so A005 compares a system with itself). An output "has an
Accuracy error" when any rater marked one (category Accuracy/*, Non-translation). For each rule:
- MT outputs: how many it flags, segment precision (flagged outputs with an Accuracy error), span
  precision (findings overlapping a target-side Accuracy span), recall (outputs with an Accuracy
  error that it flags), beside the base rate (the precision of flagging at random);
- human translations (TED `ref`/`refB`, Bio-MQM `reference`/`reference_r1`) free of Accuracy
  errors: flags per 100 segments (the brief's budget: 1 for all A rules together).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mtcheck.config import Config
from mtcheck.rules.base import all_rules
from mtcheck.source.check import check_pairs

ROOT = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("MTCHECK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
SETS = {
    "dev": [("mqm_ted_zhen.jsonl", lambda r: "zh"), ("biomqm_x2en.jsonl", lambda r: r["pair"][:2])],
    "holdout": [("mqm_wmt23_news_zhen.jsonl", lambda r: "zh")],
}
HUMAN = {"ref", "refB", "reference", "reference_r1", "refA", "human"}


@dataclass
class Output:
    system: str
    language: str
    source: str
    target: str
    spans: list[tuple[int, int]] = field(default_factory=list)  # target-side Accuracy spans
    accuracy: bool = False


def is_accuracy(category: str) -> bool:
    return category.startswith("Accuracy") or category.startswith("Non-translation")


def outputs(split: str) -> list[Output]:
    merged: dict[tuple[str, str, str], Output] = {}
    for name, language_of in SETS[split]:
        with (EVAL / split / name).open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                key = (row["system"], row["source"], row["target"])
                out = merged.setdefault(key, Output(row["system"], language_of(row), row["source"], row["target"]))
                for error in row["errors"]:
                    if is_accuracy(error.get("category") or ""):
                        out.accuracy = True
                        if error.get("side", "target") == "target" and error.get("end", 0) > error.get("start", 0):
                            out.spans.append((error["start"], error["end"]))
    return list(merged.values())


def measure(split: str) -> dict:
    config = Config(lm=False)
    codes = [code for code, cls in all_rules().items() if getattr(cls, "needs_source", False)]
    by_system: dict[tuple[str, str], list[Output]] = defaultdict(list)
    for out in outputs(split):
        by_system[(out.system, out.language)].append(out)
    mt = {code: {"flagged": 0, "with_error": 0, "findings": 0, "overlapping": 0, "recalled": 0} for code in codes}
    human = {code: 0 for code in codes}
    mt_outputs = mt_errors = human_segments = 0
    for (system, language), items in sorted(by_system.items()):
        found = check_pairs([o.target for o in items], [o.source for o in items], config, language)
        is_human = system in HUMAN
        for out, findings in zip(items, found, strict=True):
            if is_human:
                if not out.accuracy:
                    human_segments += 1
                    for code in {f.code for f in findings}:
                        human[code] += 1
                continue
            mt_outputs += 1
            mt_errors += out.accuracy
            for code in codes:
                mine = [f for f in findings if f.code == code]
                if not mine:
                    continue
                entry = mt[code]
                entry["flagged"] += 1
                entry["with_error"] += out.accuracy
                entry["recalled"] += out.accuracy
                entry["findings"] += len(mine)
                entry["overlapping"] += sum(any(f.start < e and s < f.end for s, e in out.spans) for f in mine)
    rules = {}
    for code in codes:
        entry = mt[code]
        rules[code] = {
            "flagged": entry["flagged"],
            "segment_precision": _share(entry["with_error"], entry["flagged"]),
            "span_precision": _share(entry["overlapping"], entry["findings"]),
            "recall": _share(entry["recalled"], mt_errors),
            "human_flags_per_100": round(100 * human[code] / human_segments, 2) if human_segments else None,
        }
    total_human = sum(human.values())
    return {
        "split": split,
        "mt_outputs": mt_outputs,
        "mt_outputs_with_accuracy_error": mt_errors,
        "base_rate": _share(mt_errors, mt_outputs),
        "human_segments": human_segments,
        "human_flags_per_100": round(100 * total_human / human_segments, 2) if human_segments else None,
        "rules": rules,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def markdown(result: dict) -> str:
    slugs = {code: cls.slug for code, cls in all_rules().items()}
    lines = [
        f"{result['split']}: {result['mt_outputs']:,} MT outputs, {result['mt_outputs_with_accuracy_error']:,} with an "
        f"Accuracy error (base rate {result['base_rate']}); {result['human_segments']:,} human translations free of "
        f"Accuracy errors: {result['human_flags_per_100']} A flags per 100.",
        "",
        "| rule | MT outputs flagged | segment precision | span precision | recall | human flags / 100 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for code, entry in result["rules"].items():
        lines.append(f"| {code} {slugs[code]} | {entry['flagged']:,} | {entry['segment_precision']} | "
                     f"{entry['span_precision']} | {entry['recall']} | {entry['human_flags_per_100']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SETS), default="dev")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here too")
    args = parser.parse_args()
    result = measure(args.split)
    table = markdown(result)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
