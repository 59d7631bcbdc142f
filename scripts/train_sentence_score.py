"""Fit the sentence head (mtcheck/sentence_score.py) on dev data only.

    python scripts/train_sentence_score.py [--out mtcheck/data/sentence_score.json] [--quick]

Pairs (fluent, garbled); each source carries the same total weight in the loss:
- BLiMP: pairs 100-249 of each of the 67 paradigms (scripts/evaluate.py measures pairs 0-99).
- JFLEG: the test split, reference vs learner sentence (scripts/evaluate.py measures the dev split).
- TED zh-en MQM, talk.7 (the talk the tagger was not trained on): for one source segment, an output
  no rater faulted vs one with a Major error.
Only texts that are one sentence on both sides are used, since the head scores sentences.

The weights minimise the pairwise logistic loss of ``disfluency(garbled) - disfluency(fluent)``
(Newton's method from zero: same data, same weights). The clean quantiles are the head's scores of
every sentence of the "calib" halves of the clean dev news and de-en reference, the same
sentences the tagger's quantiles come from (scripts/train_tagger.py). LM features are cached in
sentence-features/ under the model cache root ($MTCHECK_CACHE, else the XDG cache, else
~/.cache/mtcheck); a full run scores ~40,000 short texts (~15 minutes on two cores the first
time, seconds after).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaldata  # noqa: E402
from evaldata import EVAL_DIR, MinimalPair  # noqa: E402
from train_tagger import VALIDATION_TALKS, clean_documents, half_of  # noqa: E402

from mtcheck.config import Config  # noqa: E402
from mtcheck.document import Document  # noqa: E402
from mtcheck.lm.models import cache_root  # noqa: E402
from mtcheck.rules.fluency import FluencyModel  # noqa: E402
from mtcheck.sentence_score import FEATURES, L2, SentenceHead, fit_pairwise, paired_accuracy  # noqa: E402

BLIMP_TRAIN = (100, 250)  # pair indices per paradigm
BATCH = 64
QUICK = {"blimp": (100, 110), "jfleg": 150, "ted": 150, "clean_docs": 8}


# -- features -----------------------------------------------------------------------------------
class FeatureCache:
    """Per text, the FEATURES of each of its sentences (model-specific, on disk)."""

    def __init__(self, model: FluencyModel) -> None:
        base = cache_root()
        identity = f"{model.scorer.identity}|{model.tagger.identity}|{FEATURES}"
        tag = hashlib.sha1(identity.encode("utf-8")).hexdigest()[:12]
        self.path = base / "sentence-features" / f"{tag}.pkl"
        self.model = model
        self.values: dict[str, np.ndarray] = {}
        if self.path.exists():
            with open(self.path, "rb") as handle:
                self.values = pickle.load(handle)

    def features(self, texts: Sequence[str], label: str) -> list[np.ndarray]:
        missing = sorted({t for t in texts if t not in self.values})
        started = time.time()
        for begin in range(0, len(missing), BATCH):
            docs = [Document.parse(t, "-") for t in missing[begin : begin + BATCH]]
            for tagged in self.model.tag(docs):
                rows = self.model.sentence_features(tagged)
                self.values[tagged.document.text] = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))
            done = min(begin + BATCH, len(missing))
            print(f"  {label}: {done}/{len(missing)} new texts, {time.time() - started:.0f} s", file=sys.stderr)
        if missing:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "wb") as handle:
                pickle.dump(self.values, handle)
            temporary.replace(self.path)
        return [self.values[t] for t in texts]


# -- data ---------------------------------------------------------------------------------------
def blimp_pairs(window: tuple[int, int]) -> list[MinimalPair]:
    first, last = window
    pairs, seen = [], {}
    for pair in evaldata.load_blimp(per_set=last):
        seen[pair.group] = seen.get(pair.group, 0) + 1
        if seen[pair.group] > first:
            pairs.append(pair)
    return pairs


def ted_pairs(limit: int | None = None) -> list[MinimalPair]:
    """Per talk.7 segment: each error-free output paired with each output that has a Major error."""
    outputs = [o for o in evaldata.load_mqm(EVAL_DIR / "dev" / "mqm_ted_zhen.jsonl") if o.doc in VALIDATION_TALKS]
    by_segment: dict[tuple[str, str], list] = {}
    for out in outputs:
        by_segment.setdefault((out.doc, out.seg_id), []).append(out)
    pairs = []
    for (doc, seg), group in by_segment.items():
        fine = [o.target for o in group if o.error_free]
        major = [o.target for o in group if any(o.majors)]
        pairs += [MinimalPair(g, b, f"{doc}|{seg}") for g in fine for b in major if g != b]
    return pairs[:limit]


def one_sentence_pairs(cache: FeatureCache, pairs: Sequence[MinimalPair], label: str) -> np.ndarray:
    """[n, 2, features] for the pairs whose two sides are one sentence each."""
    good = cache.features([p.good for p in pairs], f"{label} fluent")
    bad = cache.features([p.bad for p in pairs], f"{label} garbled")
    kept = [(g[0], b[0]) for g, b in zip(good, bad) if len(g) == 1 and len(b) == 1]
    return np.array(kept, dtype=np.float64).reshape(-1, 2, len(FEATURES))


def clean_sentences(cache: FeatureCache, limit: int | None = None) -> np.ndarray:
    texts = [text for text, doc_id, _ in clean_documents() if half_of(doc_id) == "calib"][:limit]
    rows = [r for f in cache.features(texts, "clean calib") for r in f]
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


# -- fit ----------------------------------------------------------------------------------------
def edge_tail(quantiles: np.ndarray, edge: int = 10) -> float:
    """Exponential tail scale that continues the quantile spacing at the ends."""
    gaps = np.r_[np.diff(quantiles[: edge + 1]), np.diff(quantiles[-edge - 1 :])]
    return float(max(0.5 * gaps.mean(), 1e-3))


def fit_head(identity: str, sources: dict[str, np.ndarray]) -> SentenceHead:
    """A head fitted on these [n, 2, features] (fluent, garbled) pair sources, each weighing the
    same, on features standardised over all of them; no clean quantiles yet."""
    everything = np.concatenate([p.reshape(-1, len(FEATURES)) for p in sources.values()])
    mean, scale = everything.mean(0), everything.std(0) + 1e-9
    weights = fit_pairwise([((p - mean) / scale)[:, 1] - ((p - mean) / scale)[:, 0] for p in sources.values()])
    return SentenceHead(identity, mean, scale, weights, np.zeros(0), 1.0)


def single_feature_accuracies(pairs: np.ndarray) -> dict[str, float]:
    """Each feature alone as a disfluency (sign chosen so that more garbled = higher) for comparison."""
    signs = {"logprob": -1, "tokens": 1, "words": 1, "unigram_bits": -1, "z": 1, "tagger_any": 1, "tagger_max": 1}
    return {
        name: round(paired_accuracy(signs[name] * pairs[:, 0, k], signs[name] * pairs[:, 1, k]), 4)
        for k, name in enumerate(FEATURES)
    }


def train(args) -> int:
    model = FluencyModel.from_config(Config(detector="auto"))
    if model.tagger is None:
        print("train_sentence_score: the packaged tagger does not fit the default model", file=sys.stderr)
        return 2
    cache = FeatureCache(model)
    limits = QUICK if args.quick else {"blimp": BLIMP_TRAIN, "jfleg": None, "ted": None, "clean_docs": None}
    sources = {
        "blimp": one_sentence_pairs(cache, blimp_pairs(limits["blimp"]), "BLiMP"),
        "jfleg": one_sentence_pairs(cache, evaldata.load_jfleg(split="test", limit=limits["jfleg"]), "JFLEG test"),
        "ted": one_sentence_pairs(cache, ted_pairs(limits["ted"]), "TED talk.7"),
    }
    head = fit_head(model.scorer.identity, sources)
    clean = clean_sentences(cache, limits["clean_docs"])
    quantiles = np.sort(head.disfluency(clean))
    head.quantiles, head.tail = quantiles, edge_tail(quantiles)
    report = {
        "identity": model.scorer.identity,
        "tagger": model.tagger.identity,
        "pairs": {name: len(p) for name, p in sources.items()},
        "blimp_pairs_per_paradigm": list(limits["blimp"]),
        "clean_sentences": len(clean),
        "training_accuracy": {
            name: round(paired_accuracy(head.disfluency(p[:, 0]), head.disfluency(p[:, 1])), 4)
            for name, p in sources.items()
        },
        "single_feature_accuracy": {name: single_feature_accuracies(p) for name, p in sources.items()},
        "l2": L2,
        "quick": bool(args.quick),
    }
    head.metadata = report
    out = Path(args.out)
    head.save(out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "mtcheck" / "data" / "sentence_score.json"))
    parser.add_argument("--quick", action="store_true", help="a few hundred pairs: a smoke run, not shipped weights")
    return train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
