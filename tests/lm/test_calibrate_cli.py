"""`mtcheck calibrate` end to end with the packaged model: thresholds for a user's clean text."""

import json

import pytest
from click.testing import CliRunner

from mtcheck.cli.main import main
from mtcheck.fluency.decode import Thresholds

pytestmark = pytest.mark.model

SENTENCES = [
    "The council approved the new budget on Thursday evening.",
    "Local schools will open an hour later during the winter months.",
    "The bakery on the corner has been run by the same family since 1952.",
    "Heavy rain closed two roads near the river for most of the day.",
    "The library is collecting old photographs of the town for an exhibition.",
    "Volunteers planted more than three hundred trees along the new cycle path.",
    "The mayor said the bridge repairs should be finished by the end of May.",
    "A small fire in the kitchen of a restaurant was put out within minutes.",
    "Tickets for the summer concert series go on sale next week.",
    "The hospital has hired twelve nurses to cope with the busy season.",
]


def test_calibrate_writes_thresholds_that_drive_a_check(packaged_cache, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTCHECK_CACHE", str(packaged_cache["root"]))
    clean = tmp_path / "clean.txt"
    # 60 sentences in 6 paragraphs: calibration needs at least 50
    clean.write_text("\n\n".join(" ".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(6)), encoding="utf-8")
    before = clean.read_bytes()
    out = tmp_path / "mine.json"
    result = CliRunner().invoke(main, ["calibrate", str(clean), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert clean.read_bytes() == before
    written = json.loads(out.read_text(encoding="utf-8"))
    thresholds = Thresholds.from_dict(written)
    assert written["clean_rates"]["sentences"] == 60
    assert written["clean_rates"]["warning_per_100"] <= 0.2 + 100 / 60  # at most one flag over the budget's floor
    assert 0 < thresholds.garbled <= thresholds.awkward <= 1 and thresholds.span_info <= thresholds.span_warning
    article = tmp_path / "article.txt"
    article.write_text(SENTENCES[0] + " " + SENTENCES[1], encoding="utf-8")
    checked = CliRunner().invoke(main, ["check", str(article), "--thresholds", str(out), "--format", "json"])
    assert checked.exit_code in (0, 1), checked.output
    assert json.loads(checked.stdout)["documents"][0]["fluency"] is not None


def test_calibrate_refuses_too_little_text(packaged_cache, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTCHECK_CACHE", str(packaged_cache["root"]))
    clean = tmp_path / "clean.txt"
    clean.write_text(" ".join(SENTENCES), encoding="utf-8")
    result = CliRunner().invoke(main, ["calibrate", str(clean), "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "at least 50 clean sentences" in result.output
