"""Probe: would a learned window scorer beat the tagger's shipped window score? Dev validation only.

    python scripts/probe_window_scorer.py --records windows.pkl

The shipped F001 score of a tagger candidate window is logit(highest tagger p in it) + 0.02 ×
(best edit gain, bits). This fits a logistic regression on richer window features instead: the
logit, the best gain, the best gain of each kind of edit (drop a word, swap two, an alternative
word; 0 when none helps) and the window's summed normalised surprisal. Feature subsets and two
training sets (TED talk.7 windows; TED plus the synthetic held-out fifth) are compared.

The windows are those of scripts/tagger_decoding.py (same `--records` cache; collected if the file
is missing, ~11 minutes): TED MQM talk.7 outputs, the synthetic held-out fifth, the clean calib
halves and the sample article; the tagger never trained on any of them. A window is positive when
it overlaps a gold span (TED Fluency/Style/Non-translation, or a synthetic edit), negative when it
overlaps none; windows touching only don't-care text (TED Accuracy spans) are left out. Each
scorer is fitted two-fold by document and measured on its out-of-fold scores with
`tagger_decoding.fit` (the lowest threshold keeping the calib halves within a budget of flags per
100 sentences). The calib halves never train a scorer.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tagger_decoding as td  # noqa: E402

from mtcheck.rules.fluency import logit  # noqa: E402

TRAIN_SETS = {"TED": ("ted-val",), "TED + synthetic": ("ted-val", "corrupt")}
EDIT_KINDS = ("drop", "swap", "alternative")
FEATURES = ("logit_p", "gain", *(f"{kind}_gain" for kind in EDIT_KINDS), "bits")
SUBSETS = {
    "all": FEATURES,
    "logit_p + gain": ("logit_p", "gain"),
    "logit_p + gain by kind": ("logit_p", "drop_gain", "swap_gain", "alternative_gain"),
    "logit_p + alternative_gain": ("logit_p", "alternative_gain"),
    "logit_p + bits": ("logit_p", "bits"),
    "logit_p": ("logit_p",),
}
GAIN_CAP = 40.0
L2 = 1e-3
CANDIDATE_P = 0.12
SHIPPED_GAIN_WEIGHT = 0.02


def clipped(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def features(record: dict) -> list[float]:
    gains = record["gains"]
    return [
        logit(record["pmax"]),
        clipped(record["gain"], -GAIN_CAP, GAIN_CAP),
        *(clipped(max(gains.get(kind, 0.0), 0.0), 0.0, GAIN_CAP) for kind in EDIT_KINDS),
        clipped(record["bits"], -30.0, 60.0),
    ]


def overlaps(a: int, b: int, spans) -> bool:
    return any(x < b and a < y for x, y in spans)


def label(record: dict, example, parts: Sequence[str] = TRAIN_SETS["TED + synthetic"]) -> int | None:
    """1 overlaps gold, 0 clean, None only don't-care (or not in ``parts``)."""
    if not example.part.startswith(tuple(parts)):
        return None
    a, b = record["start"], record["end"]
    if overlaps(a, b, example.positive):
        return 1
    return None if overlaps(a, b, example.ignore) else 0


def fold_of(example, index: int) -> int:
    key = example.group if example.part.startswith("corrupt") else str(index)
    return int(hashlib.sha1(f"fold:{key}".encode()).hexdigest(), 16) % 2


def is_candidate(record: dict) -> bool:
    """The shipped candidate windows: a word the tagger rates >= 0.12, or an untrained candidate."""
    tagged = record["tag"] is not None and record["tag"] >= CANDIDATE_P
    return record["gain"] is not None and (tagged or record["untrained"])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> np.ndarray:
    """Weights (features..., intercept) of an L2-regularised logistic regression, by Newton steps;
    the two classes weigh the same."""
    x1 = np.c_[x, np.ones(len(x))]
    weight = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    penalty = 2 * l2 * np.r_[np.ones(x.shape[1]), 0.0]
    w = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x1 @ w, -60, 60)))
        gradient = x1.T @ (weight * (p - y)) + penalty * w
        hessian = (x1 * (weight * p * (1 - p))[:, None]).T @ x1 + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), x.std(0) + 1e-9


def raw_weights(w: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Weights on standardised features turned into weights on the raw features."""
    coef = w[:-1] / scale
    return np.r_[coef, w[-1] - coef @ mean]


def fitted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    mean, scale = standardiser(x)
    return raw_weights(fit_logistic((x - mean) / scale, y), mean, scale)


def score_all(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x @ weights[:-1] + weights[-1]


def out_of_fold(records: list[dict], chosen, x: np.ndarray, parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each window's score from the fold model that did not train on it (windows outside ``parts``:
    the mean of both), and the weights fitted on all training windows."""
    y = [label(r, chosen[r["example"]], parts) for r in records]
    train = np.array([v is not None for v in y])
    labels = np.array([v or 0 for v in y], dtype=float)
    folds = np.array([fold_of(chosen[r["example"]], r["example"]) for r in records])
    fold_weights = [fitted(x[train & (folds != k)], labels[train & (folds != k)]) for k in (0, 1)]
    scores = [score_all(w, x) for w in fold_weights]
    seen = np.array([chosen[r["example"]].part.startswith(tuple(parts)) for r in records])
    oof = np.where(seen, np.where(folds == 0, scores[0], scores[1]), 0.5 * (scores[0] + scores[1]))
    return oof, fitted(x[train], labels[train])


def row(name: str, records: list[dict], scores: np.ndarray, measure: td.Measure) -> None:
    by_record = {id(r): float(s) for r, s in zip(records, scores)}
    for budget in td.BUDGETS:
        m = td.fit(records, lambda r: by_record[id(r)], budget, measure)
        print(
            f"| {name} | {budget} | {m['clean_flags_per_100']} | {m['ted_char_p']} | {m['ted_char_r']} | "
            f"{m['ted_char_f1']} | {m['synthetic_hit']} | {'; '.join(m['sample'])} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=Path, required=True, help="tagger_decoding.py window cache (collected if missing)")
    args = parser.parse_args()
    chosen = td.examples(None)
    if args.records.is_file():
        records = pickle.loads(args.records.read_bytes())
    else:
        records = td.collect(chosen)
        args.records.write_bytes(pickle.dumps(records))
    records = [r for r in records if is_candidate(r)]
    x = np.array([features(r) for r in records])
    measure = td.Measure(chosen)
    print(f"{len(records)} candidate windows")
    print("| scorer | budget /100 | clean /100 | TED char P | R | F1 | synthetic hit | sample spans |")
    print("|---|---|---|---|---|---|---|---|")
    shipped = x[:, FEATURES.index("logit_p")] + SHIPPED_GAIN_WEIGHT * np.array([r["gain"] for r in records])
    row(f"shipped: logit_p + {SHIPPED_GAIN_WEIGHT} gain", records, shipped, measure)
    weights = {}
    for train_name, parts in TRAIN_SETS.items():
        for subset_name, subset in SUBSETS.items():
            columns = [FEATURES.index(f) for f in subset]
            scores, final = out_of_fold(records, chosen, x[:, columns], parts)
            row(f"learned on {train_name}: {subset_name}", records, scores, measure)
            weights[(train_name, subset_name)] = dict(zip((*subset, "intercept"), final))
    print("\nweights fitted on all training windows, all features:")
    for train_name in TRAIN_SETS:
        terms = ", ".join(f"{k} {v:+.3f}" for k, v in weights[(train_name, "all")].items())
        print(f"- {train_name}: {terms}")


if __name__ == "__main__":
    main()
