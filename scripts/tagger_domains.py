"""How the tagger's flags hold their budget on each kind of clean dev text (dev only).

    python scripts/tagger_domains.py [--thresholds FILE]    # ~9 minutes on two cores

For the clean text scripts/calibrate_default.py fits the tagger's decoding on (news calib half,
de-en calib half, TED talk.7 outputs no rater faulted, MLQE-PE dev MT outputs no post-editor
changed), checks it with ``detector = "tagger"`` and
prints the tagger's F001/F002 flags per 100 sentences, the other rules' warnings, and the
decoding each kind of text alone would give.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate_default import tagger_domains  # noqa: E402

from mtcheck.calibration import calibrate_tagger  # noqa: E402
from mtcheck.config import Config  # noqa: E402
from mtcheck.findings import Severity  # noqa: E402
from mtcheck.pipeline import Checker  # noqa: E402


def per_100(count: int, sentences: int) -> float:
    return round(100 * count / sentences, 2) if sentences else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--thresholds", type=Path, default=None, help="thresholds file (default: the shipped one)")
    args = parser.parse_args(argv)
    checker = Checker(Config(detector="tagger").merged(thresholds=args.thresholds))
    model = checker.fluency
    print(f"shipped decoding: {model.thresholds.tagger}")
    for name, documents in tagger_domains().items():
        started = time.perf_counter()
        reports = checker.check_many([(d.text, d.source) for d in documents]).documents
        sentences = sum(len(r.document.sentences) for r in reports)
        tagger_flags = [f for r in reports for f in r.findings if f.code in ("F001", "F002")]
        others = [f for r in reports for f in r.findings if f.code not in ("F001", "F002")]
        alone = calibrate_tagger(model, documents)
        row = {
            "documents": len(documents),
            "sentences": sentences,
            "tagger_warning_per_100": per_100(sum(f.severity >= Severity.WARNING for f in tagger_flags), sentences),
            "tagger_any_per_100": per_100(len(tagger_flags), sentences),
            "other_rules_warning_per_100": per_100(sum(f.severity >= Severity.WARNING for f in others), sentences),
            "decoding_fitted_on_this_alone": {
                key: round(getattr(alone, key), 4)
                for key in ("span_warning", "span_info", "sentence_warning", "sentence_info")
            },
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"{name}: {json.dumps(row)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
