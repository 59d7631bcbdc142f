"""``sarif``: SARIF 2.1.0, the static-analysis log GitHub code scanning reads.

Columns are counted in Unicode code points (``run.columnKind``), 1-based, end exclusive, as in
mtcheck's own JSON. ``partialFingerprints`` hash the rule, the flagged text and its sentence, so an
alert keeps its identity when lines are added above it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from mtcheck.findings import Located, Report, Severity
from mtcheck.formats.base import (
    Formatter,
    RenderOptions,
    RuleInfo,
    artifact_uri,
    fingerprint,
    located_findings,
    register,
    rules_of,
)

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mtcheckSpanHash/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def tool_version() -> str:
    from mtcheck import __version__

    return __version__


def information_uri() -> str:
    """The project's home page from its package metadata, else its PyPI page."""
    try:
        meta = metadata.metadata("mtcheck")
    except metadata.PackageNotFoundError:
        meta = None
    if meta is not None:
        for entry in meta.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in ("homepage", "home", "repository", "source") and url.strip():
                return url.strip()
        if meta.get("Home-page"):
            return str(meta["Home-page"])
    return "https://pypi.org/project/mtcheck/"


def region(located: Located) -> dict[str, int]:
    finding = located.finding
    return {
        "startLine": located.line,
        "startColumn": located.column,
        "endLine": located.end_line,
        "endColumn": located.end_column,
        "charOffset": finding.start,
        "charLength": finding.end - finding.start,
    }


def rule_descriptor(info: RuleInfo) -> dict[str, Any]:
    return {
        "id": info.code,
        "name": info.slug,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.description},
        "defaultConfiguration": {"level": LEVELS[info.severity]},
        "help": {"text": info.description},
        "properties": {"tags": ["mtcheck", info.family]},
    }


@register
class SarifFormatter(Formatter):
    name = "sarif"
    extension = ".sarif"
    media_type = "application/sarif+json"
    description = "SARIF 2.1.0 for GitHub code scanning and other SARIF viewers."

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        from mtcheck.gate.summary import without_segments

        data = json.loads(rendered)
        data["runs"][0].setdefault("properties", {})["mtcheckGate"] = without_segments(summary)
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    per_finding = True

    def render(self, report: Report, options: RenderOptions) -> str:
        return self.render_located(list(located_findings(report)), options)

    def render_located(self, located: Sequence[Located], options: RenderOptions) -> str:
        return json.dumps(self.log(located, options), ensure_ascii=False, indent=2) + "\n"

    def log(self, located: Sequence[Located], options: RenderOptions) -> dict[str, Any]:
        rules = rules_of((where.finding for where in located), options.rules)
        index = {info.code: i for i, info in enumerate(rules)}
        results = []
        occurrences: Counter[str] = Counter()
        source = None
        for where in located:
            if where.source != source:
                occurrences.clear()
                source = where.source
            # The same text flagged twice in one sentence still needs two distinct fingerprints.
            first = fingerprint(where)
            print_ = fingerprint(where, occurrences[first])
            occurrences[first] += 1
            results.append(self.result(where, index[where.finding.code], print_))
        return {
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "mtcheck",
                            "version": tool_version(),
                            "semanticVersion": tool_version(),
                            "informationUri": information_uri(),
                            "rules": [rule_descriptor(info) for info in rules],
                        }
                    },
                    "columnKind": "unicodeCodePoints",
                    "results": results,
                }
            ],
        }

    def result(self, located: Located, rule_index: int, print_: str) -> dict[str, Any]:
        finding = located.finding
        uri = artifact_uri(located.source)
        location_region = region(located)
        location_region["snippet"] = {"text": located.snippet}
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": rule_index,
            "level": LEVELS[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": location_region}}
            ],
            "partialFingerprints": {FINGERPRINT_KEY: print_},
        }
        if finding.score is not None:
            result["properties"] = {"score": round(finding.score, 4)}
        if finding.suggestion is not None:
            replacement: dict[str, Any] = {"deletedRegion": region(located)}
            if finding.suggestion:
                replacement["insertedContent"] = {"text": finding.suggestion}
            description = f"Replace with “{finding.suggestion}”." if finding.suggestion else "Delete it."
            result["fixes"] = [
                {
                    "description": {"text": description},
                    "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": [replacement]}],
                }
            ]
        return result
