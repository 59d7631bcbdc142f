"""The shipped detector: one versioned safetensors file (network weights, thresholds, backbone identity).

Its metadata holds ``format``, the backbone ``identity`` (mtcheck.lm.models fingerprint of the
weights the network was trained on), the network ``shape``, the fitted ``thresholds`` and how it
was trained (``training``). A file for another backbone is refused with one line saying how to
train one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mtcheck.errors import MtcheckError
from mtcheck.fluency.decode import Thresholds
from mtcheck.fluency.network import Shape

FORMAT = "mtcheck-detector/1"
PACKAGED = "detector.safetensors"


class DetectorWeightsError(MtcheckError):
    """No usable detector weights for the backbone in use."""


@dataclass
class DetectorWeights:
    identity: str
    shape: Shape
    thresholds: Thresholds
    training: dict[str, Any]
    tensors: dict[str, Any]

    def network(self):
        from mtcheck.fluency.network import DetectorNet

        net = DetectorNet(self.shape)
        net.load_state_dict(self.tensors)
        net.eval()
        return net


def save(path: Path, net, identity: str, thresholds: Thresholds, training: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    metadata = {
        "format": FORMAT,
        "identity": identity,
        "shape": json.dumps(net.shape.to_dict()),
        "thresholds": json.dumps(thresholds.to_dict()),
        "training": json.dumps(training),
    }
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)


def packaged_path() -> Path:
    return Path(str(resources.files("mtcheck.data").joinpath(PACKAGED)))


def read(path: Path) -> DetectorWeights:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (OSError, SafetensorError, ValueError) as exc:
        raise DetectorWeightsError(f"cannot read detector weights {path}: {exc}") from None
    if metadata.get("format") != FORMAT:
        raise DetectorWeightsError(f"{path} is not an mtcheck detector file ({FORMAT})")
    return DetectorWeights(
        identity=metadata["identity"],
        shape=Shape(**json.loads(metadata["shape"])),
        thresholds=Thresholds.from_dict(json.loads(metadata["thresholds"])),
        training=json.loads(metadata.get("training", "{}")),
        tensors=tensors,
    )


def for_backbone(identity: str, path: Path | None = None) -> DetectorWeights:
    """The detector weights at ``path`` (default: the packaged file), checked against the backbone."""
    path = path or packaged_path()
    if not path.exists():
        raise DetectorWeightsError(
            f"no detector weights at {path}; train them with `mtcheck train --model …` (or run with --no-lm)"
        )
    loaded = read(path)
    if loaded.identity != identity:
        raise DetectorWeightsError(
            f"the detector weights {path.name} belong to {loaded.identity}, not {identity}: "
            "train weights for this model with `mtcheck train --model …`, or run with --no-lm"
        )
    return loaded
