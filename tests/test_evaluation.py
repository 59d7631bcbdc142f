"""Metric code of mtcheck.evaluation, on small hand-made cases with hand-computed answers."""

from __future__ import annotations

import itertools
import random

import pytest
from eval_testing import err, fake_eval_dir

from mtcheck.evaluation import (
    PRF,
    Gold,
    Paired,
    auroc,
    char_prf,
    chars,
    covered_by_at_least,
    kendall_tau_b,
    mqm_gold,
    runs,
    span_prf,
    widen,
)

# A made-up MT output: one grammar error, one awkward phrase (Minor), one mistranslation.
TEXT = "Yesterday the mayor have opened a bridge of river and praised the workers loudly."


def test_runs_and_widen():
    assert runs({5, 1, 2, 3, 7}) == [(1, 4), (5, 6), (7, 8)]
    assert widen((4, 4), 10) == (3, 5)
    assert widen((0, 0), 10) == (0, 1)
    assert widen((10, 10), 10) == (9, 10)
    assert chars([(2, 4), (3, 5)]) == {2, 3, 4}


def test_mqm_gold_single_rater_with_dont_care():
    errors = [
        err(TEXT, "have opened", "Fluency/Grammar"),
        err(TEXT, "of river", "Style/Awkward", "Minor"),
        err(TEXT, "praised", "Accuracy/Mistranslation"),
        {"side": "source", "start": 0, "end": 2, "category": "Accuracy/Omission", "severity": "Major"},
    ]
    gold = mqm_gold([errors], len(TEXT))
    assert [TEXT[s:e] for s, e in gold.spans] == ["have opened", "of river"]
    assert [TEXT[s:e] for s, e in gold.dont_care_spans] == ["praised"]
    major = mqm_gold([errors], len(TEXT), major_only=True)
    assert [TEXT[s:e] for s, e in major.spans] == ["have opened"]
    assert [TEXT[s:e] for s, e in major.dont_care_spans] == ["of river", "praised"]


def test_mqm_gold_two_of_three_raters():
    a = [err(TEXT, "mayor have opened", "Fluency/Grammar")]
    b = [err(TEXT, "have opened a", "Style/Awkward", "Minor")]
    c = [err(TEXT, "have", "Accuracy/Mistranslation")]
    gold = mqm_gold([a, b, c], len(TEXT), min_raters=2)
    # only "have opened" is covered by two raters' fluency/style spans
    assert [TEXT[s:e] for s, e in gold.spans] == ["have opened"]
    # "mayor " and " a" were marked by one rater: don't-care, like the accuracy span
    assert [TEXT[s:e] for s, e in gold.dont_care_spans] == ["mayor ", " a"]
    # agreed characters take the highest severity of their raters: a's Major makes "have opened" Major
    major = mqm_gold([a, b, c], len(TEXT), min_raters=2, major_only=True)
    assert [TEXT[s:e] for s, e in major.spans] == ["have opened"]
    minor_only = [[dict(e, severity="Minor") for e in a], b, c]
    major = mqm_gold(minor_only, len(TEXT), min_raters=2, major_only=True)
    assert major.gold == set()
    assert [TEXT[s:e] for s, e in major.dont_care_spans] == ["mayor have opened a"]


def test_covered_by_at_least_counts_each_rater_once():
    # one rater marking the same characters twice is still one rater
    assert covered_by_at_least([[(0, 3), (1, 2)], [(2, 5)]], 2) == {2}


def test_char_prf_with_dont_care():
    text = "aaaa bbbb cccc dddd"
    #       0123456789012345678
    gold = Gold(gold=chars([(0, 4)]), dont_care=chars([(10, 14)]))
    # predicted: "aa" (gold), "bbbb" (false positive), "cccc" (don't care), the space at 4 (ignored)
    prf = char_prf(text, [(2, 5), (5, 9), (10, 14)], gold)
    assert (prf.tp_pred, prf.n_pred, prf.tp_gold, prf.n_gold) == (2, 6, 2, 4)
    assert prf.precision == pytest.approx(2 / 6)
    assert prf.recall == pytest.approx(0.5)
    assert prf.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_span_prf_with_dont_care():
    text = "aaaa bbbb cccc dddd eeee"
    gold = Gold(gold=chars([(0, 4), (15, 19)]), dont_care=chars([(10, 14)]))
    predicted = [
        (3, 7),  # overlaps gold "aaaa": correct
        (3, 7),  # duplicate: counted once
        (5, 9),  # "bbbb": false positive
        (11, 12),  # inside don't-care: not counted
        (20, 20),  # zero-width before "eeee": widened to " e", a false positive
    ]
    prf = span_prf(text, predicted, gold)
    assert (prf.tp_pred, prf.n_pred, prf.tp_gold, prf.n_gold) == (1, 3, 1, 2)
    assert prf.precision == pytest.approx(1 / 3)
    assert prf.recall == pytest.approx(0.5)
    assert prf.f1 == pytest.approx(0.4)


def test_prf_sums_and_empty_cases():
    total = PRF(1, 2, 3, 4) + PRF(1, 0, 0, 4)
    assert (total.precision, total.recall) == (1.0, 3 / 8)
    assert PRF().precision is None and PRF().f1 is None
    assert PRF(0, 3, 0, 2).f1 == 0.0


def test_auroc_with_ties():
    # pairs (h, l): 0.9 beats all 3; 0.5 beats 0.1, ties 0.5, loses to 0.7 → (3 + 1.5) / 6
    assert auroc([0.9, 0.5], [0.1, 0.5, 0.7]) == pytest.approx(4.5 / 6)
    assert auroc([1, 1], [1, 1, 1]) == pytest.approx(0.5)
    assert auroc([0, 0], [1]) == 0.0
    assert auroc([], [1]) is None


def test_auroc_matches_pair_counting():
    rng = random.Random(3)
    hi = [rng.choice([0, 0.25, 0.5, 1]) for _ in range(40)]
    lo = [rng.choice([0, 0.25, 0.5]) for _ in range(30)]
    pairs = [(1.0 if h > l else 0.5 if h == l else 0.0) for h in hi for l in lo]
    assert auroc(hi, lo) == pytest.approx(sum(pairs) / len(pairs))


def test_kendall_tau_b_by_hand():
    # x = 1 2 3 4, y = 1 3 2 4: 5 concordant, 1 discordant, no ties → 4/6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = 1 1 2 3, y = 1 2 2 3: pairs (0,1) tie x; (1,2) tie y; the other 4 concordant.
    # tau-b = 4 / sqrt((6 - 1) * (6 - 1)) = 0.8
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    assert kendall_tau_b([1, 1], [2, 3]) is None


def _tau_b_brute(x, y):
    c = d = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx * dy > 0:
            c += 1
        else:
            d += 1
    return (c - d) / ((c + d + tx) * (c + d + ty)) ** 0.5


def test_kendall_tau_b_matches_brute_force_with_many_ties():
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(2, 60)
        x = [rng.randint(0, 4) for _ in range(n)]
        y = [rng.randint(0, 3) + 0.5 * xi for xi in x]
        if len(set(x)) < 2 or len(set(y)) < 2:
            continue
        assert kendall_tau_b(x, y) == pytest.approx(_tau_b_brute(x, y))


def test_paired_accuracy():
    paired = Paired()
    for good, bad, group in [(0.9, 0.1, "a"), (0.5, 0.5, "a"), (0.2, 0.8, "b"), (1.0, 0.0, "b")]:
        paired.add(good, bad, group)
    assert (paired.wins, paired.ties, paired.losses) == (2, 1, 1)
    assert paired.accuracy == 0.5
    assert paired.accuracy_half_ties == pytest.approx(2.5 / 4)
    assert paired.by_group["a"].accuracy_half_ties == pytest.approx(0.75)
    assert paired.to_dict()["by_group"]["b"]["losses"] == 1


# -- the loaders and the script, end to end on a tiny made-up data folder ----------------------------
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from mtcheck import evaldata  # noqa: E402


def test_detokenize():
    assert evaldata.detokenize("We do n't know , he said . ") == "We don't know, he said."
    assert evaldata.detokenize('She wrote " good " ( twice ) .') == 'She wrote "good" (twice).'
    assert evaldata.detokenize("If he hadn 't said it .") == "If he hadn't said it."


def test_load_mlqe_unedited_keeps_only_outputs_the_post_editor_left_alone(tmp_path):
    import io
    import tarfile

    def add(tar, name, lines):
        data = ("\n".join(lines) + "\n").encode("utf-8")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(tmp_path / "post-editing.ru-en-dev.tar.gz", "w:gz") as tar:
        add(tar, "ru-en-dev/dev.mt", ["He did n't come .", "The cat sat in mat .", "Jesus answered them :"])
        add(tar, "ru-en-dev/dev.hter", ["0.000000", "0.250000", "0.000000"])
    with tarfile.open(tmp_path / "post-editing.ru-en-test.tar.gz", "w:gz") as tar:
        add(tar, "ru-en-test/test.mt", ["Not this split ."])
        add(tar, "ru-en-test/test.hter", ["0.000000"])
    rows = evaldata.load_mlqe_unedited("dev", tmp_path)
    assert rows == [("He didn't come.", "mlqe:ru-en:dev:1"), ("Jesus answered them:", "mlqe:ru-en:dev:3")]


def test_load_mqm_merges_raters(tmp_path):
    fake_eval_dir(tmp_path)
    outputs = evaldata.load_mqm(tmp_path / "holdout" / "mqm_wmt23_news_zhen.jsonl")
    assert len(outputs) == 1 and len(outputs[0].ratings) == 3 and outputs[0].penalties == [5.0, 5.0, 0.0]
    assert len(evaldata.load_jfleg(tmp_path / "dev" / "jfleg")) == 4  # identical second line skipped


def test_evaluate_script_end_to_end_without_lm(tmp_path):
    data = tmp_path / "eval"
    fake_eval_dir(data)
    out = tmp_path / "results.json"
    command = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--no-lm", "--full", "--out", str(out),
               "--markdown", str(tmp_path / "results.md")]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, MTCHECK_EVAL_DIR=str(data)),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    spans = results["dev"]["spans"]
    assert spans["outputs"] == 3
    # gold on dev: "was was" (Major) and " ," (Minor); the punctuation rule finds " ," and " ."
    assert spans["warning+"]["all"]["span"]["n_gold"] == 2
    assert spans["warning+"]["major"]["span"]["n_gold"] == 1
    # R003 on "was" and P002 on " ," hit gold; the two P002 on " ." are false positives
    assert (spans["warning+"]["all"]["span"]["tp_pred"], spans["warning+"]["all"]["span"]["n_pred"]) == (2, 4)
    # Major only: " ," becomes don't-care, so its flag no longer counts
    assert (spans["warning+"]["major"]["span"]["tp_pred"], spans["warning+"]["major"]["span"]["n_pred"]) == (1, 3)
    assert results["holdout"]["spans"]["outputs"] == 1
    assert results["holdout"]["spans"]["warning+"]["all"]["span"]["n_gold"] == 1
    sentences = results["holdout"]["sentences"]
    assert (sentences["n_good"], sentences["n_bad"], sentences["min"]) == (1, 1, None)
    assert results["dev"]["pairs"]["jfleg"]["pairs"] == 4
    assert results["dev"]["pairs"]["blimp"]["pairs"] == 2
    names = {"generaltest2022 news+ecommerce", "generaltest2022 news+ecommerce: news only",
             "generaltest2022 news+ecommerce: ecommerce only", "generaltest2022 social (stress)",
             "generaltest2022 conversation (stress)"}
    fp = results["holdout"]["fp"]
    # every clean set in both layouts: paragraphs joined, and one segment per line
    assert set(fp) == {name.replace(":", f", {layout}:") if ":" in name else f"{name}, {layout}"
                       for name in names for layout in ("paragraphs", "lines")}
    for layout in ("paragraphs", "lines"):
        assert fp[f"generaltest2022 news+ecommerce, {layout}"]["documents"] == 2
        for domain in ("news", "ecommerce"):
            part = fp[f"generaltest2022 news+ecommerce, {layout}: {domain} only"]
            assert (part["documents"], part["sentences"], part["segments"]) == (1, 2, 2)
    assert "## Span level" in (tmp_path / "results.md").read_text()
    # Bio-MQM's error-free human references, in segment order: the reference rated with an error
    # and the MT output are left out; the stray space is the one warning, listed with its text
    bio = results["dev"]["fp"]["Bio-MQM error-free human references, lines"]
    assert (bio["documents"], bio["segments"], bio["warning+"]["flags"]) == (1, 2, 1)
    assert bio["warning+ flags"][0]["excerpt"] == "The council met on Monday.\nIt approved the budget[[ .]]"


def _evaluate_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_script", ROOT / "scripts" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_clean_set_flags_are_listed_with_their_text():
    from mtcheck import Checker
    from mtcheck.config import Config

    evaluate = _evaluate_script()
    texts = ["The council met on Monday.\nIt approved the budget .", "The council met on Monday."]
    reports = Checker(Config(lm=False)).check_many([(t, str(i)) for i, t in enumerate(texts)]).documents
    listed = evaluate.warning_flags(reports, ["d1", "d2"])
    assert [(f["doc_id"], f["code"], f["severity"]) for f in listed] == [("d1", "P002", "warning")]
    assert listed[0]["excerpt"] == "The council met on Monday.\nIt approved the budget[[ .]]"
    table = evaluate.markdown({"meta": {"lm": False, "thresholds": "default", "weights": "packaged", "sample": "full",
                                        "caps": {}, "batch": 1, "seconds": 0},
                               "results": {"dev": {"fp": {"news, lines": {**evaluate.fp_counts(reports, 3),
                                                                          "warning+ flags": listed}}}},
                               "timing": {}})
    assert "| news, lines | d1 | P002 | warning | The council met on Monday. ⏎ It approved the budget[[ .]] |" in table
