"""Compare ways of turning the tagger's word probabilities into F001 spans, on dev validation data.

    python scripts/tagger_decoding.py [--ted-val N] [--records FILE] [--out results.json]

Data (dev only, as scripts/train_tagger.py splits it; the tagger never trained on any of it):
TED MQM talk.7 outputs (character P/R/F1 against Fluency/Style/Non-translation gold, don't-care
regions excluded), the clean calib halves of the dev news and de-en reference (the false-positive
budget), the held-out fifth of the synthetic corruptions (share of edits hit), and the sample
article (listed, never used to choose).

For every document it collects candidate windows: the three words around each word the tagger
rates >= 0.08, and the untrained detector's candidate windows; then each window's best edit gain.
Each design scores the windows; its threshold is the lowest that keeps the calib halves within a
budget of flagged spans per 100 sentences (overlapping windows of a sentence count once). Takes
~15 minutes on two cores; `--records` reuses the collected windows.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_tagger as tt  # noqa: E402

from mtcheck.config import Config  # noqa: E402
from mtcheck.document import Document  # noqa: E402
from mtcheck.rules.base import RuleContext  # noqa: E402
from mtcheck.evaluation import PRF, Gold, char_prf, chars  # noqa: E402
from mtcheck.rules.fluency import Edit, FluencyModel, logit, overlapping_groups  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "000_0664a0eb5d459460.txt"
COLLECT_P = 0.08
CALIB = ("news-calib", "deen-calib")
BUDGETS = (0.2, 1.0, 2.0)


def examples(ted_val: int | None) -> list[tt.Example]:
    chosen = tt.clean_examples(("calib",))
    chosen += [e for e in tt.ted_examples(limit_train=0, limit_val=ted_val) if e.part == "ted-val"]
    chosen += [e for e in tt.corrupted_examples() if tt.is_corrupt_validation(e)]
    chosen.append(tt.Example(SAMPLE.read_text(encoding="utf-8"), "sample", "sample"))
    return chosen


def best_gain_by_kind(gains: list[tuple[float, Edit]]) -> dict[str, float]:
    """The best gain of each kind of edit among these (gain, edit) pairs."""
    best: dict[str, float] = {}
    for gain, edit in gains:
        best[edit.kind] = max(gain, best.get(edit.kind, -math.inf))
    return best


def collect(chosen: list[tt.Example]) -> list[dict]:
    model = FluencyModel.from_config(Config())
    ctx = RuleContext()
    records: list[dict] = []
    started = time.perf_counter()
    for begin in range(0, len(chosen), 16):
        chunk = chosen[begin : begin + 16]
        docs = [Document.parse(e.text) for e in chunk]
        for offset, tagged in enumerate(model.tag(docs, ctx)):
            doc, sentences, probabilities = tagged.document, tagged.words, tagged.probabilities
            windows: dict[tuple[int, int, int], dict] = {}
            for s, (words, probs) in enumerate(zip(sentences, probabilities)):
                for i, p in enumerate(probs):
                    first, last = max(0, i - 1), min(len(words) - 1, i + 1)
                    if p >= COLLECT_P and any(w.eligible for w in words[first : last + 1]):
                        windows.setdefault((s, first, last), {"tag": None, "untrained": False})["tag"] = p
                for first, last, _ in model.candidates(words):
                    windows.setdefault((s, first, last), {"tag": None, "untrained": False})["untrained"] = True
            keys = list(windows)
            plans = [model.edit_plan(doc, doc.sentences[s], sentences[s], a, b) for s, a, b in keys]
            for (s, first, last), gains in zip(keys, model.edit_gains(plans)):
                words = doc.sentences[s].words
                best = max(gains, key=lambda g: g[0]) if gains else None
                records.append(
                    {
                        "example": begin + offset,
                        "pmax": max(probabilities[s][first : last + 1]),
                        "tag": windows[(s, first, last)]["tag"],
                        "untrained": windows[(s, first, last)]["untrained"],
                        "sentence": s,
                        "first": first,
                        "last": last,
                        "start": words[first].start,
                        "end": words[last].end,
                        "gain": None if best is None else best[0],
                        "gains": best_gain_by_kind(gains or []),
                        "bits": sum(w.normalised_bits for w in sentences[s][first : last + 1]),
                    }
                )
        print(f"{begin + len(chunk)}/{len(chosen)} documents, {len(records)} windows, "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return records


def merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class Measure:
    """Flag budget on the calib halves, character F1 on TED talk.7 (as scripts/evaluate.py counts
    it: mtcheck.evaluation.char_prf), synthetic hit rate, sample."""

    def __init__(self, chosen: list[tt.Example]) -> None:
        self.chosen = chosen
        self.calib_sentences = sum(len(Document.parse(e.text).sentences) for e in chosen if e.part in CALIB)
        self.gold = {
            k: Gold(chars(e.positive), chars(e.ignore)) for k, e in enumerate(chosen) if e.part == "ted-val"
        }

    def flags_per_100(self, flagged: list[dict]) -> float:
        windows = {((r["example"], r["sentence"]), r["first"], r["last"]) for r in flagged if self.chosen[r["example"]].part in CALIB}
        return 100 * len(overlapping_groups(windows)) / self.calib_sentences

    def __call__(self, flagged: list[dict]) -> dict:
        spans: dict[int, list[tuple[int, int]]] = {}
        for r in flagged:
            spans.setdefault(r["example"], []).append((r["start"], r["end"]))
        counts = PRF()
        for k, gold in self.gold.items():
            counts += char_prf(self.chosen[k].text, spans.get(k, []), gold)
        hits = edits = 0
        for k, e in enumerate(self.chosen):
            if e.part.startswith("corrupt"):
                for a, b in e.positive:
                    edits += 1
                    hits += any(x < b and a < y for x, y in spans.get(k, []))
        sample = [
            self.chosen[k].text[a:b]
            for k, e in enumerate(self.chosen)
            if e.part == "sample"
            for a, b in merged(spans.get(k, []))
        ]
        return {
            "clean_flags_per_100": round(self.flags_per_100(flagged), 3),
            "ted_char_p": round(counts.precision or 0.0, 3),
            "ted_char_r": round(counts.recall or 0.0, 3),
            "ted_char_f1": round(counts.f1 or 0.0, 3),
            "synthetic_hit": round(hits / max(edits, 1), 3),
            "sample": sample,
        }


def fit(records: list[dict], score: Callable[[dict], float | None], budget: float, measure: Measure) -> dict:
    """The lowest threshold whose calib flags stay within budget, and what it measures."""
    scored = [(s, r) for r in records if (s := score(r)) is not None]
    best = {"threshold": math.inf, **measure([])}
    for threshold in sorted({s for s, _ in scored}, reverse=True):
        flagged = [r for s, r in scored if s >= threshold]
        if measure.flags_per_100(flagged) > budget:
            break
        best = {"threshold": round(threshold, 4), "flagged": flagged}
    if "flagged" in best:
        flagged = best.pop("flagged")
        best.update(measure(flagged))
    return best


def fit_with_repairs(records: list[dict], score: Callable[[dict], float | None], budget: float, measure: Measure) -> dict:
    """As ``fit``, but untrained candidate windows whose best edit gains more than any such window
    of the calib halves are flagged too, whatever their score (they spend the same budget)."""
    calib_gains = [r["gain"] for r in records if r["untrained"] and r["gain"] is not None and measure.chosen[r["example"]].part in CALIB]
    repair = max(calib_gains, default=math.inf) + 1e-6
    repaired = [r for r in records if r["untrained"] and r["gain"] is not None and r["gain"] >= repair]
    boosted = {id(r) for r in repaired}
    return {"repair_gain": round(repair, 4), **fit(records, lambda r: math.inf if id(r) in boosted else score(r), budget, measure)}


def designs() -> dict[str, Callable[[dict], float | None]]:
    def tagger_windows(weight: float, union: bool) -> Callable[[dict], float | None]:
        def score(r: dict) -> float | None:
            is_candidate = (r["tag"] is not None and r["tag"] >= 0.12) or (union and r["untrained"])
            if r["gain"] is None or not is_candidate:
                return None
            return logit(r["pmax"] if union else r["tag"]) + weight * r["gain"]

        return score

    table: dict[str, Callable[[dict], float | None]] = {
        "untrained: edit gain of its own windows": lambda r: r["gain"] if r["untrained"] and r["gain"] is not None else None,
        "tagger p only (windows of words >= 0.08)": lambda r: r["tag"],
    }
    for weight in (0.02, 0.05, 0.1):
        table[f"tagger windows (p >= 0.12): logit p + {weight} gain"] = tagger_windows(weight, union=False)
        table[f"tagger + untrained windows: logit max p + {weight} gain"] = tagger_windows(weight, union=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ted-val", type=int, default=None, help="TED talk.7 outputs to use (default: all 1,050)")
    parser.add_argument("--records", type=Path, default=None, help="cache of the collected windows (read if present)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    chosen = examples(args.ted_val)
    if args.records is not None and args.records.is_file():
        records = pickle.loads(args.records.read_bytes())
    else:
        records = collect(chosen)
        if args.records is not None:
            args.records.write_bytes(pickle.dumps(records))
    measure = Measure(chosen)
    results = {}
    print(f"{len(records)} windows; calib {measure.calib_sentences} sentences; TED talk.7 {len(measure.gold)} outputs")
    print("| design | budget /100 | threshold | clean /100 | TED char P | R | F1 | synthetic hit | sample spans |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, score in designs().items():
        for budget in BUDGETS:
            row = fit(records, score, budget, measure)
            results.setdefault(name, {})[str(budget)] = row
            print(
                f"| {name} | {budget} | {row['threshold']} | {row['clean_flags_per_100']} | {row['ted_char_p']} | "
                f"{row['ted_char_r']} | {row['ted_char_f1']} | {row['synthetic_hit']} | {'; '.join(row['sample'])} |",
                flush=True,
            )
    shipped = "tagger + untrained windows: logit max p + 0.02 gain"
    print(f"\n{shipped}, and untrained candidates whose edit gains more than any calib window's:\n")
    print("| budget /100 | repair gain (bits) | threshold | clean /100 | TED char P | R | F1 | synthetic hit | sample spans |")
    print("|---|---|---|---|---|---|---|---|---|")
    for budget in BUDGETS:
        row = fit_with_repairs(records, designs()[shipped], budget, measure)
        results.setdefault(shipped + " + repairs", {})[str(budget)] = row
        print(
            f"| {budget} | {row['repair_gain']} | {row['threshold']} | {row['clean_flags_per_100']} | {row['ted_char_p']} | "
            f"{row['ted_char_r']} | {row['ted_char_f1']} | {row['synthetic_hit']} | {'; '.join(row['sample'])} |",
            flush=True,
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
