"""The learned fluency detector at check time: documents in, F001/F002 findings and fluency out.

One pass per batch of documents: rows (mtcheck.fluency.align) → the frozen backbone's first
``depth`` layers (LlamaEngine) → the trained network (mtcheck.fluency.network) → each word's
probability of lying in an error span → mtcheck.fluency.decode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtcheck.document import Document
from mtcheck.findings import Finding, SentenceScore
from mtcheck.fluency import decode
from mtcheck.fluency.align import Row, rows
from mtcheck.fluency.network import length_groups, padded
from mtcheck.fluency.states import run_backbone
from mtcheck.fluency.weights import DetectorWeights, DetectorWeightsError, for_backbone

NET_BATCH_TOKENS = 8192  # padded tokens per network pass
# Rows' states are held for at most this many tokens at a time (about 150 MB of float32 states),
# so memory stays flat however long the document: a window's rows are scored, then dropped.
WINDOW_TOKENS = 65536


def _windows(rows: Sequence[Row], tokens: int) -> list[list[int]]:
    """Consecutive runs of row indices holding at most ``tokens`` tokens (a longer row alone)."""
    windows: list[list[int]] = [[]]
    size = 0
    for index, row in enumerate(rows):
        if windows[-1] and size + len(row.ids) > tokens:
            windows.append([])
            size = 0
        windows[-1].append(index)
        size += len(row.ids)
    return [w for w in windows if w]


def _characters(document: Document, row: Row) -> int:
    """The characters of ``document`` a row covers, from its first word to its last."""
    return document.words[row.words[-1]].end - document.words[row.words[0]].start


@dataclass
class FluencyResult:
    findings: list[Finding]
    sentences: list[SentenceScore]
    fluency: float | None
    label: str | None  # "garbled", "awkward" or "fluent" for the document


class Detector:
    """A backbone (mtcheck.lm.backbone.Backbone) and the detector weights trained for it."""

    def __init__(self, backbone, weights: DetectorWeights, thresholds: decode.Thresholds | None = None) -> None:
        self.backbone = backbone
        self.weights = weights
        self.thresholds = thresholds or weights.thresholds
        self.net = weights.network().to(backbone.device)

    @classmethod
    def from_config(cls, config) -> Detector:
        from mtcheck.lm.backbone import Backbone
        from mtcheck.lm.models import load_model

        backbone = Backbone(load_model(config.model, gguf_file=config.gguf_file, device=config.device))
        loaded = for_backbone(backbone.identity, config.weights)
        thresholds = load_thresholds(config.thresholds) if config.thresholds else None
        return cls(backbone, loaded, thresholds)

    @property
    def identity(self) -> str:
        return self.backbone.identity

    def probabilities(self, documents: Sequence[Document], progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
        """Per document, each word's probability of lying in an error span. ``progress`` is told
        the characters each window of rows covered, as it finishes."""
        import torch

        owners: list[int] = []
        all_rows: list[Row] = []
        for index, document in enumerate(documents):
            for row in rows(document, self.backbone.tokenize, self.backbone.start_id):
                owners.append(index)
                all_rows.append(row)
        result = [np.zeros(len(d.words)) for d in documents]
        if not all_rows:
            return result
        with self.backbone.threads:
            for window in _windows(all_rows, WINDOW_TOKENS):
                rows_here = [all_rows[i] for i in window]
                states = run_backbone(
                    self.backbone.engine, rows_here, self.weights.shape.depth, self.weights.shape.features > 0
                )
                lengths = [len(row.ids) for row in rows_here]
                order = sorted(range(len(rows_here)), key=lengths.__getitem__)
                for group in length_groups(order, lengths, NET_BATCH_TOKENS):
                    batch, batch_lengths = padded([states[i] for i in group])
                    with torch.inference_mode():
                        probs = torch.sigmoid(self.net(batch.to(self.backbone.device), batch_lengths)).float().cpu().numpy()
                    for slot, i in enumerate(group):
                        row = rows_here[i]
                        result[owners[window[i]]][row.words] = probs[slot, row.last_token]
                if progress is not None:
                    progress(sum(_characters(documents[owners[i]], all_rows[i]) for i in window))
        return result

    def analyse(self, documents: Sequence[Document], ctx=None, spans: bool = True,
                progress: Callable[[int], None] | None = None) -> list[FluencyResult]:
        out = []
        for document, probs in zip(documents, self.probabilities(documents, progress)):
            decoded = decode.decode(document, probs, self.thresholds)
            found = decode.findings(document, decoded, self.thresholds, spans=spans)
            label = None if decoded.fluency is None else self.thresholds.document_label(decoded.fluency)
            out.append(FluencyResult(found, decoded.sentences, decoded.fluency, label))
        return out


def load_thresholds(path: Path) -> decode.Thresholds:
    """Thresholds written by ``mtcheck calibrate`` (JSON with the four fields of decode.Thresholds)."""
    import json

    try:
        return decode.Thresholds.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DetectorWeightsError(f"cannot read thresholds {path}: {exc}") from None

