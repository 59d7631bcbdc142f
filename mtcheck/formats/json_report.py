"""``json``: the whole report in the documented schema; ``jsonl``: one finding per line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mtcheck.findings import Located, Report
from mtcheck.formats.base import Formatter, RenderOptions, located_findings, register


@register
class JsonFormatter(Formatter):
    name = "json"
    extension = ".json"
    media_type = "application/json"
    description = "The full report in mtcheck's JSON schema (version, documents, summary)."

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        data = json.loads(rendered)
        data["gate"] = summary
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    def render(self, report: Report, options: RenderOptions) -> str:
        return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"


@register
class JsonLinesFormatter(Formatter):
    name = "jsonl"
    extension = ".jsonl"
    media_type = "application/x-ndjson; charset=utf-8"
    description = "One JSON object per finding, with its source, for grep and streaming tools."

    def with_gate(self, rendered: str, summary: dict[str, Any], options: RenderOptions) -> str:
        return rendered + json.dumps({"gate": summary}, ensure_ascii=False) + "\n"

    per_finding = True

    def render(self, report: Report, options: RenderOptions) -> str:
        return self.render_located(list(located_findings(report)), options)

    def render_located(self, located: Sequence[Located], options: RenderOptions) -> str:
        return "".join(json.dumps({"source": where.source, **where.to_dict()}, ensure_ascii=False) + "\n" for where in located)
