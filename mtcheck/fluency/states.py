"""The frozen half of the detector: the backbone's first ``depth`` layers, run once per row.

Training runs them once per text and keeps the states on disk (float16, by content hash), so
epochs, restarts and threshold refits only run the small trainable network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mtcheck.fluency.align import Row

FLOAT16_MAX = float(np.finfo(np.float16).max)
FLAT_TOKENS = 4096  # tokens per backbone pass: large matrix products, activations in the tens of MB


def run_backbone(
    engine, rows: Sequence[Row], depth: int, surprisal: bool = False, progress: Callable[[int], None] | None = None
) -> list:
    """Per row, the [tokens, hidden] float32 tensor of states after ``depth`` layers (no gradients),
    with the surprisal columns after them when ``surprisal`` (LlamaEngine.states)."""
    import torch

    out: list = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].ids))
    batch: list[int] = []
    size = 0

    def flush() -> None:
        nonlocal batch, size
        if not batch:
            return
        with torch.inference_mode():
            flat = engine.states([rows[i].ids for i in batch], depth, surprisal)
        cursor = 0
        for i in batch:
            n = len(rows[i].ids)
            out[i] = flat[cursor : cursor + n].float().clone()
            cursor += n
        if progress is not None:
            progress(len(batch))
        batch, size = [], 0

    for i in order:
        if batch and size + len(rows[i].ids) > FLAT_TOKENS:
            flush()
        batch.append(i)
        size += len(rows[i].ids)
    flush()
    return out


def cache_dir() -> Path:
    explicit = os.environ.get("MTCHECK_TRAIN_CACHE")
    if explicit:
        return Path(explicit)
    from mtcheck.lm.models import cache_root

    return cache_root() / "train-states"


class StateCache:
    """Backbone states of rows on disk, float16 where they fit (else float32), one file per chunk of rows (by content hash)."""

    def __init__(self, folder: Path, identity: str, depth: int, surprisal: bool = False) -> None:
        self.folder = folder
        self.surprisal = surprisal
        self.tag = f"{identity}|{depth}" + ("|surprisal" if surprisal else "")
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, rows: Sequence[Row]) -> Path:
        digest = hashlib.sha1(self.tag.encode())
        for row in rows:
            digest.update(np.asarray(row.ids, dtype=np.int32).tobytes())
            digest.update(b"|")
        return self.folder / f"{digest.hexdigest()}.npz"

    def load_or_run(self, engine, rows: Sequence[Row], depth: int) -> list[np.ndarray]:
        path = self._path(rows)
        if path.exists():
            with np.load(path) as stored:
                flat, lengths = stored["states"], stored["lengths"]
            return np.split(flat, np.cumsum(lengths)[:-1])
        flat = np.concatenate([s.cpu().numpy() for s in run_backbone(engine, rows, depth, self.surprisal)])
        lengths = np.array([len(row.ids) for row in rows])
        if np.abs(flat).max(initial=0.0) < FLOAT16_MAX:
            flat = flat.astype(np.float16)  # else float32: Gemma's start-token state reaches ~1e5
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, states=flat, lengths=lengths)
        tmp.replace(path)  # a chunk is either whole on disk or absent: extraction resumes cleanly
        return np.split(flat, np.cumsum(lengths)[:-1])
