"""json: the documented schema; jsonl: one object per finding with its source."""

from __future__ import annotations

import json

from mtcheck.findings import Report
from mtcheck.formats import render


def test_json_is_the_report_dict(harbour: Report, make) -> None:
    out = render(harbour, "json")
    assert out == json.dumps(harbour.to_dict(), ensure_ascii=False, indent=2) + "\n"
    data = json.loads(out)
    assert data["summary"]["findings"] == 3
    for item in data["documents"][0]["findings"]:
        assert make.HARBOUR[item["start"] : item["end"]] == item["text"]


def test_json_keeps_unicode_unescaped(make) -> None:
    text = "Café «crème» costs 3 €. Mind the 🚢 ship."
    report = Report([make.document_report(text, "café.txt", [make.finding(text, "🚢")])])
    out = render(report, "json")
    assert "🚢" in out and "café.txt" in out and "\\u" not in out


def test_jsonl_one_line_per_finding_with_source(multi: Report) -> None:
    lines = render(multi, "jsonl").splitlines()
    assert len(lines) == len(multi.findings) == 4
    records = [json.loads(line) for line in lines]
    assert [r["source"] for r in records] == ["news/harbour.txt"] * 3 + ["-"]
    assert records[0]["code"] == "P001" and records[0]["suggestion"] == ""
    assert set(records[0]) == {"source", *multi.documents[0].finding_dict(multi.findings[0])}


def test_jsonl_empty_report_is_empty() -> None:
    assert render(Report(), "jsonl") == ""
