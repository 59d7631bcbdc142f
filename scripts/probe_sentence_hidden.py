"""Would hidden states make a better sentence score? A dev-only probe (negative so far).

    python scripts/probe_sentence_hidden.py [--layers 14,22,-1]    # ~10 minutes on two cores the first time

The sentence head (mtcheck/sentence_score.py) weighs seven scalar signals. This probe adds the
sentence's hidden state of one layer (the mean over its tokens, or the last token's), projected
onto its first k principal components, and fits the same pairwise loss on BLiMP pairs 100-149 of
each paradigm. It reports paired accuracy on pairs 250-279 of the same paradigms ("val") and
leave-one-paradigm-out ("lpo": fitted without a paradigm, measured on that paradigm's pairs),
which is what a phenomenon the head never saw would get. BLiMP pairs 0-99 (what
scripts/evaluate.py measures) are not touched. LM outputs are cached in sentence-hidden/ under the
model cache root.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_sentence_score import blimp_pairs  # noqa: E402

from mtcheck.config import Config  # noqa: E402
from mtcheck.document import Document  # noqa: E402
from mtcheck.lm.models import cache_root  # noqa: E402
from mtcheck.rules.fluency import FluencyModel  # noqa: E402
from mtcheck.sentence_score import FEATURES, L2, fit_pairwise, paired_accuracy  # noqa: E402

TRAIN, VAL = (100, 150), (250, 280)
BATCH = 64


def lm_outputs(model: FluencyModel, texts: list[str], layers: list[int], path: Path) -> dict:
    """Per text: (head FEATURES of each sentence, {layer: (mean, last) hidden state}, sentences)."""
    values = pickle.loads(path.read_bytes()) if path.exists() else {}
    missing = sorted(set(texts) - set(values))
    started = time.time()
    for begin in range(0, len(missing), BATCH):
        docs = [Document.parse(t, "-") for t in missing[begin : begin + BATCH]]
        hidden = {layer: model.scorer.score([d.text for d in docs], hidden_layer=layer) for layer in layers}
        for i, tagged in enumerate(model.tag(docs)):
            doc = tagged.document
            rows = np.array(model.sentence_features(tagged))
            states = {
                layer: (hidden[layer][i].hidden.astype(np.float32).mean(0), hidden[layer][i].hidden[-1].astype(np.float32))
                for layer in layers
            }
            values[doc.text] = (rows, states, len(doc.sentences))
        print(f"  {min(begin + BATCH, len(missing))}/{len(missing)} texts, {time.time() - started:.0f} s", file=sys.stderr)
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(values))
    return values


def pair_matrix(pairs, values, layer: int | None, pooling: str) -> tuple[np.ndarray, np.ndarray]:
    """[n, 2, width] (fluent, garbled) rows of the one-sentence pairs, and each pair's paradigm."""
    kept = [p for p in pairs if values[p.good][2] == 1 and values[p.bad][2] == 1]

    def row(text: str) -> np.ndarray:
        rows, states, _ = values[text]
        if layer is None:
            return rows[0]
        return np.r_[rows[0], states[layer][0 if pooling == "mean" else 1]]

    return np.array([[row(p.good), row(p.bad)] for p in kept]), np.array([p.group for p in kept])


def evaluate(train, val, layer: int | None, pooling: str, components: int) -> dict:
    x_train, paradigms_train = pair_matrix(*train, layer, pooling)
    x_val, paradigms_val = pair_matrix(*val, layer, pooling)
    flat = x_train.reshape(-1, x_train.shape[2])
    mean, scale = flat.mean(0), flat.std(0) + 1e-9
    scalars = len(FEATURES)
    basis = None
    if layer is not None:
        states = ((flat - mean) / scale)[:, scalars:]
        basis = np.linalg.svd(states - states.mean(0), full_matrices=False)[2][:components].T

    def prepare(x: np.ndarray) -> np.ndarray:
        z = (x - mean) / scale
        return z if basis is None else np.concatenate([z[..., :scalars], z[..., scalars:] @ basis], axis=-1)

    z_train, z_val = prepare(x_train), prepare(x_val)
    weights = fit_pairwise([z_train[:, 1] - z_train[:, 0]], l2=L2)
    right = 0.0
    for paradigm in sorted(set(paradigms_val)):
        rest = paradigms_train != paradigm
        w = fit_pairwise([z_train[rest, 1] - z_train[rest, 0]], l2=L2, steps=30)
        own = paradigms_val == paradigm
        right += paired_accuracy(z_val[own, 0] @ w, z_val[own, 1] @ w) * own.sum()
    return {
        "hidden": "none" if layer is None else f"layer {layer}, {pooling}, {components} components",
        "train": round(paired_accuracy(z_train[:, 0] @ weights, z_train[:, 1] @ weights), 4),
        "val": round(paired_accuracy(z_val[:, 0] @ weights, z_val[:, 1] @ weights), 4),
        "lpo": round(right / len(paradigms_val), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", default="14,22,-1", help="hidden states to try (index as in Scorer.score)")
    args = parser.parse_args(argv)
    layers = [int(x) for x in args.layers.split(",")]
    model = FluencyModel.from_config(Config(detector="auto"))
    if model.tagger is None:
        print("probe_sentence_hidden: the packaged tagger does not fit the default model", file=sys.stderr)
        return 2
    identity = f"{model.scorer.identity}|{model.tagger.identity}|{FEATURES}|{layers}"
    path = cache_root() / "sentence-hidden" / f"{hashlib.sha1(identity.encode()).hexdigest()[:12]}.pkl"
    train_pairs, val_pairs = blimp_pairs(TRAIN), blimp_pairs(VAL)
    values = lm_outputs(model, sorted({t for p in train_pairs + val_pairs for t in (p.good, p.bad)}), layers, path)
    print(json.dumps(evaluate((train_pairs, values), (val_pairs, values), None, "mean", 0)))
    for layer in layers:
        for pooling in ("mean", "last"):
            for components in (16, 64):
                print(json.dumps(evaluate((train_pairs, values), (val_pairs, values), layer, pooling, components)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
