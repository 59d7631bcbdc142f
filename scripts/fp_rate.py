"""Flags per 100 sentences on clean English news (dev by default), by rule and severity.

    python scripts/fp_rate.py [--lm] [--show CODE] [--path FILE.jsonl]
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaldata import clean_news_documents  # noqa: E402

from mtcheck import Checker  # noqa: E402
from mtcheck.config import Config  # noqa: E402
from mtcheck.findings import Severity  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lm", action="store_true", help="include the language model")
    parser.add_argument("--show", default="", help="print the flags of codes starting with this")
    parser.add_argument("--path", type=Path, default=None)
    args = parser.parse_args()
    documents = clean_news_documents(args.path)
    report = Checker(Config(lm=args.lm)).check_many(documents)
    sentences = report.summary()["sentences"]
    by_code = collections.Counter(f.code for f in report.findings)
    warn = sum(1 for f in report.findings if f.severity >= Severity.WARNING)
    print(f"{len(documents)} documents, {sentences} sentences")
    print(f"warning+ flags per 100 sentences: {100 * warn / sentences:.2f} ({warn} flags)")
    for code, n in sorted(by_code.items()):
        print(f"  {code}: {n} ({100 * n / sentences:.2f}/100)")
    if args.show:
        for doc in report.documents:
            for f in doc.findings:
                if f.code.startswith(args.show):
                    s = doc.document.sentence_at(f.start)
                    print(f"{doc.source} {f.code} {doc.document.text[f.start:f.end]!r} :: {s.text if s else ''}")


if __name__ == "__main__":
    main()
