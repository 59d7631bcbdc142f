"""Training on a few hand-made examples over the tiny backbone: seeded, reproducible, resumable."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mtcheck.fluency.data import Example
from mtcheck.fluency.train import Settings, train

CLEAN = [
    "The library opens at nine on weekdays.",
    "Visitors can borrow up to five books at a time.",
    "The new reading room has twenty desks.",
]
GARBLED = [
    ("The library at nine opens it on the weekdays days.", (12, 30)),
    ("Visitors can can borrow up books five to at time.", (9, 16)),
]


def _examples() -> list[Example]:
    examples = [Example(t, "clean-train", f"c{i}") for i, t in enumerate(CLEAN)]
    examples += [Example(t, "corrupt-train", f"g{i}", [span]) for i, (t, span) in enumerate(GARBLED)]
    examples += [Example(GARBLED[0][0], "corrupt-val", "v", [GARBLED[0][1]])]
    examples += [Example(CLEAN[0] + "\n" + CLEAN[1], "clean-calib", "k"), Example(CLEAN[2], "clean-calib", "k2")]
    return examples


@pytest.fixture()
def settings() -> Settings:
    return Settings(depth=1, top=1, gru=8, epochs=2, batch_tokens=64, seed=7)


def _scores(meta: dict) -> list[dict]:
    """The history without its timings."""
    return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in meta["history"]]


def _tensors(path):
    from mtcheck.fluency.weights import read

    return read(path)


def test_training_is_reproducible_and_resumes(tiny_backbone, settings, tmp_path, monkeypatch) -> None:
    import torch

    monkeypatch.setenv("MTCHECK_TRAIN_CACHE", str(tmp_path / "states"))
    quiet = lambda message: None  # noqa: E731
    first = train(settings, tiny_backbone, _examples(), tmp_path / "a.safetensors", tmp_path / "wa", log=quiet)
    second = train(settings, tiny_backbone, _examples(), tmp_path / "b.safetensors", tmp_path / "wb", log=quiet)
    a, b = _tensors(tmp_path / "a.safetensors"), _tensors(tmp_path / "b.safetensors")
    assert _scores(first) == _scores(second) and len(first["history"]) == 2
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert a.identity == tiny_backbone.identity and a.shape.depth == 1

    # a run stopped after one epoch, then resumed, ends where the uninterrupted one did
    train(replace(settings, epochs=1), tiny_backbone, _examples(), tmp_path / "c.safetensors", tmp_path / "wc", log=quiet)
    messages: list[str] = []
    resumed = train(settings, tiny_backbone, _examples(), tmp_path / "c.safetensors", tmp_path / "wc", log=messages.append)
    assert any("resuming after epoch 1" in m for m in messages) and _scores(resumed) == _scores(first)
    c = _tensors(tmp_path / "c.safetensors")
    assert all(torch.equal(a.tensors[k], c.tensors[k]) for k in a.tensors)
    # other settings never continue a checkpoint
    messages.clear()
    train(replace(settings, lr_head=5e-3), tiny_backbone, _examples(), tmp_path / "d.safetensors", tmp_path / "wc", log=messages.append)
    assert not any("resuming" in m for m in messages)


def test_states_are_cached_on_disk(tiny_backbone, settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTCHECK_TRAIN_CACHE", str(tmp_path / "states"))
    train(replace(settings, epochs=1), tiny_backbone, _examples(), tmp_path / "a.safetensors", tmp_path / "w", log=lambda m: None)
    assert list((tmp_path / "states").glob("*.npz"))


def test_missing_dev_data_is_one_clear_line(monkeypatch, tmp_path, capsys) -> None:
    from mtcheck.fluency import train as training
    from mtcheck.lm import models
    from mtcheck.lm.testing import tiny_model

    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: tiny_model())
    monkeypatch.setattr("mtcheck.evaldata.EVAL_DIR", tmp_path / "absent")
    assert training.main(["--work", str(tmp_path / "w"), "--out", str(tmp_path / "d.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mtcheck train: error:") and "absent" in err[0]
    assert not (tmp_path / "d.safetensors").exists()


def test_a_detector_trained_with_surprisal_reads_it_at_check_time(tiny_backbone, settings, tmp_path, monkeypatch) -> None:
    from mtcheck.document import Document
    from mtcheck.fluency.detector import Detector
    from mtcheck.fluency.weights import read
    from mtcheck.lm.engine import SURPRISAL_COLUMNS

    monkeypatch.setenv("MTCHECK_TRAIN_CACHE", str(tmp_path / "states"))
    out = tmp_path / "s.safetensors"
    train(replace(settings, epochs=1, surprisal=1), tiny_backbone, _examples(), out, tmp_path / "w", log=lambda m: None)
    weights = read(out)
    assert weights.shape.features == SURPRISAL_COLUMNS
    assert weights.tensors["gru.weight_ih_l0"].shape[1] == tiny_backbone.engine.hidden_size + SURPRISAL_COLUMNS
    detector = Detector(tiny_backbone, weights)
    document = Document.parse(GARBLED[1][0])
    probs = detector.probabilities([document])[0]
    assert probs.shape == (len(document.words),) and ((probs > 0) & (probs < 1)).all()
    # the surprisal columns matter: zeroing the network's weights on them changes the probabilities
    import torch

    with torch.no_grad():
        detector.net.gru.weight_ih_l0[:, -SURPRISAL_COLUMNS:] = 0
        detector.net.head.weight[:, tiny_backbone.engine.hidden_size : tiny_backbone.engine.hidden_size + SURPRISAL_COLUMNS] = 0
    assert not (detector.probabilities([document])[0] == probs).all()
