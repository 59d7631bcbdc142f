"""Flags on clean dev English in both layouts, per rule: the human Bio-MQM translations no rater
marked (grouped by document) and the de-en human references (blocks of ten lines).

    python research/layout_probe.py            # heuristic rules only
    python research/layout_probe.py --lm       # with the detector
    python research/layout_probe.py --show Q002,F001   # print those findings

The same segments are checked joined into one paragraph and one per line; results in
docs/detector.md ("Layout") and the session notes. Dev data only.
"""

from __future__ import annotations

import argparse
import collections
import json

from mtcheck import Checker
from mtcheck.config import Config
from mtcheck.evaldata import EVAL_DIR
from mtcheck.findings import Severity

DEEN_BLOCK = 10


def clean_sets() -> dict[str, list[list[str]]]:
    lines = [line.strip() for line in (EVAL_DIR / "dev" / "newstest2021.de-en.ref.A.en").read_text(encoding="utf-8").splitlines()]
    documents: dict[tuple[str, str], dict[int, str]] = collections.OrderedDict()
    with open(EVAL_DIR / "dev" / "biomqm_x2en.jsonl", encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            if row["system"].startswith("reference") and not row["errors"]:
                documents.setdefault((row["system"], row["doc"]), {})[int(row["seg_id"])] = row["target"].strip()
    return {
        "de-en references": [lines[i : i + DEEN_BLOCK] for i in range(0, len(lines), DEEN_BLOCK)],
        "Bio-MQM human, no error": [[text for _, text in sorted(segments.items())] for segments in documents.values()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", action="store_true", help="with the detector (default: rules only)")
    parser.add_argument("--show", default="", help="comma-separated codes whose findings to print")
    args = parser.parse_args()
    shown = set(filter(None, args.show.split(",")))
    checker = Checker(Config(lm=args.lm))
    for name, documents in clean_sets().items():
        segments = sum(map(len, documents))
        for layout, separator in (("paragraphs", " "), ("lines", "\n")):
            report = checker.check_many([(separator.join(d), str(i)) for i, d in enumerate(documents)])
            per_code: collections.Counter[str] = collections.Counter()
            for document in report.documents:
                for f in document.findings:
                    if f.severity >= Severity.WARNING:
                        per_code[f.code] += 1
                        if f.code in shown:
                            print(f"   {layout} {f.code} {document.document.text[f.start:f.end][:60]!r} | {f.message[:90]}")
            total = sum(per_code.values())
            print(f"{name}, {layout}: {segments} segments, {100 * total / segments:.2f} warning+ per 100; {dict(per_code.most_common())}")


if __name__ == "__main__":
    main()
