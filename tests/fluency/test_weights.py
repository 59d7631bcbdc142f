"""The weights file: one versioned file, tied to its backbone; anything else is one clear error."""

from __future__ import annotations

import pytest

from mtcheck.fluency.decode import Thresholds
from mtcheck.fluency.weights import (
    DetectorWeightsError,
    for_backbone,
    packaged_path,
    read,
    save,
)


def test_round_trip_keeps_weights_thresholds_and_identity(tiny_detector, tmp_path) -> None:
    import torch

    path = tmp_path / "d.safetensors"
    save(path, tiny_detector.net, tiny_detector.identity, tiny_detector.thresholds, {"note": "test"})
    loaded = read(path)
    assert loaded.identity == tiny_detector.identity and loaded.thresholds == tiny_detector.thresholds
    assert loaded.training == {"note": "test"}
    for name, tensor in tiny_detector.net.state_dict().items():
        assert torch.equal(loaded.tensors[name], tensor)


def test_weights_for_another_backbone_or_missing_are_refused(tiny_detector, tmp_path) -> None:
    path = tmp_path / "d.safetensors"
    save(path, tiny_detector.net, tiny_detector.identity, tiny_detector.thresholds, {})
    with pytest.raises(DetectorWeightsError, match="mtcheck train --model"):
        for_backbone("some-other-model", path)
    with pytest.raises(DetectorWeightsError, match="mtcheck train"):
        for_backbone(tiny_detector.identity, tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a weights file")
    with pytest.raises(DetectorWeightsError, match="cannot read"):
        read(tmp_path / "junk.safetensors")


def test_packaged_weights_belong_to_the_packaged_backbone() -> None:
    from mtcheck.lm import models

    try:
        gguf = models.default_gguf_path()
    except models.ModelNotFoundError as exc:
        pytest.skip(str(exc))
    loaded = read(packaged_path())
    assert loaded.identity == f"{gguf.name}:{models.fingerprint(gguf)}"
    assert packaged_path().stat().st_size <= 50 * 1024 * 1024
    assert isinstance(loaded.thresholds, Thresholds)
    assert 0 < loaded.thresholds.garbled <= loaded.thresholds.awkward <= 1
