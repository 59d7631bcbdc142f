"""scripts/probe_window_scorer.py: window features and labels, folds and the logistic fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import probe_window_scorer as tws
from train_tagger import Example


def record(start: int, end: int, **extra) -> dict:
    return {"start": start, "end": end, "tag": None, "untrained": False, "gain": 1.0, **extra}


def test_features_take_each_kind_of_edit_clipped() -> None:
    r = record(0, 1, pmax=0.2, gain=55.0, gains={"drop": -3.0, "alternative": 55.0}, bits=70.0)
    features = dict(zip(tws.FEATURES, tws.features(r)))
    assert features["logit_p"] == pytest.approx(math.log(0.2 / 0.8))
    assert features["gain"] == features["alternative_gain"] == tws.GAIN_CAP
    assert features["drop_gain"] == 0.0  # an edit that makes the text less likely repairs nothing
    assert features["swap_gain"] == 0.0  # not tried
    assert features["bits"] == 60.0


def test_labels_follow_gold_and_leave_out_dont_care_and_calibration_text() -> None:
    ted = Example("x" * 50, "ted-val", "talk.7", positive=[(10, 15)], ignore=[(30, 40)])
    assert tws.label(record(12, 20), ted) == 1
    assert tws.label(record(31, 33), ted) is None  # only don't-care text
    assert tws.label(record(0, 9), ted) == 0
    synthetic = Example("x" * 50, "corrupt-news", "doc1", positive=[(5, 8)])
    assert tws.label(record(7, 12), synthetic) == 1
    assert tws.label(record(0, 9), Example("x" * 50, "news-calib", "doc2", clean=True)) is None
    assert tws.label(record(7, 12), synthetic, parts=("ted-val",)) is None


def test_folds_keep_every_corrupted_copy_of_a_document_together() -> None:
    copies = [Example(f"text {r}", "corrupt-news", "doc-a") for r in range(3)]
    assert len({tws.fold_of(e, i) for i, e in enumerate(copies)}) == 1
    ted = [Example("t", "ted-val", "talk.7") for _ in range(40)]
    assert {tws.fold_of(e, i) for i, e in enumerate(ted)} == {0, 1}


def test_candidates_are_the_shipped_ones() -> None:
    assert tws.is_candidate(record(0, 1, tag=0.2))
    assert not tws.is_candidate(record(0, 1, tag=0.1))
    assert tws.is_candidate(record(0, 1, tag=0.1, untrained=True))
    assert not tws.is_candidate(record(0, 1, tag=0.5, gain=None))


def test_logistic_fit_finds_the_informative_feature_and_raw_weights_score_alike() -> None:
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 3, 2000), rng.normal(5, 0.1, 2000)]
    y = (x[:, 0] + rng.normal(0, 1, 2000) > 1.0).astype(float)
    mean, scale = tws.standardiser(x)
    standardised = tws.fit_logistic((x - mean) / scale, y)
    raw = tws.raw_weights(standardised, mean, scale)
    assert np.allclose(tws.score_all(raw, x), ((x - mean) / scale) @ standardised[:-1] + standardised[-1])
    assert raw[0] > 1.0 and abs(raw[1]) < 0.5 * raw[0]
    # the threshold between the classes sits near x0 = 1
    assert abs(tws.score_all(raw, np.array([[1.0, 5.0]]))[0]) < 0.5
    assert np.array_equal(tws.fitted(x, y), raw)
