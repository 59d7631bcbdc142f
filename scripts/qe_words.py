"""Word-level QE on MLQE-PE test21 (dev): do the LM's word signals rank the words a post-editor
had to change above the others?

    python scripts/qe_words.py [--pairs ru-en,ro-en,...] [--limit N]    # ~5 minutes on two cores

For each MT output of dev/mlqe-pe/test21_goldlabels.*, every word of the gold tokenization is
BAD or OK (WMT21 QE task 2, from post-edits: BAD marks meaning errors too, which no target-only
signal can see). Each gold word gets the scores of the Document words it overlaps (the highest):

- ``tagger``: the learned tagger's P(garbled) (mtcheck/tagger.py);
- ``normalised surprisal``: LM surprisal minus unigram surprisal, as the untrained detector uses it;

and the script prints, per language pair and pooled, the BAD rate, AUROC and average precision of
each. Per output it also compares sentence scores with the human ones (DA z-score, higher =
better; HTER, the share of words the post-editor changed): Pearson r and Kendall tau-b of the
sentence fluency mtcheck reports (the sentence head, the lowest over the output's sentences) and
of the untrained ``z`` (its highest, negated). Measurement only: nothing here is fitted, and these
files train nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaldata import EVAL_DIR, archive_lines  # noqa: E402
from train_tagger import average_precision  # noqa: E402

from mtcheck.config import Config  # noqa: E402
from mtcheck.document import Document  # noqa: E402
from mtcheck.evaluation import auroc, kendall_tau_b  # noqa: E402
from mtcheck.rules.fluency import FluencyModel  # noqa: E402

BATCH = 64
SIGNALS = ("tagger", "normalised surprisal")
SENTENCE_SIGNALS = ("fluency", "-z")


@dataclass
class Output:
    text: str  # the untokenized MT output
    spans: list[tuple[int, int]]  # character span of each gold word found in it
    labels: list[int]  # 1 = BAD, per gold word
    da: float  # direct assessment z-score (higher = better)
    hter: float


def load_pair(archive: Path) -> list[Output]:
    lines = archive_lines(archive, ("/test21.mt", "/test21.da", "/test21.hter", "/task2_wordlevel_mt.tags"))
    texts, da, hter = lines["/test21.mt"], lines["/test21.da"], lines["/test21.hter"]
    words: dict[int, list[tuple[str, str]]] = {}
    for row in lines["/task2_wordlevel_mt.tags"]:
        fields = row.split("\t")
        words.setdefault(int(fields[3]), []).append((fields[5], fields[6]))
    outputs = []
    for index, text in enumerate(texts):
        spans, labels, cursor = [], [], 0
        for word, tag in words.get(index, []):
            at = text.find(word, cursor)
            if at < 0:
                continue
            cursor = at + len(word)
            spans.append((at, cursor))
            labels.append(int(tag == "BAD"))
        if spans:
            outputs.append(Output(text, spans, labels, float(da[index]), float(hter[index])))
    return outputs


def lm_signals(model: FluencyModel, texts: list[str]) -> list[tuple[list[tuple[int, int, float, float]], tuple[float, float]]]:
    """Per text: (start, end, tagger p, normalised bits) of each Document word, and the text's
    SENTENCE_SIGNALS (lowest sentence fluency, minus the highest sentence z)."""
    result = []
    for begin in range(0, len(texts), BATCH):
        docs = [Document.parse(t, "-") for t in texts[begin : begin + BATCH]]
        for tagged in model.tag(docs):
            words = [
                (w.word.start, w.word.end, p, w.normalised_bits)
                for sentence, probs in zip(tagged.words, tagged.probabilities)
                for w, p in zip(sentence, probs)
            ]
            fluency = model.learned_fluency(tagged) or [1.0]
            z = [model.sentence_z(sentence) for sentence in tagged.words if sentence] or [0.0]
            result.append((words, (min(fluency), -max(z))))
    return result


def gold_word_scores(spans, words) -> np.ndarray:
    """[n_gold_words, len(SIGNALS)]: the highest score of the Document words each gold word overlaps."""
    out = np.full((len(spans), len(SIGNALS)), -np.inf)
    for i, (start, end) in enumerate(spans):
        for ws, we, p, bits in words:
            if ws < end and start < we:
                out[i] = np.maximum(out[i], (p, bits))
    out[~np.isfinite(out)] = np.nan  # punctuation-only gold words: no Document word
    return out


def summary(scores: np.ndarray, labels: np.ndarray) -> dict:
    keep = ~np.isnan(scores).any(axis=1)
    scores, labels = scores[keep], labels[keep]
    row = {"words": int(len(labels)), "bad_rate": round(float(labels.mean()), 4)}
    for k, name in enumerate(SIGNALS):
        bad, ok = scores[labels == 1, k], scores[labels == 0, k]
        value = auroc(bad.tolist(), ok.tolist())
        row[name] = {
            "auroc": None if value is None else round(value, 4),
            "ap": None if not labels.any() else round(average_precision(scores[:, k], labels), 4),
        }
    return row


def correlations(scores: np.ndarray, outputs: list[Output]) -> dict:
    """Pearson r and Kendall tau-b of each SENTENCE_SIGNALS column with DA and with −HTER."""
    human = {"da": np.array([o.da for o in outputs]), "-hter": -np.array([o.hter for o in outputs])}
    row = {}
    for k, name in enumerate(SENTENCE_SIGNALS):
        for label, target in human.items():
            tau = kendall_tau_b(scores[:, k].tolist(), target.tolist())
            row[f"{name} vs {label}"] = {
                "r": round(float(np.corrcoef(scores[:, k], target)[0, 1]), 4),
                "tau": None if tau is None else round(tau, 4),
            }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default=None, help="comma-separated language pairs (default: all)")
    parser.add_argument("--limit", type=int, default=None, help="outputs per pair (default: all)")
    args = parser.parse_args(argv)
    model = FluencyModel.from_config(Config(detector="tagger"))
    if model.tagger is None:
        print("qe_words: the packaged tagger does not fit the default model", file=sys.stderr)
        return 2
    archives = sorted((EVAL_DIR / "dev" / "mlqe-pe").glob("test21_goldlabels.*-en-test21.tar.gz"))
    wanted = set(args.pairs.split(",")) if args.pairs else None
    pooled_scores, pooled_labels = [], []
    for archive in archives:
        pair = archive.name.split(".")[1].removesuffix("-test21")
        if wanted and pair not in wanted:
            continue
        started = time.perf_counter()
        outputs = load_pair(archive)[: args.limit]
        signals = lm_signals(model, [o.text for o in outputs])
        scores = np.concatenate([gold_word_scores(o.spans, words) for o, (words, _) in zip(outputs, signals)])
        labels = np.concatenate([np.array(o.labels) for o in outputs])
        pooled_scores.append(scores)
        pooled_labels.append(labels)
        sentence = np.array([s for _, s in signals])
        row = {"pair": pair, "outputs": len(outputs), **summary(scores, labels), **correlations(sentence, outputs)}
        print(json.dumps({**row, "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    if pooled_labels:
        print(json.dumps({"pair": "all", **summary(np.concatenate(pooled_scores), np.concatenate(pooled_labels))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
