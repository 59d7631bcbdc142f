"""Loaders for ../shared/eval (shared by the evaluation, calibration and FP scripts)."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

EVAL_DIR = Path(os.environ.get("MTCHECK_EVAL_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "eval"))


def clean_news_documents(path: Path | None = None, domains: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """Rebuild (text, doc_id) documents from a WMT source JSONL: one paragraph per 'para', blank-line separated."""
    path = path or EVAL_DIR / "dev" / "newstest2021.en.src.jsonl"
    docs: "OrderedDict[str, OrderedDict[object, list[str]]]" = OrderedDict()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if domains and row.get("domain") not in domains:
                continue
            paragraphs = docs.setdefault(row["doc_id"], OrderedDict())
            paragraphs.setdefault(row.get("para", row["seg_id"]), []).append(row["text"].strip())
    return [("\n\n".join(" ".join(p) for p in paras.values()), doc_id) for doc_id, paras in docs.items()]
