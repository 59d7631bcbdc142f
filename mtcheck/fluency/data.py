"""Training and calibration data for the detector, from ``eval/dev`` only (never holdout).

- TED zh-en MQM and Bio-MQM (de/es/fr/it/pt → en): target-side Fluency/*, Style/* and
  Non-translation spans are positives; every other marked span (Accuracy/*, Terminology, Neutral
  severity, …) is left out of the loss; the rest of the words are negatives.
- Synthetic corruptions (mtcheck.fluency.corrupt) of the "train" half of the clean dev news and of
  the de-en human reference, with exact span labels, in both layouts (paragraphs; one segment per
  line), and optionally (``--corrupt-mt 1``; not in the shipped weights, docs/detector.md) of the
  training MT outputs that no rater marked at all. The untouched train halves are negatives too.
- The "calib" halves of the clean text are never trained on: they fit the thresholds.
- Selection (``*-val`` parts): TED talk.7, one Bio-MQM document in eight (whole documents, every
  system), and a fifth of the synthetic documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mtcheck import evaldata
from mtcheck.document import Document
from mtcheck.errors import MtcheckError
from mtcheck.evaluation import mqm_gold, runs
from mtcheck.fluency import corrupt

SEED = 20261204
IGNORE = -1
MINOR = 2  # a word inside Minor-severity gold only: positive, weighted by the training's minor_weight
TED_VALIDATION_TALKS = ("talk.7",)
DEEN_BLOCK = 20  # lines per pseudo-document of the de-en reference (it has no document ids)
CORRUPT_ROUNDS = 3


@dataclass
class Example:
    """One text to tag, with character-level supervision."""

    text: str
    part: str  # ted-train, ted-val, bio-train, bio-val, corrupt-train, corrupt-val, clean-train, clean-calib
    group: str  # the document: splits never cut through one
    positive: list[tuple[int, int]] = field(default_factory=list)
    ignore: list[tuple[int, int]] = field(default_factory=list)
    ratings: list[list[dict]] | None = None  # MQM error lists (for span measures with mqm_gold)
    minor: list[tuple[int, int]] = field(default_factory=list)  # positives inside Minor-severity gold only

    @property
    def split(self) -> str:
        return self.part.rsplit("-", 1)[1]


def _bucket(key: str, modulo: int) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % modulo


def half_of(key: str) -> str:
    """Stable 50/50 assignment of a clean document to "train" or "calib"."""
    return "train" if _bucket(key, 2) == 0 else "calib"


def _usable(errors: list[dict]) -> list[dict]:
    # A Neutral "error" is a rater's remark, not an error: neither positive nor negative.
    return [dict(e, category="Other") if e.get("severity") == "Neutral" else e for e in errors]


def mqm_examples(name: str, limit: int | None = None) -> list[Example]:
    """Examples from one dev MQM file: ``ted`` or ``bio``."""
    path = evaldata.EVAL_DIR / "dev" / ("mqm_ted_zhen.jsonl" if name == "ted" else "biomqm_x2en.jsonl")
    outputs = evaldata.stable_sample(evaldata.load_mqm(path), lambda o: o.key, limit)
    examples = []
    for out in outputs:
        ratings = [_usable(errors) for errors in out.ratings]
        gold = mqm_gold(ratings, len(out.target), 1)
        major = mqm_gold(ratings, len(out.target), 1, major_only=True).gold
        if name == "ted":
            split = "val" if out.doc in TED_VALIDATION_TALKS else "train"
        else:
            split = "val" if _bucket(out.doc, 8) == 0 else "train"
        examples.append(
            Example(out.target, f"{name}-{split}", out.doc, runs(major), runs(gold.dont_care), ratings, runs(gold.gold - major))
        )
    return examples


def clean_documents() -> list[tuple[list[list[str]], str]]:
    """(paragraphs of sentences, doc id) of the clean dev news and of the de-en reference in blocks."""
    docs = []
    for text, doc_id in evaldata.clean_news_documents():
        paragraphs = [[s.text for s in p.sentences] for p in Document.parse(text).paragraphs]
        docs.append((paragraphs, doc_id))
    lines = [line.strip() for line in (evaldata.EVAL_DIR / "dev" / "newstest2021.de-en.ref.A.en").read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    for begin in range(0, len(lines), DEEN_BLOCK):
        docs.append(([[line] for line in lines[begin : begin + DEEN_BLOCK]], f"deen-{begin // DEEN_BLOCK:03d}"))
    return docs


def layout(paragraphs: Sequence[Sequence[str]], how: str) -> str:
    """A document's text in one of the two layouts users have: ``paragraphs`` or ``lines`` (one segment per line)."""
    if how == "paragraphs":
        return "\n\n".join(" ".join(p) for p in paragraphs)
    if how == "lines":
        return "\n".join(s for p in paragraphs for s in p)
    raise ValueError(f"layout must be 'paragraphs' or 'lines', not {how!r}")


LAYOUTS = ("paragraphs", "lines")


def clean_examples(halves: Iterable[str] = ("train", "calib")) -> list[Example]:
    """The clean documents, untouched, in both layouts."""
    return [
        Example(layout(paragraphs, how), f"clean-{half_of(doc_id)}", doc_id)
        for paragraphs, doc_id in clean_documents()
        if half_of(doc_id) in halves
        for how in LAYOUTS
    ]


def corrupted_examples(rounds: int = CORRUPT_ROUNDS, rate: float = 0.5) -> list[Example]:
    """Corrupted copies of the train-half clean documents; rounds alternate the two layouts."""
    examples = []
    for paragraphs, doc_id in clean_documents():
        if half_of(doc_id) != "train":
            continue
        split = "val" if _bucket(doc_id, 5) == 0 else "train"
        for r in range(rounds):
            text = layout(paragraphs, LAYOUTS[r % 2])
            doc = Document.parse(text)
            out, cursor, positive = [], 0, []
            for paragraph in doc.paragraphs:
                seed = _bucket(f"{SEED}:{r}:{doc_id}:{paragraph.index}", 2**31)
                result = corrupt.corrupt_paragraph(paragraph.text, seed=seed, rate=rate)
                out.append(text[cursor : paragraph.start])
                offset = sum(len(piece) for piece in out)
                out.append(result.text)
                positive.extend((offset + e.label_start, offset + e.label_end) for e in result.edits)
                cursor = paragraph.end
            out.append(text[cursor:])
            examples.append(Example("".join(out), f"corrupt-{split}", doc_id, positive))
    return examples


def corrupted_mt(examples: Sequence[Example]) -> list[Example]:
    """Synthetic corruptions of the MT outputs no rater marked at all (training parts only): garbling
    with exact labels, in the MT domain's own sentences (one edit per sentence)."""
    out = []
    for index, example in enumerate(examples):
        if example.split != "train" or example.positive or example.minor or example.ignore:
            continue
        seed = _bucket(f"{SEED}:mt:{index}:{example.text}", 2**31)
        result = corrupt.corrupt_paragraph(example.text, seed=seed, rate=1.0)
        if result.edits:
            labels = [(e.label_start, e.label_end) for e in result.edits]
            out.append(Example(result.text, "corrupt-train", example.group, labels))
    return out


def all_examples(bio_limit: int | None = None, ted_limit: int | None = None, corrupt_rounds: int = CORRUPT_ROUNDS,
                 corrupt_mt: bool = False) -> list[Example]:
    mqm = [*mqm_examples("ted", ted_limit), *mqm_examples("bio", bio_limit)]
    return [
        *mqm,
        *corrupted_examples(corrupt_rounds),
        *(corrupted_mt(mqm) if corrupt_mt else []),
        *clean_examples(),
    ]


def write_examples(examples: Sequence[Example], path: str | Path) -> None:
    """Examples as JSON Lines (gzip-compressed when ``path`` ends in .gz), so that a machine
    without the dev data (a GPU box, say) can train on them: ``mtcheck train --examples``."""
    import gzip
    import json

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(asdict(example), ensure_ascii=False) + "\n")


def read_examples(path: str | Path) -> list[Example]:
    """Examples written by :func:`write_examples`."""
    import gzip
    import json

    opener = gzip.open if str(path).endswith(".gz") else open
    out = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                fields = json.loads(line)
                for key in ("positive", "ignore", "minor"):
                    fields[key] = [tuple(span) for span in fields.get(key, [])]
                out.append(Example(**fields))
            except (ValueError, TypeError) as exc:
                raise MtcheckError(f"{path}, line {number}: not a training example ({exc})") from None
    return out


def word_labels(example: Example, document: Document) -> np.ndarray:
    """Per word of ``document`` (parsed from the example's text): 1 garbled (MINOR when only Minor
    errors cover it), 0 clean, IGNORE not in the loss.

    A positive span that touches no word (a lone punctuation mark) makes the words on each side
    IGNORE: MQM punctuation spans do not say which word is at fault.
    """
    words = document.words
    labels = np.zeros(len(words), dtype=np.int8)
    if not words:
        return labels
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    for a, b in example.ignore:
        labels[(starts < b) & (ends > a)] = IGNORE
    for label, spans in ((MINOR, example.minor), (1, example.positive)):
        for a, b in spans:
            hit = (starts < b) & (ends > a)
            if hit.any():
                labels[hit] = label
            else:
                _ignore_neighbours(labels, starts, ends, a, b)
    return labels


def _ignore_neighbours(labels: np.ndarray, starts: np.ndarray, ends: np.ndarray, a: int, b: int) -> None:
    before = np.nonzero(ends <= a)[0]
    after = np.nonzero(starts >= b)[0]
    for k in ([before[-1]] if len(before) else []) + ([after[0]] if len(after) else []):
        if labels[k] == 0:
            labels[k] = IGNORE
