"""Fixtures: the tiny random-weight backbone, and a detector network freshly initialised on it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_backbone():
    pytest.importorskip("torch")
    from mtcheck.lm.backbone import Backbone
    from mtcheck.lm.testing import tiny_model

    return Backbone(tiny_model())


@pytest.fixture(params=[False, True], ids=["states", "surprisal"])
def tiny_detector(tiny_backbone, request):
    from mtcheck.lm.testing import tiny_detector

    return tiny_detector(tiny_backbone, surprisal=request.param)
