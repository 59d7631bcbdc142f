"""The language-model layer: load a causal LM (by default the packaged Gemma-3-270M) as the detector's backbone.

Nothing here imports torch or transformers at import time, so ``mtcheck --no-lm`` stays light:

>>> from mtcheck.lm import load_model, Backbone     # cheap: no torch yet
>>> backbone = Backbone(load_model())               # loads torch and the model  # doctest: +SKIP
>>> ids, starts, ends = backbone.tokenize(["He said it was raining."])[0]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtcheck.lm.models import DeviceError, LMError, ModelNotFoundError

__all__ = ["Backbone", "DeviceError", "LMError", "LoadedModel", "ModelNotFoundError", "load_model"]

if TYPE_CHECKING:
    from mtcheck.lm.backbone import Backbone
    from mtcheck.lm.models import LoadedModel, load_model


def __getattr__(name: str):
    # Lazy so that importing the package never pulls in torch.
    if name in ("LoadedModel", "load_model"):
        from mtcheck.lm import models

        return getattr(models, name)
    if name == "Backbone":
        from mtcheck.lm import backbone

        return backbone.Backbone
    raise AttributeError(name)
