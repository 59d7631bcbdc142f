"""Refit the shipped fluency thresholds (mtcheck/data/fluency_thresholds.json) on clean DEV text only.

Clean text: the English-original newstest2021 news (65 articles, ~1,000 sentences) and the
professional de→en human translation of newstest2021 (1,000 lines, taken 10 lines to a paragraph).

    python scripts/calibrate_default.py [--out mtcheck/data/fluency_thresholds.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaldata import EVAL_DIR, clean_news_documents  # noqa: E402
from train_tagger import clean_examples  # noqa: E402

from mtcheck.calibration import calibrate  # noqa: E402
from mtcheck.document import Document  # noqa: E402
from mtcheck.lm.models import load_model  # noqa: E402
from mtcheck.lm.scorer import Scorer  # noqa: E402
from mtcheck.tagger import Tagger  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def translated_reference_documents(lines_per_doc: int = 10) -> list[tuple[str, str]]:
    lines = (EVAL_DIR / "dev" / "newstest2021.de-en.ref.A.en").read_text(encoding="utf-8").splitlines()
    return [
        (" ".join(line.strip() for line in lines[i : i + lines_per_doc]), f"de-en.ref:{i + 1}")
        for i in range(0, len(lines), lines_per_doc)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "mtcheck" / "data" / "fluency_thresholds.json")
    args = parser.parse_args()
    started = time.perf_counter()
    texts = clean_news_documents() + translated_reference_documents()
    documents = [Document.parse(text, source) for text, source in texts]
    scorer = Scorer(load_model())
    # The tagger's decoding is fitted only on the clean halves it never trained on.
    tagger_documents = [Document.parse(e.text, e.group) for e in clean_examples(("calib",))]
    thresholds = calibrate(
        scorer,
        documents,
        progress=lambda m: print(m, file=sys.stderr),
        tagger=Tagger.load(scorer.identity),
        tagger_documents=tagger_documents,
    )
    thresholds.save(args.out)
    print(
        f"wrote {args.out}: {thresholds.clean_sentences} sentences, window {thresholds.window_bits:.2f} bits, "
        f"margin {thresholds.verify_margin_bits:.2f} bits, sentence z {thresholds.sentence_flag_z:.2f}, "
        f"tagger {thresholds.tagger} "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
