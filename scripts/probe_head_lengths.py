"""Would the sentence head rank MT outputs better if it also saw pairs of different lengths? (dev probe)

    python scripts/probe_head_lengths.py    # ~6 minutes the first time (LM features cached after)

The shipped head (scripts/train_sentence_score.py) is fitted on minimal pairs and on outputs of one
source, so both sides of a pair have about the same length. This probe refits it with one more
source: MLQE-PE dev and test20 outputs of *different* sources within a language pair, the one
whose post-editor changed less (HTER lower by >= 0.3) counted fluent. It prints, for the shipped
sources and with the extra one: BLiMP accuracy on pairs 250-279 of each paradigm, JFLEG dev
accuracy, and Kendall tau-b with DA on MLQE-PE test21 per language pair (the worst sentence of
each output). Measurement only: nothing is written.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaldata  # noqa: E402
import qe_words  # noqa: E402
from train_sentence_score import BLIMP_TRAIN, FeatureCache, blimp_pairs, fit_head, one_sentence_pairs, ted_pairs  # noqa: E402

from mtcheck.config import Config  # noqa: E402
from mtcheck.evaluation import kendall_tau_b  # noqa: E402
from mtcheck.rules.fluency import FluencyModel  # noqa: E402
from mtcheck.sentence_score import paired_accuracy  # noqa: E402

def main() -> int:
    model = FluencyModel.from_config(Config(detector="auto"))
    cache = FeatureCache(model)
    sources = {
        "blimp": one_sentence_pairs(cache, blimp_pairs(BLIMP_TRAIN), "BLiMP"),
        "jfleg": one_sentence_pairs(cache, evaldata.load_jfleg(split="test"), "JFLEG test"),
        "ted": one_sentence_pairs(cache, ted_pairs(), "TED"),
    }
    # MLQE HTER pairs: within a language pair and split, outputs of different sources, HTER apart by >= 0.3
    rng = random.Random(7)
    mlqe_pairs = []
    for split in ("dev", "test"):
        for pair, files in evaldata.mlqe_archives(split, ("mt", "hter")):
            rows = [(evaldata.detokenize(m), float(h)) for m, h in zip(files["mt"], files["hter"]) if m.strip()]
            for _ in range(len(rows)):
                a, b = rng.sample(rows, 2)
                if abs(a[1] - b[1]) >= 0.3:
                    good, bad = (a, b) if a[1] < b[1] else (b, a)
                    mlqe_pairs.append(evaldata.MinimalPair(good[0], bad[0], pair))
    print(f"{len(mlqe_pairs)} MLQE-PE pairs", file=sys.stderr)
    sources_m = dict(sources, mlqe=one_sentence_pairs(cache, mlqe_pairs, "MLQE hter"))
    # measured on: BLiMP pairs 250-279 of each paradigm, JFLEG dev, MLQE-PE test21 DA
    bv = one_sentence_pairs(cache, blimp_pairs((250, 280)), "BLiMP 250-279")
    jd = one_sentence_pairs(cache, evaldata.load_jfleg(split="dev"), "JFLEG dev")
    t21 = {}
    for archive in sorted((evaldata.EVAL_DIR / "dev" / "mlqe-pe").glob("test21_goldlabels.*-en-test21.tar.gz")):
        outs = qe_words.load_pair(archive)
        feats = cache.features([o.text for o in outs], archive.name)
        t21[archive.name.split(".")[1]] = (feats, np.array([o.da for o in outs]))

    def run(name: str, srcs: dict) -> None:
        head = fit_head(model.scorer.identity, srcs)
        dis, w = head.disfluency, head.weights
        out = {"blimp_val": round(paired_accuracy(dis(bv[:, 0]), dis(bv[:, 1])), 4),
               "jfleg_dev": round(paired_accuracy(dis(jd[:, 0]), dis(jd[:, 1])), 4)}
        for k, (feats, da) in t21.items():
            worst = np.array([dis(f).max() if len(f) else 0.0 for f in feats])
            out[k] = round(kendall_tau_b((-worst).tolist(), da.tolist()), 3)
        print(name, json.dumps(out), "weights", np.round(w, 2).tolist(), flush=True)

    run("shipped sources", sources)
    run("+ MLQE HTER pairs", sources_m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
