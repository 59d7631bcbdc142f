"""A tiny stand-in for ../shared/eval (the files scripts/evaluate.py reads), shared by the tests."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path


def err(text: str, piece: str, category: str, severity: str = "Major", side: str = "target") -> dict:
    start = text.index(piece)
    assert text[start : start + len(piece)] == piece
    return {"side": side, "start": start, "end": start + len(piece), "category": category, "severity": severity}


def mqm_row(system: str, rater: str, target: str, errors: list[dict], seg: str = "1") -> str:
    n_major = sum(e["severity"] == "Major" for e in errors)
    row = {"system": system, "doc": "d1", "seg_id": seg, "rater": rater, "source": "源", "target": target,
           "errors": errors, "n_major": n_major, "n_minor": len(errors) - n_major, "mqm_penalty": 5.0 * n_major}
    return json.dumps(row, ensure_ascii=False)


def fake_eval_dir(root: Path) -> None:
    (root / "dev" / "jfleg").mkdir(parents=True)
    (root / "dev" / "blimp").mkdir()
    (root / "holdout").mkdir()
    bad = "The plan was was good and we left ."
    grammar = [err(bad, "was was", "Fluency/Grammar")]
    (root / "dev" / "mqm_ted_zhen.jsonl").write_text(
        "\n".join([
            mqm_row("A", "r1", bad, grammar),
            mqm_row("B", "r2", "The plan was good.", []),
            mqm_row("C", "r1", "It rained , and we left .", [err("It rained , and we left .", " ,", "Fluency/Punctuation", "Minor")], "2"),
        ]) + "\n", encoding="utf-8")
    # one output, three raters: only two agree on "was was"
    (root / "holdout" / "mqm_wmt23_news_zhen.jsonl").write_text(
        "\n".join(mqm_row("A", r, bad, e) for r, e in (("r1", grammar), ("r2", grammar), ("r3", []))) + "\n",
        encoding="utf-8")
    (root / "holdout" / "newstest2021_zhen_mqm_sentences.tsv").write_text(
        "seg_id\tsystem\tmqm_avg_score\tsource_zh\tmt_en\tref_A_en\n"
        "1\tA\t0.000000\t源\tThe plan was good.\tThe plan was good.\n"
        "1\tB\t-6.000000\t源\tThe plan was was good.\tThe plan was good.\n"
        "2\tA\t-1.000000\t源\tWe left early.\tWe left early.\n", encoding="utf-8")
    bio = [("reference", "2", "It approved the budget .", []), ("reference", "1", "The council met on Monday.", []),
           ("reference", "3", "It rained.", [{"category": "Fluency/Grammar"}]), ("sysA", "1", "The council met.", [])]
    (root / "dev" / "biomqm_x2en.jsonl").write_text("\n".join(json.dumps(
        {"pair": "de2en", "system": system, "doc_id": "doc1", "seg_id": seg, "target": target, "errors": errors,
         "source": "x", "n_major": 0, "n_minor": len(errors), "mqm_penalty": 0})
        for system, seg, target, errors in bio) + "\n", encoding="utf-8")
    clean = [{"doc_id": "n1", "domain": "news", "para": 0, "seg_id": 1, "text": "The council met on Monday."},
             {"doc_id": "n1", "domain": "news", "para": 1, "seg_id": 2, "text": "It approved the budget."}]
    (root / "dev" / "newstest2021.en.src.jsonl").write_text("\n".join(json.dumps(r) for r in clean) + "\n")
    general = [dict(r, domain=d, doc_id=f"{d}{r['doc_id']}") for d in ("news", "ecommerce", "social", "conversation") for r in clean]
    (root / "holdout" / "generaltest2022.en.src.jsonl").write_text("\n".join(json.dumps(r) for r in general) + "\n")
    with zipfile.ZipFile(root / "dev" / "blimp" / "BLiMP.zip", "w") as archive:
        pair = {"sentence_good": "The dogs bark.", "sentence_bad": "The dogs barks.", "UID": "agreement"}
        archive.writestr("data/agreement.jsonl", json.dumps(pair) + "\n" + json.dumps(pair) + "\n")
    (root / "dev" / "jfleg" / "dev.src").write_text("He go home .\nIt is fine .\n")
    for k in range(4):
        (root / "dev" / "jfleg" / f"dev.ref{k}").write_text("He goes home .\nIt is fine .\n")
