"""junit: one suite, one case per document, a failure per warning or error, always valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mtcheck.findings import Report, Severity
from mtcheck.formats import render


def parse(report: Report) -> ET.Element:
    return ET.fromstring(render(report, "junit").encode("utf-8"))


def test_cases_failures_and_counts(multi: Report) -> None:
    root = parse(multi)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "mtcheck"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["news/harbour.txt", "news/clean.txt", "<stdin>"]
    assert {c.get("classname") for c in cases} == {"mtcheck"}
    assert suite.get("tests") == root.get("tests") == "3"
    assert suite.get("failures") == root.get("failures") == "1"  # only harbour fails
    assert suite.get("errors") == "0" and suite.get("skipped") == "0"
    failures = cases[0].findall("failure")
    assert [f.get("type") for f in failures] == ["warning", "error"]
    assert failures[1].get("message") == "P002 space-before-punctuation: Space before ','."
    assert "news/harbour.txt:2:17" in failures[1].text and "Suggestion: replace with “,”" in failures[1].text
    assert "Z999" in cases[0].find("system-out").text  # info goes to system-out
    assert cases[1].find("failure") is None and cases[1].find("system-out") is None
    assert cases[2].find("failure") is None and "C001" in cases[2].find("system-out").text
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {"findings": "4", "failure-findings": "2"}


def test_hostile_text_stays_valid_xml(make) -> None:
    text = "Bad \x01 bytes \x1b[31m and ]]> and <script>x</script> & \ufffe end."
    findings = [
        make.finding(text, "\x01 bytes", severity=Severity.ERROR, message="ctl \x02 <b>"),
        make.finding(text, "]]> and <script>x</script>", message="cdata ]]>"),
    ]
    report = Report([make.document_report(text, "a\x03<b>.txt", findings)])
    root = parse(report)  # raises if the XML is not well-formed
    case = root.find("testsuite/testcase")
    assert case.get("name") == "a\u2403<b>.txt"
    failures = case.findall("failure")
    assert "\u2401 bytes" in failures[0].text and failures[0].get("message").endswith("ctl \u2402 <b>")
    assert "]]> and <script>x</script>" in failures[1].text


def test_empty_report() -> None:
    root = parse(Report())
    assert root.find("testsuite").get("tests") == "0"
    assert root.find("testsuite/testcase") is None
