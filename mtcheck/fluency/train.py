"""Train the detector: ``mtcheck train`` (or ``python -m mtcheck.fluency.train``).

1. Build the dev examples (mtcheck.fluency.data) and cut them into token rows.
2. Run the frozen backbone layers once per row; states are cached on disk, so a restart resumes.
3. Train the top layer(s), the bidirectional GRU and the head on word labels (masked binary
   cross-entropy), seeded; a checkpoint after each epoch makes the run resumable.
4. Keep the epoch with the best selection score (mean word average precision over the ``*-val``
   parts), fit the thresholds on the clean "calib" halves in both layouts, and write one weights
   file (mtcheck.fluency.weights).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mtcheck.document import Document
from mtcheck.evaluation import mqm_gold
from mtcheck.fluency import calibrate, data
from mtcheck.fluency.align import rows as make_rows
from mtcheck.fluency.states import StateCache, cache_dir
from mtcheck.lm.engine import SURPRISAL_COLUMNS


@dataclass(frozen=True)
class Settings:
    depth: int = 12
    top: int = 2
    gru: int = 128
    epochs: int = 4
    batch_tokens: int = 6144
    lr_top: float = 5e-5
    lr_head: float = 1e-3
    seed: int = data.SEED
    bio_limit: int | None = None
    ted_limit: int | None = None
    corrupt_rounds: int = data.CORRUPT_ROUNDS
    positive_weight: float = 1.0
    minor_weight: float = 1.0  # loss weight of words inside Minor-severity MQM errors only (0: left out)
    corrupt_mt: int = 0  # also corrupt the unmarked training MT outputs (1) or not (0): docs/detector.md
    surprisal: int = 0  # give the network each token's surprisal under the whole model (1) or not (0)


@dataclass
class Item:
    """One row with its frozen states and word labels."""

    states: np.ndarray  # [tokens, hidden] float16
    last_token: np.ndarray
    labels: np.ndarray  # int8: 1, data.MINOR, 0 or data.IGNORE
    example: int
    words: np.ndarray  # indices into the example document's words


def prepare(backbone, examples: Sequence[data.Example], depth: int, surprisal: bool = False, progress=None) -> list[Item]:
    """Rows, labels and cached backbone states of every example."""
    cache = StateCache(cache_dir(), backbone.identity, depth, surprisal)
    pending: list[tuple[int, object, np.ndarray]] = []
    for index, example in enumerate(examples):
        document = Document.parse(example.text)
        labels = data.word_labels(example, document)
        for row in make_rows(document, backbone.tokenize, backbone.start_id):
            pending.append((index, row, labels[row.words]))
    items: list[Item] = []
    chunk = 256
    for begin in range(0, len(pending), chunk):
        part = pending[begin : begin + chunk]
        states = cache.load_or_run(backbone.engine, [row for _, row, _ in part], depth)
        for (index, row, labels), state in zip(part, states):
            items.append(Item(state, row.last_token, labels, index, row.words))
        if progress is not None:
            progress(len(part))
    return items


def batches(items: Sequence[Item], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Groups of rows of similar length, about ``batch_tokens`` padded tokens each, in random order."""
    from mtcheck.fluency.network import length_groups

    lengths = [len(item.states) for item in items]
    order = sorted(range(len(items)), key=lambda i: (lengths[i], rng.random()))
    groups = length_groups(order, lengths, batch_tokens)
    rng.shuffle(groups)
    return groups


def word_logits(net, items: Sequence[Item], group: Sequence[int]):
    """The network's logit of every word of the rows in ``group`` (concatenated) and their labels,
    on the network's device."""
    import torch

    from mtcheck.fluency.network import padded

    device = net.inv_freq.device
    states, lengths = padded([items[i].states for i in group])
    logits = net(states.to(device), lengths)
    rows = torch.cat([torch.full((len(items[i].last_token),), r) for r, i in enumerate(group)]).to(device)
    columns = torch.from_numpy(np.concatenate([items[i].last_token for i in group])).long().to(device)
    labels = torch.from_numpy(np.concatenate([items[i].labels for i in group]).astype(np.int64)).to(device)
    return logits[rows, columns], labels


def probabilities(net, items: Sequence[Item], batch_tokens: int = 16384) -> list[np.ndarray]:
    """Per item, its words' probabilities (evaluation mode, no gradients)."""
    import torch

    net.eval()
    out: list[np.ndarray] = [np.zeros(0)] * len(items)
    with torch.inference_mode():
        for group in batches(items, batch_tokens, random.Random(0)):
            logits, _ = word_logits(net, items, group)
            values = torch.sigmoid(logits).float().cpu().numpy()
            cursor = 0
            for i in group:
                n = len(items[i].last_token)
                out[i] = values[cursor : cursor + n]
                cursor += n
    return out


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float | None:
    keep = labels != data.IGNORE
    scores, labels = scores[keep], np.minimum(labels[keep], 1)
    positives = int(labels.sum())
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    hits = labels[order] == 1
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / positives)


def selection(examples: Sequence[data.Example], items: Sequence[Item], probs: Sequence[np.ndarray]) -> dict[str, float]:
    """Word average precision of each validation part, and their mean ("selection")."""
    result: dict[str, float] = {}
    for part in sorted({e.part for e in examples if e.split == "val"}):
        chosen = [i for i, item in enumerate(items) if examples[item.example].part == part]
        if not chosen:
            continue
        ap = average_precision(np.concatenate([probs[i] for i in chosen]), np.concatenate([items[i].labels for i in chosen]))
        if ap is not None:
            result[part] = round(ap, 4)
    result["selection"] = round(float(np.mean(list(result.values()))), 4) if result else 0.0
    return result


def train(settings: Settings, backbone, examples: Sequence[data.Example], out: Path, work: Path,
          resume: bool = True, log=print) -> dict:
    """Train on ``examples`` over ``backbone``'s backbone and write the weights file ``out``."""
    import torch

    from mtcheck.fluency import weights
    from mtcheck.fluency.network import initialised, shape_for
    from mtcheck.progress import bar

    random.seed(settings.seed)
    np.random.seed(settings.seed % 2**32)
    torch.manual_seed(settings.seed)
    log(f"examples: {len(examples)} ({', '.join(f'{p} {n}' for p, n in _counts(examples))})")
    with bar("backbone states", total=None) as advance:
        items = prepare(backbone, examples, settings.depth, bool(settings.surprisal), advance)
    train_items = [i for i, it in enumerate(items) if examples[it.example].split == "train"]
    eval_items = [it for it in items if examples[it.example].split == "val"]
    log(f"rows: {len(items)}; training rows {len(train_items)}, tokens {sum(len(items[i].states) for i in train_items)}")

    features = SURPRISAL_COLUMNS if settings.surprisal else 0
    shape = shape_for(backbone.engine, settings.depth, settings.top, settings.gru, features)
    net = initialised(backbone.engine, shape, settings.seed).to(backbone.device)
    top_params = [p for layer in net.layers for p in layer.parameters()]
    head_params = [p for name, p in net.named_parameters() if not name.startswith("layers.")]
    optimiser = torch.optim.AdamW(
        [{"params": top_params, "lr": settings.lr_top}, {"params": head_params, "lr": settings.lr_head}], weight_decay=0.01
    )
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = work / "checkpoint.pt"
    start_epoch, best, history = 0, None, []
    if resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False, map_location=backbone.device)
        if _resumable(saved["settings"]) == _resumable(asdict(settings)) and saved["identity"] == backbone.identity:
            net.load_state_dict(saved["net"])
            optimiser.load_state_dict(saved["optimiser"])
            start_epoch, best, history = saved["epoch"], saved["best"], saved["history"]
            log(f"resuming after epoch {start_epoch}")
    for epoch in range(start_epoch, settings.epochs):
        started = time.perf_counter()
        loss = _epoch(net, optimiser, items, train_items, settings, epoch)
        scores = selection(examples, eval_items, probabilities(net, eval_items)) if eval_items else {"selection": -loss}
        history.append({"epoch": epoch + 1, "loss": round(loss, 4), "seconds": round(time.perf_counter() - started), **scores})
        log(f"epoch {epoch + 1}: {history[-1]}")
        if best is None or scores["selection"] > best["score"]:
            best = {"score": scores["selection"], "epoch": epoch + 1,
                    "state": {k: v.clone() for k, v in net.state_dict().items()}}
        torch.save({"settings": asdict(settings), "identity": backbone.identity, "net": net.state_dict(),
                    "optimiser": optimiser.state_dict(), "epoch": epoch + 1, "best": best, "history": history}, checkpoint)
    if best is not None:
        net.load_state_dict(best["state"])
    calib = [it for it in items if examples[it.example].part == "clean-calib"]
    _, clean_docs, clean_probs = _per_document(examples, calib, probabilities(net, calib))
    mqm = [it for it in eval_items if examples[it.example].ratings is not None]
    span_info, f1_table = None, {}
    if mqm:
        indices, documents, probs = _per_document(examples, mqm, probabilities(net, mqm))
        golds = [mqm_gold(examples[i].ratings, len(examples[i].text), 1) for i in indices]
        texts = [(d, p, g) for (_, d), p, g in zip(documents, probs, golds)]
        span_info, f1_table = calibrate.best_span_info(texts, clean_docs, clean_probs)
        log(f"span_info {span_info} by dev char F1: {f1_table}")
    thresholds, clean_rates = calibrate.fit(clean_docs, clean_probs, span_info=span_info)
    log(f"thresholds: {thresholds.to_dict()}; clean calib rates: {clean_rates}")
    meta = {"settings": asdict(settings), "history": history, "best_epoch": best and best["epoch"],
            "clean_calib": clean_rates, "span_info_by_dev_f1": f1_table}
    weights.save(out, net, backbone.identity, thresholds, meta)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return meta


def _resumable(settings: dict) -> dict:
    """What a checkpoint must share with a run to continue it: everything but the number of epochs
    (a setting added since the checkpoint was written counts at its default)."""
    return {k: v for k, v in {**asdict(Settings()), **settings}.items() if k != "epochs"}


def _epoch(net, optimiser, items: Sequence[Item], train_items: Sequence[int], settings: Settings, epoch: int) -> float:
    """One pass over the training rows in a seeded order; the mean loss."""
    import torch

    from mtcheck.progress import bar

    groups = batches([items[i] for i in train_items], settings.batch_tokens, random.Random(settings.seed + epoch))
    net.train()
    total = 0.0
    with bar(f"epoch {epoch + 1}/{settings.epochs}", total=len(groups)) as advance:
        for group in groups:
            logits, labels = word_logits(net, items, [train_items[g] for g in group])
            keep = labels != data.IGNORE
            kept = labels[keep]
            weight = torch.where(kept == 1, settings.positive_weight, torch.where(kept == data.MINOR, settings.minor_weight, 1.0))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], (kept > 0).float(), weight=weight)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            total += loss.item()
            advance(1)
    return total / max(1, len(groups))


def _counts(examples: Sequence[data.Example]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.part] = counts.get(e.part, 0) + 1
    return sorted(counts.items())


def _per_document(
    examples: Sequence[data.Example], items: Sequence[Item], probs: Sequence[np.ndarray]
) -> tuple[list[int], list[tuple[str, Document]], list[np.ndarray]]:
    """Per distinct example of ``items`` (in the order its rows first appear): its index, (layout
    key, parsed document), and every word's probability gathered from its rows."""
    documents: dict[int, tuple[str, Document]] = {}
    per: dict[int, np.ndarray] = {}
    for it, p in zip(items, probs):
        if it.example not in documents:
            text = examples[it.example].text
            document = Document.parse(text)
            documents[it.example] = ("lines" if "\n\n" not in text and "\n" in text else "paragraphs", document)
            per[it.example] = np.zeros(len(document.words))
        per[it.example][it.words] = p
    return list(documents), list(documents.values()), list(per.values())


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.replace("``", "'"), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("detector.safetensors"))
    parser.add_argument("--work", type=Path, default=Path(".mtcheck-train"), help="checkpoints (resumable)")
    parser.add_argument("--model", default=None, help="backbone (default: the packaged Gemma-3-270M)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--write-examples", type=Path, metavar="FILE",
                        help="only build the training examples from the dev data and write them (JSONL, .gz allowed)")
    parser.add_argument("--examples", type=Path, metavar="FILE",
                        help="train on examples written by --write-examples (on a machine without the dev data)")
    for name, value in asdict(defaults).items():
        kind = float if isinstance(value, float) else int
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value,
                            help=f"{SETTING_HELP[name]} (default {value})")
    return parser.parse_args(argv)


SETTING_HELP = {
    "depth": "frozen backbone layers run before the network",
    "top": "backbone layers after those, fine-tuned",
    "gru": "GRU units per direction",
    "epochs": "passes over the training rows (a later run with more epochs continues a checkpoint)",
    "batch_tokens": "padded tokens per training batch",
    "lr_top": "learning rate of the fine-tuned layers",
    "lr_head": "learning rate of the GRU and the head",
    "seed": "seed of every random choice",
    "bio_limit": "Bio-MQM outputs used (a fixed subsample; default all)",
    "ted_limit": "TED MQM outputs used (a fixed subsample; default all)",
    "corrupt_rounds": "synthetic corruption rounds of the clean training documents",
    "positive_weight": "loss weight of garbled words",
    "minor_weight": "loss weight of words inside Minor-severity MQM errors only (0 leaves them out)",
    "corrupt_mt": "1: also corrupt the training MT outputs no rater marked",
    "surprisal": "1: the network also reads each token's surprisal and prediction entropy (runs the whole model)",
}


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    settings = Settings(**{k: getattr(args, k) for k in asdict(Settings())})
    from mtcheck.errors import MtcheckError
    from mtcheck.lm.backbone import Backbone
    from mtcheck.lm.models import load_model

    try:
        if args.examples:
            examples = data.read_examples(args.examples)
        else:
            examples = data.all_examples(settings.bio_limit, settings.ted_limit, settings.corrupt_rounds, bool(settings.corrupt_mt))
        if args.write_examples:
            data.write_examples(examples, args.write_examples)
            print(f"wrote {len(examples)} examples to {args.write_examples}")
            return 0
        import torch

        # float32 on every device: the weights must fit the states they will see at check time (CPU, float32)
        backbone = Backbone(load_model(args.model, device=args.device, dtype=torch.float32))
        train(settings, backbone, examples, args.out, args.work, resume=not args.fresh)
    except (OSError, MtcheckError) as exc:
        print(f"mtcheck train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
