"""``junit``: JUnit XML for CI test-report views; each document is a test case.

A document fails when it has a warning or an error; each such finding is one ``<failure>``.
Info findings go to the case's ``<system-out>``. ``failures`` counts failing test cases, as JUnit
readers expect, and the suite's ``findings`` property carries the number of ``<failure>`` elements.
Characters XML 1.0 cannot hold (control characters) are shown as their Unicode pictures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from mtcheck.findings import DocumentReport, Finding, Report, Severity
from mtcheck.formats.base import (
    Formatter,
    RenderOptions,
    display_source,
    register,
    sorted_findings,
    suggestion_text,
    visible_controls,
)


def _describe(doc: DocumentReport, finding: Finding) -> str:
    line, column = doc.document.line_col(finding.start)
    lines = [
        f"{display_source(doc.source)}:{line}:{column}  {finding.code} {finding.slug}  {finding.severity}",
        finding.message,
        f"Text: “{doc.document.excerpt(finding.start, finding.end)}”",
    ]
    suggestion = suggestion_text(finding, doc.document)
    if suggestion is not None:
        lines.append(f"Suggestion: {suggestion}")
    return visible_controls("\n".join(lines))


@register
class JunitFormatter(Formatter):
    name = "junit"
    extension = ".xml"
    media_type = "application/xml; charset=utf-8"
    description = "JUnit XML: one test case per document, one failure per warning or error."

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        """A ``mtcheck gate`` suite with one test case, failed with the reasons when the gate failed."""
        from mtcheck.gate.summary import summary_text

        root = ET.fromstring(rendered)
        suite = ET.SubElement(root, "testsuite", name="mtcheck gate", tests="1", failures="0", errors="0", skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname="mtcheck", name="gate", time=str(summary["seconds"]))
        if not summary["passed"]:
            suite.set("failures", "1")
            failure = ET.SubElement(case, "failure", message=visible_controls("; ".join(summary["reasons"])), type="gate")
            failure.text = visible_controls(summary_text(summary))
        else:
            ET.SubElement(case, "system-out").text = visible_controls(summary_text(summary))
        root.set("tests", str(int(root.get("tests", "0")) + 1))
        root.set("failures", str(int(root.get("failures", "0")) + (0 if summary["passed"] else 1)))
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def render(self, report: Report, options: RenderOptions) -> str:
        root = ET.Element("testsuites", name="mtcheck")
        suite = ET.SubElement(root, "testsuite", name="mtcheck")
        failed_cases = 0
        failure_count = 0
        for doc in report.documents:
            case = ET.SubElement(
                suite, "testcase", classname="mtcheck", name=visible_controls(display_source(doc.source)), time="0"
            )
            notes = []
            failures = [f for f in sorted_findings(doc) if f.severity >= Severity.WARNING]
            for finding in failures:
                element = ET.SubElement(
                    case,
                    "failure",
                    message=visible_controls(f"{finding.code} {finding.slug}: {finding.message}"),
                    type=str(finding.severity),
                )
                element.text = _describe(doc, finding)
            for finding in sorted_findings(doc):
                if finding.severity < Severity.WARNING:
                    notes.append(_describe(doc, finding))
            if notes:
                ET.SubElement(case, "system-out").text = "\n\n".join(notes)
            failed_cases += bool(failures)
            failure_count += len(failures)
        counts = {
            "tests": str(len(report.documents)),
            "failures": str(failed_cases),
            "errors": "0",
            "skipped": "0",
            "time": "0",
        }
        root.attrib.update({k: counts[k] for k in ("tests", "failures", "errors", "time")})
        suite.attrib.update(counts)
        properties = ET.Element("properties")
        ET.SubElement(properties, "property", name="findings", value=str(len(report.findings)))
        ET.SubElement(properties, "property", name="failure-findings", value=str(failure_count))
        suite.insert(0, properties)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
