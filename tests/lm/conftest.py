"""Fixtures: a tiny random-weight LM for plumbing tests, the real packaged model for `model` tests."""

from __future__ import annotations

import time

import pytest

from mtcheck.lm.models import LoadedModel


@pytest.fixture(scope="session")
def tiny_lm() -> LoadedModel:
    from mtcheck.lm.testing import tiny_model

    return tiny_model()


@pytest.fixture()
def tiny_backbone(tiny_lm):
    from mtcheck.lm.backbone import Backbone

    return Backbone(tiny_lm)


@pytest.fixture(scope="session")
def packaged_cache(tmp_path_factory):
    """A fresh MTCHECK_CACHE holding the packaged model, converted once for the session."""
    from mtcheck.lm import models

    try:
        models.default_gguf_path()
    except models.ModelNotFoundError as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("mtcheck-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTCHECK_CACHE", str(root))
        began = time.perf_counter()
        loaded = models.load_model(device="cpu")
        seconds = time.perf_counter() - began
        yield {"root": root, "loaded": loaded, "convert_seconds": seconds}


@pytest.fixture(scope="session")
def packaged_backbone(packaged_cache):
    from mtcheck.lm.backbone import Backbone

    return Backbone(packaged_cache["loaded"])
