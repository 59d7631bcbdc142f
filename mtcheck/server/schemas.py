"""Request and response schemas of the HTTP service (mtcheck.server.app): what the OpenAPI description shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SOURCE_CHARS = 1_000


def _no_lone_surrogates(value: str, field_name: str) -> str:
    # JSON may carry "\ud800" escapes; such text cannot be encoded back into a UTF-8 response.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field_name} contains an unpaired UTF-16 surrogate (not valid Unicode text)") from None
    return value


class CheckOptions(BaseModel):
    """Per-request options; they never change the server's configuration for other requests."""

    model_config = ConfigDict(strict=True, extra="forbid")

    select: list[str] | None = Field(
        default=None,
        description="Rule codes or prefixes to run (e.g. ['Q', 'R001']); replaces the server's selection. "
        "Empty or absent: the server's selection.",
    )
    ignore: list[str] | None = Field(
        default=None,
        description="Rule codes or prefixes to skip, on top of those the server ignores.",
    )
    lm: bool | None = Field(
        default=None,
        description="Use the language model (fluency rules). Absent: the server's default. "
        "true on a server started without the model is an error (422).",
    )

    @field_validator("select", "ignore")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from mtcheck.config import ConfigError, validate_codes

        try:
            return list(validate_codes([raw.strip().upper() for raw in value], "the request"))
        except ConfigError as exc:
            raise ValueError(str(exc).replace("`mtcheck rules`", "GET /v1/rules")) from None


class CheckRequest(BaseModel):
    """One text to check."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"text": "The talks ended. . Then they left.", "source": "talks.txt"}]},
    )

    text: str = Field(description="The article, as plain text. Offsets in the answer are code-point indices into it.")
    source: str = Field(default="-", max_length=MAX_SOURCE_CHARS, description="A name for the text (a file name).")
    options: CheckOptions = Field(default_factory=CheckOptions)

    @field_validator("text", "source")
    @classmethod
    def _valid_unicode(cls, value: str, info: Any) -> str:
        return _no_lone_surrogates(value, info.field_name)


class FindingOut(BaseModel):
    code: str
    slug: str
    severity: Literal["info", "warning", "error"]
    start: int = Field(description="Code-point offset into the text (Python string index).")
    end: int
    line: int
    column: int
    end_line: int
    end_column: int
    text: str = Field(description="Always equal to text[start:end].")
    message: str
    suggestion: str | None = Field(description="Replacement for the span; '' means delete it.")
    score: float | None


class SentenceOut(BaseModel):
    start: int
    end: int
    fluency: float | None
    label: str | None = Field(default=None, description="garbled, awkward or fluent (null without the language model).")


class DocumentOut(BaseModel):
    source: str
    findings: list[FindingOut]
    sentences: list[SentenceOut]
    fluency: float | None
    fluency_label: str | None = Field(default=None, description="garbled, awkward or fluent (null without the language model).")


class SummaryOut(BaseModel):
    documents: int
    sentences: int
    findings: int
    by_severity: dict[str, int]
    by_code: dict[str, int]


class ReportOut(BaseModel):
    """The schema of ``mtcheck check --format json`` (``Report.to_dict()``)."""

    version: int
    documents: list[DocumentOut]
    summary: SummaryOut


class RuleOut(BaseModel):
    code: str
    slug: str
    severity: Literal["info", "warning", "error"]
    family: str
    summary: str
    description: str
    uses_lm: bool = Field(description="Produced by the language model (needs lm).")


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    model_loaded: bool
    model: str | None = Field(description="The loaded model's identity, when one is loaded.")
    lm_default: bool = Field(description="Whether a request without options.lm uses the model.")
    max_body_bytes: int


class ErrorOut(BaseModel):
    error: str = Field(description="A stable error code: invalid_request, payload_too_large, not_found, …")
    message: str = Field(description="What went wrong, for a person.")
    details: list[dict[str, Any]] = Field(default_factory=list)
