"""Incremental cache of check results, so a CI gate re-checks only the documents that changed.

One JSON file per key, in a sharded folder (``<root>/ab/abcdef….json``). The key hashes:

- the model identity (the LM's weights file fingerprint, or ``no-lm``),
- the configuration that changes findings (select, ignore, severities, allowlist, thresholds file),
- mtcheck's version and the content of the modules that produce findings (so an edited rule in an
  editable install never serves stale results),
- the document's text.

Each entry stores a checksum of its payload. An entry that is not valid JSON, has another schema
or key, or fails its checksum or its shape check is counted as corrupt, ignored, and rewritten
by the fresh result. Entries are written to a temporary file and renamed into place, so a reader
never sees half an entry; they are not fsynced (a torn entry after a crash fails its checksum).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtcheck.atomic import remove_stale_temps, write_atomic
from mtcheck.findings import DocumentReport, Finding, SentenceScore, Severity

LABELS = (None, "garbled", "awkward", "fluent")
CACHE_SCHEMA = 3  # 2-3: the learned detector (fluency labels; detector weights in the model identity)
HASHED_FILE_LIMIT = 4 * 1024 * 1024
# Modules that only read, render or gate results: editing them must not invalidate the cache.
OUTPUT_SIDE = ("formats", "commands", "cli.py", "corpus.py", "gate.py", "metrics.py", "__main__.py")


@dataclass
class CheckResult:
    """What checking one document produced: findings and sentence scores, offsets into its text."""

    findings: list[Finding]
    sentences: list[SentenceScore]
    fluency: float | None = None
    fluency_label: str | None = None
    error: str | None = None  # why the check raised instead (never cached)

    @classmethod
    def from_report(cls, report: DocumentReport) -> "CheckResult":
        return cls(list(report.findings), list(report.sentences), report.fluency, report.fluency_label)

    @classmethod
    def failed(cls, error: str) -> "CheckResult":
        return cls([], [], error=error)

    def to_payload(self) -> dict[str, Any]:
        return {
            "findings": [
                [f.code, f.slug, int(f.severity), f.start, f.end, f.message, f.suggestion, f.score]
                for f in self.findings
            ],
            "sentences": [[s.start, s.end, s.fluency, s.label] for s in self.sentences],
            "fluency": self.fluency,
            "fluency_label": self.fluency_label,
        }

    @classmethod
    def from_payload(cls, payload: Any, text_length: int) -> "CheckResult":
        """Rebuild a result, raising ValueError when the payload does not have the expected shape."""
        if not isinstance(payload, dict) or set(payload) != {"findings", "sentences", "fluency", "fluency_label"}:
            raise ValueError("payload keys")
        label = payload["fluency_label"]
        if label not in LABELS:
            raise ValueError("fluency label")
        findings = []
        for item in payload["findings"]:
            code, slug, severity, start, end, message, suggestion, score = item
            if not (isinstance(code, str) and isinstance(slug, str) and isinstance(message, str)):
                raise ValueError("finding text fields")
            _check_span(start, end, text_length)
            if suggestion is not None and not isinstance(suggestion, str):
                raise ValueError("suggestion")
            findings.append(Finding(code, slug, Severity(severity), start, end, message, suggestion, _number(score)))
        sentences = []
        for start, end, fluency, sentence_label in payload["sentences"]:
            _check_span(start, end, text_length)
            if sentence_label not in LABELS:
                raise ValueError("sentence label")
            sentences.append(SentenceScore(start, end, _number(fluency), label=sentence_label))
        return cls(findings, sentences, _number(payload["fluency"]), label)


def _check_span(start: Any, end: Any, text_length: int) -> None:
    if not (type(start) is int and type(end) is int and 0 <= start <= end <= text_length):
        raise ValueError("span")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float):
        raise ValueError("number")
    return float(value)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def _file_identity(path: Path) -> str:
    size = path.stat().st_size
    if size > HASHED_FILE_LIMIT:
        from mtcheck.lm.models import fingerprint

        return f"{size}:{fingerprint(path)}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_identity() -> str:
    """Hash of mtcheck's version and of the modules and data that decide what is found."""
    from mtcheck import __version__

    package = Path(__file__).resolve().parent
    parts = [__version__]
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or relative.parts[0] in OUTPUT_SIDE or "__pycache__" in relative.parts:
            continue
        if path.suffix in (".py", ".json", ".npz", ".txt", ".safetensors"):
            parts.append(f"{relative.as_posix()}={_file_identity(path)}")
    return _digest(*parts)


def model_identity(config: Any) -> str:
    """A stable name for the LM a config would load, found without loading it.

    ``no-lm`` when the fluency rules will not run; otherwise the weights file's fingerprint (GGUF),
    the folder and its config.json hash (local model) or the model name (Hugging Face cache).
    """
    if not config.lm or not config.enabled("F"):
        return "no-lm"
    from mtcheck.lm.models import ModelNotFoundError, default_gguf_path

    try:
        if config.gguf_file is not None:
            gguf = Path(config.gguf_file).expanduser()
            if config.model is not None and not gguf.is_absolute():
                gguf = Path(config.model).expanduser() / config.gguf_file
            weights = f"gguf:{gguf.name}:{_file_identity(gguf)}"
        elif config.model is None:
            gguf = default_gguf_path()
            weights = f"gguf:{gguf.name}:{_file_identity(gguf)}"
        elif Path(config.model).expanduser().is_dir():
            folder = Path(config.model).expanduser().resolve()
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".gguf"))
            weights = f"dir:{folder}:" + ",".join(f"{p.name}={_file_identity(p)}" for p in files)
        else:
            weights = f"name:{config.model}"
    except (OSError, ModelNotFoundError):
        weights = f"unavailable:{config.model}:{config.gguf_file}"  # loading will report the problem
    thresholds = _file_identity(Path(config.thresholds)) if config.thresholds and Path(config.thresholds).is_file() else "packaged"
    detector = _file_identity(Path(config.weights)) if config.weights and Path(config.weights).is_file() else "packaged"
    return _digest(weights, f"thresholds={thresholds}", f"detector={detector}", f"device={config.device}")


def config_identity(config: Any) -> str:
    """The parts of a Config that change which findings a document gets (not fail-on or output)."""
    from mtcheck.rules.base import all_rules

    rules = [f"{code}={cls.__module__}.{cls.__qualname__}" for code, cls in all_rules().items() if config.enabled(code)]
    return _digest(
        json.dumps(
            {
                "select": list(config.select),
                "ignore": list(config.ignore),
                "severity": {code: int(level) for code, level in sorted(config.severity.items())},
                "allowlist": sorted(config.allowlist),
                "lm": bool(config.lm and config.enabled("F")),
                "rules": rules,
            },
            sort_keys=True,
        )
    )


def namespace_for(config: Any, model: str | None = None) -> str:
    """The part of every key that is shared by one run: model, config and code identities."""
    return _digest(f"schema={CACHE_SCHEMA}", model or model_identity(config), config_identity(config), code_identity())


def default_cache_dir() -> Path:
    from mtcheck.lm.models import cache_root

    return cache_root() / "results"


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    write_errors: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt, "write_errors": self.write_errors}


@dataclass
class ResultCache:
    root: Path
    namespace: str
    stats: CacheStats = field(default_factory=CacheStats)
    _folders: set[Path] = field(default_factory=set, repr=False)  # shard folders known to exist

    def key(self, text: str) -> str:
        return _digest(self.namespace, text)

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key[2:]}.json"

    def get(self, text: str) -> CheckResult | None:
        key = self.key(text)
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self.stats.misses += 1
            return None
        except OSError:
            self.stats.corrupt += 1
            return None
        try:
            entry = json.loads(raw.decode("utf-8"))
            if not isinstance(entry, dict) or entry.get("schema") != CACHE_SCHEMA or entry.get("key") != key:
                raise ValueError("schema or key")
            payload = entry.get("payload")
            if entry.get("checksum") != hashlib.sha256(_canonical(payload).encode("utf-8", "surrogatepass")).hexdigest():
                raise ValueError("checksum")
            result = CheckResult.from_payload(payload, len(text))
        except (ValueError, TypeError, UnicodeDecodeError):
            self.stats.corrupt += 1  # the fresh result will overwrite it
            return None
        self.stats.hits += 1
        return result

    def put(self, text: str, result: CheckResult) -> None:
        if result.error is not None:
            return  # a check that raised may pass next time
        key = self.key(text)
        payload = result.to_payload()
        body = _canonical(payload)
        entry = {
            "schema": CACHE_SCHEMA,
            "key": key,
            "checksum": hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
            "payload": payload,
        }
        path = self.path_for(key)
        try:
            if path.parent not in self._folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                remove_stale_temps(path.parent, ".")  # left by a run that was killed mid-write
                self._folders.add(path.parent)
            write_atomic(path, _canonical(entry).encode("utf-8", "surrogatepass"), durable=False, sweep=False)
        except OSError:
            self.stats.write_errors += 1  # a read-only or full cache only costs speed
