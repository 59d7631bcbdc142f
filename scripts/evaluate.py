"""Measured quality of mtcheck on real, third-party MT evaluation data (../shared/eval).

    python scripts/evaluate.py [--sets spans,sentences,pairs,fp,rules] [--splits dev,holdout]
                               [--limit N | --full] [--no-lm] [--weights FILE] [--out results.json]
                               [--markdown results.md]

Runs the real checker through the public API (default model, default thresholds) and reports, on dev
and holdout separately: span-level P/R/F1 against MQM gold, sentence-level AUROC and Kendall's tau
against MQM scores, BLiMP and JFLEG minimal-pair accuracy (dev only: both live in dev/), false
positives on clean English, and a per-rule table. Holdout is only measured here, never tuned on.
Definitions: docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtcheck import Checker, evaldata
from mtcheck.config import Config
from mtcheck.document import Document
from mtcheck.evaldata import EVAL_DIR, MinimalPair, MqmOutput, ScoredSegment
from mtcheck.evaluation import (
    PRF,
    Paired,
    auroc,
    char_prf,
    kendall_tau_b,
    mqm_gold,
    span_prf,
)
from mtcheck.findings import DocumentReport, Severity
from mtcheck.stats import rounded

SETS = ("spans", "sentences", "pairs", "fp", "rules", "documents")
LAYOUTS = ("paragraphs", "lines")  # every clean set is measured in both layouts users have
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_0664a0eb5d459460.txt"
SPLITS = ("dev", "holdout")
BLIMP_SETS = 67

# How a multi-sentence segment gets one fluency score: "min" (its least fluent sentence) or "mean"
# (the report's document fluency, the mean over sentences). Chosen on dev (TED AUROC); see
# docs/evaluation.md. Both are reported on dev; holdout gets only this one.
SEGMENT_SCORE = "min"

MQM_FILES = {"dev": EVAL_DIR / "dev" / "mqm_ted_zhen.jsonl", "holdout": EVAL_DIR / "holdout" / "mqm_wmt23_news_zhen.jsonl"}
# dev has one rater per output; holdout three, of which two must agree on a character.
MQM_MIN_RATERS = {"dev": 1, "holdout": 2}
SENTENCES_TSV = EVAL_DIR / "holdout" / "newstest2021_zhen_mqm_sentences.tsv"
GENERAL2022 = EVAL_DIR / "holdout" / "generaltest2022.en.src.jsonl"
# (name, path, domains); the first of each split is the clean set the rule table uses.
CLEAN_SETS = {
    "dev": [
        ("newstest2021 news", EVAL_DIR / "dev" / "newstest2021.en.src.jsonl", None),
        # Biomedical abstracts: Bio-MQM's human references that their rater found error-free.
        ("Bio-MQM error-free human references", EVAL_DIR / "dev" / "biomqm_x2en.jsonl", None),
    ],
    "holdout": [
        ("generaltest2022 news+ecommerce", GENERAL2022, ("news", "ecommerce")),
        ("generaltest2022 social (stress)", GENERAL2022, ("social",)),
        ("generaltest2022 conversation (stress)", GENERAL2022, ("conversation",)),
    ],
}
SEVERITY_VIEWS = {"warning+": Severity.WARNING, "all": Severity.INFO}

# Default sizes: a fixed subsample (about 3 minutes), because the full sets (~37,000 texts) take
# about half an hour with the LM on a 2-core CPU (measured: docs/evaluation.md). ``--full`` lifts every cap; ``--limit N`` sets them all to N.
# MQM outputs and scored segments: the N with the smallest SHA-1 of system|doc|segment (evaldata.stable_sample);
# BLiMP: the first N pairs of each of the 67 paradigms; JFLEG: the first N (reference, source) pairs;
# clean text: whole documents in file order until N sentences.
DEFAULT_CAPS = {"mqm": 300, "sentences": 300, "blimp_per_set": 3, "jfleg": 150, "clean_sentences": 150}
FULL_BLIMP_PER_SET = 100


# -- running the checker -------------------------------------------------------------------------
class Progress:
    """A one-line progress counter on stderr (redrawn in place on a terminal, every 10% otherwise)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.next_report = 0.1

    def update(self, n: int) -> None:
        self.done += n
        fraction = self.done / self.total if self.total else 1.0
        if self.tty or fraction >= self.next_report or self.done == self.total:
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            end = "\r" if self.tty and self.done < self.total else "\n"
            print(f"  {self.label}: {self.done}/{self.total} texts ({rate:.1f}/s)", end=end, file=sys.stderr, flush=True)
            while self.next_report <= fraction:
                self.next_report += 0.1


class Runner:
    """Checks texts in batches, each distinct text once, and keeps the time spent per set."""

    def __init__(self, checker: Checker, batch: int) -> None:
        self.checker = checker
        self.batch = batch
        self.cache: dict[str, DocumentReport] = {}
        self.timing: dict[str, dict[str, float]] = {}

    def check(self, label: str, texts: Sequence[str]) -> list[DocumentReport]:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        progress = Progress(label, len(todo))
        started = time.perf_counter()
        for i in range(0, len(todo), self.batch):
            chunk = todo[i : i + self.batch]
            report = self.checker.check_many([(text, f"{label}:{i + k}") for k, text in enumerate(chunk)])
            progress.update(len(chunk))
            for text, doc in zip(chunk, report.documents):
                self.cache[text] = doc
        seconds = time.perf_counter() - started
        entry = self.timing.setdefault(label, {"texts": 0, "seconds": 0.0})
        entry["texts"] += len(todo)
        entry["seconds"] += seconds
        if todo:
            per_100 = 100 * seconds / len(todo)
            print(f"[{label}] {len(todo)} texts checked in {seconds:.1f} s ({per_100:.1f} s per 100)", flush=True)
        return [self.cache[t] for t in texts]


def predictions(doc: DocumentReport, floor: Severity, code: str | None = None) -> list[tuple[int, int]]:
    return [(f.start, f.end) for f in doc.findings if f.severity >= floor and (code is None or f.code == code)]


def flagged(doc: DocumentReport, floor: Severity = Severity.WARNING) -> bool:
    return any(f.severity >= floor for f in doc.findings)


def segment_fluency(doc: DocumentReport, how: str = SEGMENT_SCORE) -> float | None:
    """One segment's fluency: its least fluent sentence ("min") or the report's mean ("mean")."""
    values = [s.fluency for s in doc.sentences if s.fluency is not None]
    if not values:
        return doc.fluency
    return min(values) if how == "min" else doc.fluency if doc.fluency is not None else sum(values) / len(values)


# -- the measures ----------------------------------------------------------------------------------
@dataclass
class Context:
    runner: Runner
    lm: bool
    caps: dict[str, int | None]  # DEFAULT_CAPS keys; None = the whole set
    cache: dict[str, Any] = field(default_factory=dict)

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]


def mqm_outputs(ctx: Context, split: str) -> tuple[list[MqmOutput], list[DocumentReport]]:
    def build():
        outputs = evaldata.stable_sample(evaldata.load_mqm(MQM_FILES[split]), lambda o: o.key, ctx.caps["mqm"])
        return outputs, ctx.runner.check(f"mqm/{split}", [o.target for o in outputs])

    return ctx.memo(f"mqm/{split}", build)


def mqm_counts(ctx: Context, split: str, floor: Severity, major_only: bool, code: str | None = None) -> tuple[PRF, PRF]:
    outputs, docs = mqm_outputs(ctx, split)
    char_total, span_total = PRF(), PRF()
    for out, doc in zip(outputs, docs):
        gold = mqm_gold(out.ratings, len(out.target), MQM_MIN_RATERS[split], major_only)
        predicted = predictions(doc, floor, code)
        char_total += char_prf(out.target, predicted, gold)
        span_total += span_prf(out.target, predicted, gold)
    return char_total, span_total


def measure_spans(ctx: Context, split: str) -> dict[str, Any]:
    outputs, _ = mqm_outputs(ctx, split)
    result: dict[str, Any] = {"outputs": len(outputs), "min_raters": MQM_MIN_RATERS[split]}
    for view, floor in SEVERITY_VIEWS.items():
        result[view] = {}
        for gold_name, major_only in (("all", False), ("major", True)):
            char_total, span_total = mqm_counts(ctx, split, floor, major_only)
            result[view][gold_name] = {"char": char_total.to_dict(), "span": span_total.to_dict()}
    return result


def score_groups(
    docs: Sequence[DocumentReport],
    human: Sequence[float],
    good: Sequence[bool],
    bad: Sequence[bool],
    lm: bool,
    hows: Sequence[str],
) -> dict[str, Any]:
    """AUROC (good vs bad), tau-b against the human score, and the flag rates of both groups."""
    result: dict[str, Any] = {
        "n_good": sum(good),
        "n_bad": sum(bad),
        "flag_rate_good": _share([flagged(d) for d, g in zip(docs, good) if g]),
        "flag_rate_bad": _share([flagged(d) for d, b in zip(docs, bad) if b]),
    }
    for how in hows:
        if not lm:
            result[how] = None
            continue
        fluency = [segment_fluency(d, how) for d in docs]
        usable = [i for i, f in enumerate(fluency) if f is not None]
        entry = {
            "auroc": rounded(auroc([fluency[i] for i in usable if good[i]], [fluency[i] for i in usable if bad[i]])),
            "kendall_tau_b": rounded(kendall_tau_b([fluency[i] for i in usable], [human[i] for i in usable])),
            "distinct_scores": len({fluency[i] for i in usable}),
        }
        result[how] = entry
    result["segment_score"] = SEGMENT_SCORE
    return result


def measure_sentences(ctx: Context, split: str) -> dict[str, Any]:
    if split == "dev":
        outputs, docs = mqm_outputs(ctx, split)
        human = [-o.mean_penalty for o in outputs]
        good = [o.error_free for o in outputs]
        bad = [min(o.majors) >= 1 for o in outputs]  # one rater on dev: "that rater found a Major error"
        result = score_groups(docs, human, good, bad, ctx.lm, ("min", "mean"))
        result["data"] = "TED zh-en MQM: error-free vs >=1 Major; tau vs -MQM penalty"
        return result
    table = evaldata.load_mqm_sentences(SENTENCES_TSV)
    rows: list[ScoredSegment] = evaldata.stable_sample(table, lambda r: r.key, ctx.caps["sentences"])
    docs = ctx.runner.check("sentences/holdout", [r.target for r in rows])
    human = [r.score for r in rows]
    result = score_groups(docs, human, [s == 0 for s in human], [s <= -5 for s in human], ctx.lm, (SEGMENT_SCORE,))
    result["data"] = "newstest2021 zh-en MQM: score 0 vs <= -5; tau vs MQM score"
    return result


def paired_result(ctx: Context, label: str, pairs: Sequence[MinimalPair]) -> dict[str, Any]:
    texts = [p.good for p in pairs] + [p.bad for p in pairs]
    docs = dict(zip(texts, ctx.runner.check(label, texts)))
    flags = Paired()
    for p in pairs:
        # heuristics' view: fewer warning+ flags is better
        good, bad = (len(predictions(docs[t], Severity.WARNING)) for t in (p.good, p.bad))
        flags.add(-good, -bad, p.group)
    result: dict[str, Any] = {"pairs": len(pairs), "flags": flags.to_dict(groups=False), "fluency": None}
    if ctx.lm:
        fluency = Paired()
        for p in pairs:
            fluency.add(segment_fluency(docs[p.good]) or 0.0, segment_fluency(docs[p.bad]) or 0.0, p.group)
        result["fluency"] = fluency.to_dict()
    return result


def measure_pairs(ctx: Context, split: str) -> dict[str, Any] | None:
    if split != "dev":
        return None  # BLiMP and JFLEG are dev data
    per_set = ctx.caps["blimp_per_set"] or FULL_BLIMP_PER_SET
    jfleg = evaldata.load_jfleg()[: ctx.caps["jfleg"]]
    blimp = paired_result(ctx, "blimp", evaldata.load_blimp(per_set=per_set))
    blimp["per_set"] = per_set
    return {"blimp": blimp, "jfleg": paired_result(ctx, "jfleg", jfleg)}


def clean_documents(ctx: Context, path: Path, domains: tuple[str, ...] | None, layout: str) -> list[tuple[str, str]]:
    return ctx.memo(f"clean/{path.name}/{domains}/{layout}", lambda: _capped_documents(ctx, path, domains, layout))


def _capped_documents(ctx: Context, path: Path, domains: tuple[str, ...] | None, layout: str) -> list[tuple[str, str]]:
    documents = evaldata.clean_news_documents(path, domains, layout)
    cap = ctx.caps["clean_sentences"]
    if cap is None:
        return documents
    # whole documents, in file order, until ``cap`` sentences (counted in the paragraph layout, so
    # that both layouts hold the same documents)
    kept, sentences = [], 0
    for (text, doc_id), (joined, _) in zip(documents, evaldata.clean_news_documents(path, domains, "paragraphs")):
        if sentences >= cap:
            break
        kept.append((text, doc_id))
        sentences += len(Document.parse(joined, doc_id).sentences)
    return kept


def clean_reports(ctx: Context, split: str, path: Path, domains: tuple[str, ...] | None, layout: str) -> list[DocumentReport]:
    label = f"fp/{split}/{path.stem}{'/' + '+'.join(domains) if domains else ''}/{layout}"
    return ctx.memo(label, lambda: ctx.runner.check(label, [t for t, _ in clean_documents(ctx, path, domains, layout)]))


def fp_counts(docs: Sequence[DocumentReport], segments: int) -> dict[str, Any]:
    sentences = sum(len(d.document.sentences) for d in docs)
    result: dict[str, Any] = {"documents": len(docs), "sentences": sentences, "segments": segments}
    views = {"error": (Severity.ERROR, Severity.ERROR), "warning": (Severity.WARNING, Severity.WARNING),
             "info": (Severity.INFO, Severity.INFO), "warning+": (Severity.WARNING, Severity.ERROR),
             "any": (Severity.INFO, Severity.ERROR)}
    for view, (low, high) in views.items():
        per_doc = [sum(1 for f in d.findings if low <= f.severity <= high) for d in docs]
        result[view] = {
            "flags": sum(per_doc),
            "per_100_sentences": rounded(100 * sum(per_doc) / sentences if sentences else None, 2),
            "per_100_segments": rounded(100 * sum(per_doc) / segments if segments else None, 2),
            "documents_flagged": rounded(_share([n > 0 for n in per_doc]), 3),
        }
    return result


EXCERPT_CONTEXT = 60  # characters shown on each side of a listed flag


def warning_flags(docs: Sequence[DocumentReport], ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every warning+ flag on a clean set, with its text around it: so anyone can judge whether
    "clean" text really holds the error (dev only: holdout is never looked at for tuning)."""
    listed = []
    for doc, doc_id in zip(docs, ids):
        text = doc.document.text
        for f in doc.findings:
            if f.severity >= Severity.WARNING:
                before = text[max(0, f.start - EXCERPT_CONTEXT) : f.start]
                after = text[f.end : f.end + EXCERPT_CONTEXT]
                listed.append({"doc_id": doc_id, "code": f.code, "severity": f.severity.name.lower(),
                               "excerpt": f"{before}[[{text[f.start:f.end]}]]{after}", "message": f.message})
    return listed


def measure_fp(ctx: Context, split: str) -> dict[str, Any]:
    """Flag rates per clean set and layout; a set that mixes domains also gets a row per domain.
    On dev each warning+ flag is listed too."""
    result = {}
    for name, path, domains in CLEAN_SETS[split]:
        segments, domain_of = evaldata.segment_counts(path), evaldata.document_domains(path)
        for layout in LAYOUTS:
            reports = clean_reports(ctx, split, path, domains, layout)
            ids = [doc_id for _, doc_id in clean_documents(ctx, path, domains, layout)]
            result[f"{name}, {layout}"] = fp_counts(reports, sum(segments[i] for i in ids))
            if split == "dev":
                result[f"{name}, {layout}"]["warning+ flags"] = warning_flags(reports, ids)
            if domains and len(domains) > 1:
                for domain in domains:
                    chosen = [(r, i) for r, i in zip(reports, ids) if domain_of[i] == domain]
                    result[f"{name}, {layout}: {domain} only"] = fp_counts([r for r, _ in chosen], sum(segments[i] for _, i in chosen))
    return result


def measure_documents(ctx: Context, split: str) -> dict[str, Any] | None:
    """Where the garbled sample's document fluency falls among clean dev documents (both layouts)."""
    if split != "dev" or not ctx.lm:
        return None
    name, path, domains = CLEAN_SETS["dev"][0]
    clean = [d.fluency for layout in LAYOUTS for d in clean_reports(ctx, split, path, domains, layout) if d.fluency is not None]
    sample = ctx.runner.check("sample", [SAMPLE.read_text(encoding="utf-8")])[0]
    below = sum(1 for value in clean if sample.fluency < value)
    return {
        "clean_documents": len(clean),
        "clean_min": rounded(min(clean)), "clean_median": rounded(sorted(clean)[len(clean) // 2]),
        "sample_fluency": sample.fluency, "sample_label": sample.fluency_label,
        "share_of_clean_documents_above_sample": rounded(below / len(clean)),
        "sample_findings": {code: sum(1 for f in sample.findings if f.code == code) for code in sorted({f.code for f in sample.findings})},
    }


def measure_rules(ctx: Context, split: str) -> dict[str, Any]:
    from mtcheck.rules.base import all_rules

    name, path, domains = CLEAN_SETS[split][0]
    clean = clean_reports(ctx, split, path, domains, "paragraphs")
    mqm_outputs(ctx, split)
    sentences = sum(len(d.document.sentences) for d in clean)
    codes = sorted(set(all_rules()) | {f.code for d in clean for f in d.findings})
    table = {}
    for code in codes:
        n_clean = sum(1 for d in clean for f in d.findings if f.code == code)
        _, span_total = mqm_counts(ctx, split, Severity.INFO, False, code)
        table[code] = {
            "clean_flags": n_clean,
            "clean_per_100_sentences": rounded(100 * n_clean / sentences if sentences else None, 2),
            "mqm_flags": span_total.n_pred,
            "mqm_correct": span_total.tp_pred,
            "mqm_precision": rounded(span_total.precision),
        }
    return {"clean_set": name, "mqm_set": MQM_FILES[split].name, "rules": table}


MEASURES: dict[str, Callable[[Context, str], Any]] = {
    "spans": measure_spans,
    "sentences": measure_sentences,
    "pairs": measure_pairs,
    "fp": measure_fp,
    "rules": measure_rules,
    "documents": measure_documents,
}


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None



# -- Markdown ------------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.replace("\n", " ⏎ ").split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines + [""]


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    caps = ", ".join(f"{key}={'all' if value is None else value}" for key, value in meta["caps"].items())
    out = [
        "# mtcheck evaluation",
        "",
        f"LM: {'on, ' + str(meta.get('model')) if meta['lm'] else 'off (heuristics only)'}; thresholds: {meta['thresholds']}; weights: {meta.get('weights', 'packaged')}; "
        f"sample: {meta['sample']} ({caps}); "
        f"batch {meta['batch']}; total {meta['seconds']:.0f} s.",
        "",
    ]
    by_split = results["results"]
    spans = {s: r["spans"] for s, r in by_split.items() if "spans" in r}
    if spans:
        out += ["## Span level: MQM zh-en, target-side Fluency/Style/Non-translation errors", ""]
        rows = []
        for split, r in spans.items():
            for view in SEVERITY_VIEWS:
                for gold in ("all", "major"):
                    c, s = r[view][gold]["char"], r[view][gold]["span"]
                    rows.append([split, r["outputs"], view, gold, c["precision"], c["recall"], c["f1"],
                                 s["precision"], s["recall"], s["f1"], f"{s['n_pred']}/{s['n_gold']}"])
        out += _table(["split", "outputs", "predictions", "gold", "char P", "char R", "char F1",
                       "span P", "span R", "span F1", "pred/gold spans"], rows)
    sentences = {s: r["sentences"] for s, r in by_split.items() if "sentences" in r}
    if sentences:
        out += ["## Sentence level: segment fluency against MQM", ""]
        rows = []
        for split, r in sentences.items():
            for how in ("min", "mean"):
                if how not in r:
                    continue
                e = r[how] or {}
                rows.append([split, r["data"], how, f"{r['n_good']}/{r['n_bad']}", e.get("auroc"), e.get("kendall_tau_b"),
                             r["flag_rate_good"], r["flag_rate_bad"]])
        out += _table(["split", "data", "segment score", "good/bad", "AUROC", "tau-b", "flagged (good)", "flagged (bad)"], rows)
    pairs = by_split.get("dev", {}).get("pairs")
    if pairs:
        out += ["## Minimal pairs (dev): share of pairs where the good sentence scores better", ""]
        rows = []
        for name, r in pairs.items():
            f = r["fluency"] or {}
            rows.append([name, r["pairs"], f.get("accuracy"), f.get("accuracy_half_ties"), f.get("ties"),
                         r["flags"]["wins"], r["flags"]["losses"]])
        out += _table(["set", "pairs", "fluency acc (ties lose)", "fluency acc (ties 1/2)", "fluency ties",
                       "flags: only bad flagged", "flags: only good flagged"], rows)
    fp = {s: r["fp"] for s, r in by_split.items() if "fp" in r}
    if fp:
        out += ["## False positives on clean English, both layouts (flags per 100 segments and per 100 sentences)", ""]
        rows = []
        for split, sets in fp.items():
            for name, r in sets.items():
                rows.append([split, name, r["documents"], r["segments"], r["sentences"],
                             r["warning+"]["per_100_segments"], r["warning+"]["per_100_sentences"],
                             r["any"]["per_100_segments"], r["error"]["per_100_segments"],
                             r["warning+"]["documents_flagged"]])
        out += _table(["split", "data, layout", "docs", "segments", "sentences", "warning+ /100 seg", "warning+ /100 sent",
                       "any /100 seg", "error /100 seg", "docs flagged (warning+)"], rows)
        listed = [(name, flag) for name, r in fp.get("dev", {}).items() for flag in r.get("warning+ flags", [])]
        if listed:
            out += ["### Each warning+ flag on clean dev text", ""]
            out += _table(["data, layout", "document", "code", "severity", "text (flagged span in [[ ]])", "message"],
                          [[name, f["doc_id"], f["code"], f["severity"], _cell(f["excerpt"]), _cell(f["message"])]
                           for name, f in listed])
    documents = by_split.get("dev", {}).get("documents")
    if documents:
        out += ["## Document fluency: the garbled sample against clean dev news (both layouts)", ""]
        out += _table(["clean docs", "clean min", "clean median", "sample", "sample label", "clean docs above the sample"],
                      [[documents["clean_documents"], documents["clean_min"], documents["clean_median"],
                        documents["sample_fluency"], documents["sample_label"], documents["share_of_clean_documents_above_sample"]]])
    rules = {s: r["rules"] for s, r in by_split.items() if "rules" in r}
    if rules:
        out += ["## Per rule: flags per 100 clean sentences, span precision on MQM (all severities)", ""]
        codes = sorted({c for r in rules.values() for c in r["rules"]})
        header = ["code"]
        for split in rules:
            header += [f"{split} clean /100", f"{split} MQM precision (flags)"]
        rows = []
        for code in codes:
            row: list[Any] = [code]
            for split, r in rules.items():
                e = r["rules"].get(code)
                row += [e and e["clean_per_100_sentences"],
                        f"{_fmt(e['mqm_precision'])} ({e['mqm_flags']})" if e else "n/a"]
            rows.append(row)
        out += _table(header, rows)
    out += ["## Time", ""]
    out += _table(["set", "texts checked", "seconds", "s per 100 texts"],
                  [[k, int(v["texts"]), round(v["seconds"], 1), round(100 * v["seconds"] / v["texts"], 2) if v["texts"] else None]
                   for k, v in results["timing"].items()])
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated measures (default: all of {','.join(SETS)})")
    parser.add_argument("--splits", default=",".join(SPLITS), help="dev, holdout or both (default)")
    parser.add_argument("--limit", type=int, default=None,
                        help="cap every dataset at N items (BLiMP: ceil(N/67) pairs per paradigm) for a quick run")
    parser.add_argument("--full", action="store_true", help="no caps: every item of every set (about 27 minutes on the 2-core CPU, docs/evaluation.md)")
    parser.add_argument("--blimp-per-set", type=int, default=None,
                        help=f"first N pairs of each BLiMP paradigm (default {DEFAULT_CAPS['blimp_per_set']}, "
                             f"{FULL_BLIMP_PER_SET} with --full)")
    parser.add_argument("--no-lm", action="store_true", help="heuristic rules only; LM measures report n/a")
    parser.add_argument("--batch", type=int, default=64, help="texts per check_many call (default 64)")
    parser.add_argument("--model", default=None, help="override the LM (default: the packaged model)")
    parser.add_argument("--thresholds", type=Path, default=None, help="override the detector's thresholds (from `mtcheck calibrate`)")
    parser.add_argument("--weights", type=Path, default=None, help="detector weights (default: the packaged ones)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the Markdown tables here")
    args = parser.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    args.splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    for value, allowed, option in ((args.sets, SETS, "--sets"), (args.splits, SPLITS, "--splits")):
        unknown = set(value) - set(allowed)
        if unknown:
            parser.error(f"{option}: unknown {', '.join(sorted(unknown))} (choose from {', '.join(allowed)})")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be positive")
    if args.limit is not None and args.full:
        parser.error("--limit and --full exclude each other")
    return args


def caps_for(args: argparse.Namespace) -> dict[str, int | None]:
    if args.full:
        caps: dict[str, int | None] = {key: None for key in DEFAULT_CAPS}
        caps["blimp_per_set"] = FULL_BLIMP_PER_SET  # BLiMP's paradigms have 1,000 pairs each
    elif args.limit is not None:
        caps = {key: args.limit for key in DEFAULT_CAPS}
        caps["blimp_per_set"] = max(1, math.ceil(args.limit / BLIMP_SETS))
    else:
        caps = dict(DEFAULT_CAPS)
    if args.blimp_per_set is not None:
        caps["blimp_per_set"] = args.blimp_per_set
    return caps


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    config = Config(lm=not args.no_lm).merged(model=args.model, thresholds=args.thresholds, weights=args.weights)
    checker = Checker(config)
    model = None
    if config.lm:
        loaded = time.perf_counter()
        model = checker.fluency.identity  # load now, so its time is not charged to the first set
        print(f"[model] {model} loaded in {time.perf_counter() - loaded:.1f} s", flush=True)
    caps = caps_for(args)
    ctx = Context(Runner(checker, args.batch), config.lm, caps)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for split in args.splits:
        for name in args.sets:
            t0 = time.perf_counter()
            value = MEASURES[name](ctx, split)
            if value is not None:
                results.setdefault(split, {})[name] = value
                print(f"[{name}/{split}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    output = {
        "meta": {
            "lm": config.lm,
            "model": model,
            "thresholds": str(args.thresholds) if args.thresholds else "default",
            "weights": str(args.weights) if args.weights else "packaged",
            "sample": "full" if args.full else "limit" if args.limit is not None else "default subsample",
            "caps": caps,
            "batch": args.batch,
            "segment_score": SEGMENT_SCORE,
            "python": platform.python_version(),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "results": results,
        "timing": ctx.runner.timing,
    }
    text = markdown(output)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(output, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return output


if __name__ == "__main__":
    main()
