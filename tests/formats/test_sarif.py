"""sarif: valid against the official SARIF 2.1.0 schema, with the fields GitHub code scanning uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from mtcheck.findings import Report
from mtcheck.formats import render
from mtcheck.rules.base import all_rules

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def sarif(report: Report, **kwargs) -> dict:
    log = json.loads(render(report, "sarif", **kwargs))
    errors = sorted(Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return log


def test_schema_is_the_official_one() -> None:
    assert SCHEMA["id"].endswith("/sarif-schema-2.1.0.json")
    Draft4Validator.check_schema(SCHEMA)


def test_schema_rejects_a_broken_log(harbour: Report) -> None:
    log = json.loads(render(harbour, "sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(list(Draft4Validator(SCHEMA).iter_errors(log))) == 2


def test_tool_and_rules(harbour: Report) -> None:
    from mtcheck import __version__

    log = sarif(harbour)
    assert log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "mtcheck" and driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    rules = {r["id"]: r for r in driver["rules"]}
    assert sorted(rules) == ["P001", "P002", "Z999"]
    registered = all_rules()["P001"]
    assert rules["P001"]["name"] == "doubled-punctuation"
    assert rules["P001"]["shortDescription"]["text"] == registered.summary
    assert rules["P001"]["fullDescription"]["text"] == registered.description()
    assert rules["P001"]["help"]["text"]
    assert rules["P001"]["defaultConfiguration"]["level"] == "warning"
    # a code the registry does not know is described from its finding
    assert rules["Z999"]["name"] == "made-up-rule"
    assert rules["Z999"]["defaultConfiguration"]["level"] == "note"


def test_results_locations_and_levels(harbour: Report, make) -> None:
    log = sarif(harbour)
    run = log["runs"][0]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["P001", "P002", "Z999"]
    assert [r["level"] for r in results] == ["warning", "error", "note"]
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    location = results[1]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "news/harbour.txt"
    start, end = make.span(make.HARBOUR, " ,")
    assert location["region"] == {
        "startLine": 2,
        "startColumn": 17,
        "endLine": 2,
        "endColumn": 19,
        "charOffset": start,
        "charLength": end - start,
        "snippet": {"text": " ,"},
    }
    assert results[1]["message"]["text"] == "Space before ','."
    assert results[2]["properties"]["score"] == 0.25


def test_fixes_replace_or_delete(harbour: Report) -> None:
    results = sarif(harbour)["runs"][0]["results"]
    deletion = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert "insertedContent" not in deletion and deletion["deletedRegion"]["charLength"] == 2
    replacement = results[1]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"] == {"text": ","}
    assert "fixes" not in results[2]


def test_fingerprints_are_stable_when_text_moves_and_distinct_for_repeats(make) -> None:
    text = "He said , yes. She said , no. He said , yes."
    findings = [make.finding(text, " ,", occurrence=i) for i in range(3)]
    moved_text = "A new first paragraph.\n\n" + text
    moved = [make.finding(moved_text, " ,", occurrence=i) for i in range(3)]

    def prints(t, fs):
        results = sarif(Report([make.document_report(t, "a.txt", fs)]))["runs"][0]["results"]
        return [r["partialFingerprints"] for r in results]

    original = prints(text, findings)
    assert original == prints(moved_text, moved)
    assert original[0] != original[1]  # different sentence
    assert original[0] != original[2]  # same sentence text, second occurrence


def test_stdin_and_absolute_paths(make, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = "A typo , here."
    inside = str(tmp_path / "sub dir" / "x.txt")
    report = Report(
        [
            make.document_report(text, "-", [make.finding(text, " ,")]),
            make.document_report(text, inside, [make.finding(text, " ,")]),
            make.document_report(text, "/elsewhere/y.txt", [make.finding(text, " ,")]),
        ]
    )
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif(report)["runs"][0]["results"]]
    assert uris == ["stdin", "sub%20dir/x.txt", "file:///elsewhere/y.txt"]


def test_crlf_and_astral_characters_count_code_points(make) -> None:
    text = "Ship 🚢 one.\r\nThe 🚢 ship sailed , away."
    log = sarif(Report([make.document_report(text, "u.txt", [make.finding(text, " ,")])]))
    assert log["runs"][0]["columnKind"] == "unicodeCodePoints"
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    # "The 🚢 ship sailed" is 17 code points (18 UTF-16 units): the comma's space is column 18.
    assert (region["startLine"], region["startColumn"], region["endColumn"]) == (2, 18, 20)
    assert text[region["charOffset"] : region["charOffset"] + region["charLength"]] == " ,"


def test_empty_report_is_valid() -> None:
    log = sarif(Report())
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


@pytest.mark.parametrize("fixture", ["markup", "multi"])
def test_hostile_and_multi_document_reports_are_valid(fixture: str, request) -> None:
    log = sarif(request.getfixturevalue(fixture))
    assert log["runs"][0]["results"]
