"""The language-model layer: load a causal LM (by default the packaged SmolLM2) and score text.

Nothing here imports torch or transformers at import time, so ``mtcheck --no-lm`` stays light:

>>> from mtcheck.lm import load_model, Scorer      # cheap: no torch yet
>>> scorer = Scorer(load_model())                  # loads torch and the model
>>> [scores] = scorer.score(["He said it was raining."])
>>> float(scores.logprobs.sum())                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtcheck.lm.models import DeviceError, LMError, ModelNotFoundError

__all__ = [
    "DeviceError",
    "LMError",
    "LoadedModel",
    "ModelNotFoundError",
    "Scorer",
    "TokenScores",
    "load_model",
]

if TYPE_CHECKING:
    from mtcheck.lm.models import LoadedModel, load_model
    from mtcheck.lm.scorer import Scorer, TokenScores


def __getattr__(name: str):
    # Lazy so that importing the package never pulls in torch.
    if name in ("LoadedModel", "load_model"):
        from mtcheck.lm import models

        return getattr(models, name)
    if name in ("Scorer", "TokenScores"):
        from mtcheck.lm import scorer

        return getattr(scorer, name)
    raise AttributeError(name)
