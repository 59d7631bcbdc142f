"""Detector variants side by side on one dev subsample: how many backbone layers to fine-tune.

    python research/detector_variants.py [--bio-limit 4000] [--ted-limit 2000] [--epochs 2]

Each variant trains with mtcheck.fluency.train on the same examples (dev only) and reports its
selection scores (word average precision on the validation parts: TED talk.7, one Bio-MQM
document in eight, a fifth of the synthetic documents) and its training time. ``top`` 0 is the
frozen-feature baseline (GRU and head only); the total number of layers run at check time is
depth + top.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mtcheck.fluency import data
from mtcheck.fluency.train import Settings, train
from mtcheck.lm.backbone import Backbone

VARIANTS = [(14, 0), (13, 1), (12, 2), (10, 4)]  # (frozen depth, fine-tuned layers): 14 layers run in all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bio-limit", type=int, default=4000)
    parser.add_argument("--ted-limit", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    backbone = Backbone.load(device="cpu")
    examples = data.all_examples(args.bio_limit, args.ted_limit)
    rows = []
    for depth, top in VARIANTS:
        settings = Settings(depth=depth, top=top, epochs=args.epochs, lr_top=5e-5, bio_limit=args.bio_limit, ted_limit=args.ted_limit)
        with tempfile.TemporaryDirectory() as work:
            began = time.perf_counter()
            meta = train(settings, backbone, examples, Path(work) / "d.safetensors", Path(work), resume=False, log=lambda m: None)
        best = max(meta["history"], key=lambda h: h["selection"])
        rows.append({"depth": depth, "top": top, **best, "total_seconds": round(time.perf_counter() - began)})
        print(json.dumps(rows[-1]), flush=True)
    print("| frozen depth | fine-tuned layers | selection | ted-val | bio-val | corrupt-val | best epoch | epoch seconds | total seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['depth']} | {r['top']} | {r['selection']} | {r.get('ted-val')} | {r.get('bio-val')} | "
              f"{r.get('corrupt-val')} | {r['epoch']} | {r['seconds']} | {r['total_seconds']} |")


if __name__ == "__main__":
    main()
